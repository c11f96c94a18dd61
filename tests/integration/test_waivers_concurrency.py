"""One waiver in force per rule, under real parallel requests (issue 9.1).

Ten simultaneous ``POST …/waivers`` for one rule through a live threaded server: exactly one
is granted, the others get a clean 409 (never a 500); revoking the one makes the rule block
again at once.  Runs on SQLite and, with ``TEST_DATABASE_URL``, on PostgreSQL (where the
grants' transactions really overlap and the partial unique index decides).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from livekit import Answer, Browser, live, parallel
from test_waivers_api import PUBLIC_OPERATION, RULE, V, _version, as_approver, gate, waive

from lifecycle.core.extensions import db
from lifecycle.gates.models import Waiver

PARALLEL = 10


@pytest.fixture
def blocked(client, clock):
    """The version in development, its testing gate blocked by :data:`RULE` only."""
    _version(client, PUBLIC_OPERATION)
    assert [f["rule"] for f in gate(client)["blocking"]] == [RULE]
    return client


def test_parallel_grants_leave_one_waiver_and_revoking_it_blocks_again(app, blocked, clock):
    header = as_approver(blocked)
    body = {"rule": RULE, "reason": "Public health check", "days": 10}
    with live(app) as base:
        answers = parallel([lambda: Browser(base).request("POST", V + "/waivers",
                                                          json_body=body, headers=header)
                            for _ in range(PARALLEL)])
    statuses = sorted(a.status if isinstance(a, Answer) else repr(a) for a in answers)
    assert statuses == [201] + [409] * (PARALLEL - 1), answers
    refused = [a for a in answers if isinstance(a, Answer) and a.status == 409]
    assert all(a.json()["error"] == "conflict" for a in refused)
    with app.app_context():
        open_ = db.session.execute(sa.select(Waiver).where(Waiver.ended_at.is_(None))).scalars()
        (waiver,) = list(open_)
    assert gate(blocked)["passed"] is True
    revoked = blocked.post(f"{V}/waivers/{waiver.id}/revoke", json={}, headers=as_approver(blocked))
    assert revoked.status_code == 200
    assert gate(blocked)["passed"] is False
    assert blocked.post(V + "/transitions", json={"to": "testing"}).status_code == 409


def test_an_expired_waiver_does_not_block_a_new_grant(blocked, clock):
    first = waive(blocked, days=2)
    assert first.status_code == 201
    clock.now += timedelta(days=3)
    again = waive(blocked, days=2)
    assert again.status_code == 201, again.get_data(as_text=True)
    assert gate(blocked)["passed"] is True
    assert waive(blocked, days=2).status_code == 409
    statuses = {w["id"]: w["status"] for w in blocked.get(V + "/waivers").get_json()["waivers"]}
    assert statuses == {first.get_json()["id"]: "expired", again.get_json()["id"]: "active"}

"""Two simultaneous final approvals of one request end in exactly one transition
(PostgreSQL).

SQLite serialises writers and would hide the race, so this runs only on PostgreSQL
(``TEST_DATABASE_URL``).  To make the race certain, a third connection holds the request's
row lock while both approvals run: each has read the pending request and waits on the lock
(the approval's foreign key check); when it is released both try to claim the request with
``UPDATE … WHERE state = 'pending'`` and exactly one may win.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from actorkit import as_actor
from approvalkit import deployment_ready
from concurrencykit import race_behind_lock

from lifecycle.catalog import services
from lifecycle.catalog.models import Transition
from lifecycle.core import errors
from lifecycle.core.extensions import db
from lifecycle.review import approvals
from lifecycle.review.models import Approval, PromotionRequest


@pytest.mark.postgres
def test_two_simultaneous_approvals_make_exactly_one_transition(postgres, client):
    app = postgres
    now = datetime.now(UTC).replace(microsecond=0)
    app.config["CLOCK"] = lambda: now
    deployment_ready(client, int(now.timestamp()))
    with app.app_context():
        request_id = approvals.request_promotion("orders", "1.0.0", "deployment", "Go",
                                                 actor=as_actor("alice@stagegate.test")).id

    results: list[object] = []

    def approve(actor: str) -> None:
        with app.app_context():
            try:
                _, record = approvals.approve("orders", "1.0.0", request_id, as_actor(actor), "ok")
                results.append("promoted" if record is not None else "approved only")
            except errors.Conflict:
                results.append("conflict")
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                results.append(exc)

    threads = [threading.Thread(target=approve, args=(f"approver-{i}@stagegate.test",))
               for i in (1, 2)]
    race_behind_lock(app, threads, results,
                     lock="SELECT id FROM promotion_request WHERE id = %s FOR UPDATE",
                     params=(request_id,), stuck="the two approvals never reached the lock",
                     join_seconds=30)

    assert sorted(map(str, results)) == ["conflict", "promoted"]
    with app.app_context():
        moves = db.session.execute(
            sa.select(Transition).where(Transition.to_stage == "deployment")).scalars().all()
        assert len(moves) == 1
        assert services.get_version("orders", "1.0.0").stage == "deployment"
        req = db.session.get(PromotionRequest, request_id)
        assert (req.state, req.transition_id) == ("approved", moves[0].id)
        # the losing approval rolled back entirely
        (kept,) = db.session.execute(sa.select(Approval)).scalars().all()
        assert kept.approver == moves[0].actor

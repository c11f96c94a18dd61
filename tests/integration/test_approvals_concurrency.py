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
import time
from datetime import UTC, datetime

import psycopg
import pytest
import sqlalchemy as sa
from approvalkit import deployment_ready

from lifecycle import approvals, services
from lifecycle.extensions import db
from lifecycle.models import Approval, PromotionRequest, Transition


def _libpq(app) -> str:
    url = sa.make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _waiting_on_locks(conn: psycopg.Connection) -> int:
    row = conn.execute(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    ).fetchone()
    return int(row[0])


@pytest.mark.postgres
def test_two_simultaneous_approvals_make_exactly_one_transition(postgres, client):
    app = postgres
    now = datetime.now(UTC).replace(microsecond=0)
    app.config["CLOCK"] = lambda: now
    deployment_ready(client, int(now.timestamp()))
    with app.app_context():
        request_id = approvals.request_promotion("orders", "1.0.0", "deployment", "Go",
                                                 actor="alice@stagegate.test").id

    results: list[object] = []

    def approve(actor: str) -> None:
        with app.app_context():
            try:
                _, record = approvals.approve("orders", "1.0.0", request_id, actor, "ok")
                results.append("promoted" if record is not None else "approved only")
            except services.Conflict:
                results.append("conflict")
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                results.append(exc)

    with psycopg.connect(_libpq(app)) as blocker, \
            psycopg.connect(_libpq(app), autocommit=True) as observer:
        blocker.execute("SELECT id FROM promotion_request WHERE id = %s FOR UPDATE",
                        (request_id,))
        threads = [threading.Thread(target=approve, args=(f"approver-{i}@stagegate.test",))
                   for i in (1, 2)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 20
        while _waiting_on_locks(observer) < 2:
            assert time.monotonic() < deadline, "the two approvals never reached the lock"
            assert all(t.is_alive() for t in threads), results
            time.sleep(0.02)
        blocker.rollback()
        for t in threads:
            t.join(timeout=30)

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

"""Two simultaneous promotions of one version end in exactly one transition (PostgreSQL).

SQLite serialises writers and would hide the race, so this runs only on PostgreSQL
(``TEST_DATABASE_URL``).  To make the race certain rather than likely, a third connection
holds the version's row lock while both requests run: each reads ``stage = design``, passes
the gate and then waits on the lock.  When the lock is released both try their conditional
``UPDATE``; exactly one may win.
"""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
import sqlalchemy as sa

from lifecycle import services
from lifecycle.extensions import db
from lifecycle.models import ApiVersion, CheckRun, Transition


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
def test_two_simultaneous_promotions_make_exactly_one_transition(postgres, demo_spec):
    app = postgres
    with app.app_context():
        services.create_api("payments", "Payments API")
        services.create_version("payments", "1.0.0")
        services.upload_spec("payments", "1.0.0", demo_spec("payments.yaml"))
        version_id = services.get_version("payments", "1.0.0").id

    results: list[object] = []

    def promote(actor: str) -> None:
        with app.app_context():
            try:
                services.transition("payments", "1.0.0", "development", actor=actor)
                results.append("promoted")
            except services.Conflict:
                results.append("conflict")
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                results.append(exc)

    with psycopg.connect(_libpq(app)) as blocker, \
            psycopg.connect(_libpq(app), autocommit=True) as observer:
        blocker.execute("SELECT id FROM api_version WHERE id = %s FOR UPDATE", (version_id,))
        threads = [threading.Thread(target=promote, args=(f"user-{i}",)) for i in (1, 2)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 20
        while _waiting_on_locks(observer) < 2:
            assert time.monotonic() < deadline, "the two promotions never reached the lock"
            assert all(t.is_alive() for t in threads), results
            time.sleep(0.02)
        blocker.rollback()
        for t in threads:
            t.join(timeout=20)

    assert sorted(map(str, results)) == ["conflict", "promoted"]
    with app.app_context():
        transitions = db.session.execute(sa.select(Transition)).scalars().all()
        assert [(t.from_stage, t.to_stage) for t in transitions] == [("design", "development")]
        assert db.session.get(ApiVersion, version_id).stage == "development"
        # The losing request rolled back entirely: one check run, the winner's.
        runs = db.session.execute(sa.select(CheckRun)).scalars().all()
        assert [r.id for r in runs] == [transitions[0].check_run_id]

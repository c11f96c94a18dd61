"""Two simultaneous promotions of one version end in exactly one transition (PostgreSQL).

SQLite serialises writers and would hide the race, so this runs only on PostgreSQL
(``TEST_DATABASE_URL``).  To make the race certain rather than likely, a third connection
holds the version's row lock while both requests run: each reads ``stage = design``, passes
the gate and then waits on the lock.  When the lock is released both try their conditional
``UPDATE``; exactly one may win.
"""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from actorkit import TESTER, as_actor
from concurrencykit import race_behind_lock

from lifecycle.catalog import services
from lifecycle.catalog.models import ApiVersion, CheckRun, Transition
from lifecycle.core import errors
from lifecycle.core.extensions import db
from lifecycle.gates import moves


@pytest.mark.postgres
def test_two_simultaneous_promotions_make_exactly_one_transition(postgres, demo_spec):
    app = postgres
    with app.app_context():
        services.create_api("payments", "Payments API", actor=TESTER)
        services.create_version("payments", "1.0.0", actor=TESTER)
        services.upload_spec("payments", "1.0.0", demo_spec("payments.yaml"), uploader=TESTER)
        version_id = services.get_version("payments", "1.0.0").id

    results: list[object] = []

    def promote(actor: str) -> None:
        with app.app_context():
            try:
                moves.transition("payments", "1.0.0", "development", actor=as_actor(actor))
                results.append("promoted")
            except errors.Conflict:
                results.append("conflict")
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                results.append(exc)

    threads = [threading.Thread(target=promote, args=(f"user-{i}",)) for i in (1, 2)]
    race_behind_lock(app, threads, results,
                     lock="SELECT id FROM api_version WHERE id = %s FOR UPDATE",
                     params=(version_id,), stuck="the two promotions never reached the lock")

    assert sorted(map(str, results)) == ["conflict", "promoted"]
    with app.app_context():
        transitions = db.session.execute(sa.select(Transition)).scalars().all()
        assert [(t.from_stage, t.to_stage) for t in transitions] == [("design", "development")]
        assert db.session.get(ApiVersion, version_id).stage == "development"
        # The losing request rolled back entirely: one check run, the winner's.
        runs = db.session.execute(sa.select(CheckRun)).scalars().all()
        assert [r.id for r in runs] == [transitions[0].check_run_id]

"""Concurrent writers never fork the audit chain (PostgreSQL).

SQLite serialises writers and would hide the race, so these run only on PostgreSQL
(``TEST_DATABASE_URL``).  To make the race certain, a third connection holds the chain head's
row lock while two actions run: both do their work, reach the append, and wait on the lock.
When it is released they append one after the other; without the lock both would have read
the same head and written two entries claiming the same predecessor.
"""

from __future__ import annotations

import threading

import pytest
from actorkit import TESTER, as_actor
from concurrencykit import outcome, race_behind_lock

from lifecycle import audit
from lifecycle.catalog import services


def _assert_one_chain(app, expected_entries: int) -> list[dict]:
    with app.app_context():
        result = audit.verify()
        entries = list(audit.iter_entries())
    assert result.ok, result.problem
    assert [e["seq"] for e in entries] == list(range(1, expected_entries + 1))
    assert len({e["prev_hash"] for e in entries}) == len(entries)  # no two share a parent
    return entries


@pytest.mark.postgres
def test_two_actions_waiting_on_the_chain_head_append_one_after_the_other(postgres):
    app = postgres
    with app.app_context():
        services.create_api("payments", "Payments API",
                            actor=TESTER)  # entry 1: the head row exists

    results: list[object] = []
    threads = [threading.Thread(target=outcome, args=(
        app, lambda v=v: services.create_version("payments", v,
                                                 actor=as_actor(f"user-{v}")), results))
        for v in ("1.0.0", "2.0.0")]
    race_behind_lock(app, threads, results,
                     lock="SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE",
                     stuck="the two actions never reached the head lock")

    assert results == ["ok", "ok"]
    entries = _assert_one_chain(app, 3)
    assert sorted(e["subject"] for e in entries[1:]) == ["payments@1.0.0", "payments@2.0.0"]


@pytest.mark.postgres
def test_many_simultaneous_actions_keep_one_intact_chain(postgres):
    app = postgres
    with app.app_context():
        services.create_api("payments", "Payments API", actor=TESTER)

    results: list[object] = []
    start = threading.Barrier(6)

    def versions(worker: int) -> None:
        start.wait(timeout=20)
        for i in range(5):
            services.create_version("payments", f"{worker}.{i}.0", actor=as_actor(f"user-{worker}"))

    threads = [threading.Thread(target=outcome, args=(app, lambda w=w: versions(w), results))
               for w in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert results == ["ok"] * 6
    _assert_one_chain(app, 1 + 6 * 5)

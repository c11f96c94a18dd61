"""Making a race certain on PostgreSQL: a third connection holds a row lock while the
racing threads run, and is released only once every thread is waiting on a lock.

Imported like the other kits (``from concurrencykit import race_behind_lock``); nothing here
is a fixture.  For tests marked ``postgres`` (the app from the ``postgres`` fixture).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

import psycopg
import sqlalchemy as sa
from flask import Flask

#: seconds the threads get to reach the held lock
REACH_LOCK_SECONDS = 20


def libpq(app: Flask) -> str:
    """A libpq connection URI (what :func:`psycopg.connect` takes) for ``app``'s database."""
    url = sa.make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def waiting_on_locks(conn: psycopg.Connection) -> int:
    """How many sessions of the current database wait on a lock now."""
    row = conn.execute(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    ).fetchone()
    return int(row[0])


def outcome(app: Flask, work: Callable[[], object], results: list[object]) -> None:
    """Run ``work`` in an app context; append ``"ok"``, or the exception it raised."""
    with app.app_context():
        try:
            work()
            results.append("ok")
        except Exception as exc:  # noqa: BLE001 - reported by the caller's assertion
            results.append(exc)


def race_behind_lock(app: Flask, threads: Sequence[threading.Thread], results: list[object],
                     *, lock: str, params: Sequence[object] | None = None, stuck: str,
                     join_seconds: float = 20) -> None:
    """Hold a row lock (``lock`` with ``params``, a ``SELECT … FOR UPDATE``) on one
    connection, start ``threads``, wait until that many sessions wait on locks, release the
    lock and join the threads (``join_seconds`` each).

    :param results: what the threads report; shown when one of them ends early.
    :param stuck: the failure message when the threads do not all reach the lock within
        :data:`REACH_LOCK_SECONDS`.
    :raises AssertionError: a thread ended before the release, or ``stuck``.
    """
    with psycopg.connect(libpq(app)) as blocker, \
            psycopg.connect(libpq(app), autocommit=True) as observer:
        blocker.execute(lock, params)
        for t in threads:
            t.start()
        deadline = time.monotonic() + REACH_LOCK_SECONDS
        while waiting_on_locks(observer) < len(threads):
            assert time.monotonic() < deadline, stuck
            assert all(t.is_alive() for t in threads), results
            time.sleep(0.02)
        blocker.rollback()
        for t in threads:
            t.join(timeout=join_seconds)

"""The validator's database-backed replay store and decision sink.

* :class:`DbReplayStore` — a :class:`~lifecycle.gateway.validator.ReplayStore` in the table
  ``gateway_replay`` shared by every validator process: one ``INSERT … ON CONFLICT (key)
  DO UPDATE … WHERE expires_at <= now RETURNING key`` per first use (atomic on PostgreSQL
  and SQLite ≥ 3.35: a row is written — and returned — only when the id is new or its mark
  has expired).  Expired marks are purged at most once a minute per process.
* :class:`DbDecisionSink` — a :class:`~lifecycle.gateway.validator.DecisionSink` writing
  :class:`~lifecycle.gateway.models.DecisionEvent` rows, either batched by a background
  flusher thread (default: the request only appends to a bounded queue; one multi-row
  INSERT per batch) or one INSERT per decision in the request (``batch=False``).
  ``docs/benchmark.md`` has the measurement behind the default.

Neither ever sees the token: decisions carry the token's fingerprint and the hashed
``jti``; replay marks are :func:`policies.tokens.replay_key` values.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from lifecycle.gateway.validator import GatewayDecision
from lifecycle.gateway.validator_models import (
    MAX_KID,
    MAX_RULE,
    MAX_TEXT,
    DecisionEvent,
    ReplayMark,
)

__all__ = ["DbDecisionSink", "DbReplayStore", "SinkOverflow", "decision_row"]

log = logging.getLogger("stagegate.gateway.stores")

#: seconds between purges of expired replay marks (per process)
PURGE_INTERVAL = 60.0


class DbReplayStore:
    """Single-use token ids in the database (see the module docstring).

    :param engine: the Stagegate database's engine (PostgreSQL or SQLite).
    :param clock: now, Unix seconds (the validator's clock).
    :raises ValueError: for a database other than PostgreSQL or SQLite.
    """

    def __init__(self, engine: sa.Engine, clock: Callable[[], float] = time.time) -> None:
        dialect = engine.dialect.name
        if dialect == "postgresql":
            self._insert: Any = postgresql.insert
        elif dialect == "sqlite":
            self._insert = sqlite.insert
        else:
            raise ValueError(f"the replay store needs PostgreSQL or SQLite, not {dialect}")
        self._engine = engine
        self._clock = clock
        self._purged = 0.0
        self._table = ReplayMark.__table__

    def first_use(self, key: str, expires_at: int) -> bool:
        """Remember ``key`` until ``expires_at`` (Unix seconds; at least one second from
        now, so a racing second use is refused even for an expiring token).

        :returns: ``True`` only for the first use of ``key`` while its mark lives.
        :raises sqlalchemy.exc.SQLAlchemyError: the database is unreachable (the validator
            denies).
        """
        now = int(self._clock())
        table = self._table
        stmt = self._insert(table).values(key=key, expires_at=max(int(expires_at), now + 1))
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.key], set_={"expires_at": stmt.excluded.expires_at},
            where=table.c.expires_at <= now).returning(table.c.key)
        with self._engine.begin() as conn:
            written = conn.execute(stmt).first() is not None
        if now - self._purged >= PURGE_INTERVAL:
            self._purged = now
            self.purge(now)
        return written

    def purge(self, now: int | None = None) -> int:
        """Delete the marks expired by ``now`` (default the clock).

        :returns: how many were deleted.
        """
        moment = int(self._clock()) if now is None else now
        with self._engine.begin() as conn:
            deleted = conn.execute(sa.delete(self._table)
                                   .where(self._table.c.expires_at < moment)).rowcount
        return int(deleted or 0)


class SinkOverflow(RuntimeError):
    """The decision queue is full (the database has not accepted writes for a while): the
    validator denies until it drains (fail closed)."""


def _text(value: str | None, limit: int) -> str | None:
    """``value`` as text any database stores: NUL and unpaired surrogates replaced, cut to
    ``limit`` characters."""
    if value is None:
        return None
    cleaned = value.replace("\x00", "\ufffd")
    cleaned = cleaned.encode("utf-8", "replace").decode("utf-8")
    return cleaned[:limit]


def decision_row(decision: GatewayDecision) -> dict[str, Any]:
    """The ``gateway_decision`` row of ``decision`` (texts made storable and cut to their
    columns)."""
    return {
        "at": decision.at, "version": _text(decision.version, MAX_TEXT) or "",
        "allowed": bool(decision.allowed), "rule_id": _text(decision.rule_id, MAX_RULE),
        "fingerprint": _text(decision.fingerprint, 16), "jti_hash": _text(decision.jti_hash, 64),
        "sub": _text(decision.sub, MAX_TEXT), "client_id": _text(decision.client_id, MAX_TEXT),
        "kid": _text(decision.kid, MAX_KID), "iat": decision.iat, "exp": decision.exp,
        "client_address": _text(decision.client_address, MAX_TEXT),
    }


class DbDecisionSink:
    """Decision events in ``gateway_decision`` (see the module docstring).

    :param engine: the Stagegate database's engine.
    :param batch: ``True``: :meth:`record` queues and a daemon thread writes every
        ``interval`` seconds or ``max_batch`` rows, whichever comes first; ``False``: one
        INSERT per :meth:`record`, in the caller's thread.
    :param interval: seconds between flushes (batched).
    :param max_batch: rows per INSERT (batched).
    :param max_pending: queued rows at most; beyond, :meth:`record` raises
        :class:`SinkOverflow` (the validator then denies: no unrecorded allow).

    Call :meth:`close` at shutdown (gunicorn's ``worker_exit``) to write what is queued;
    :meth:`flush` writes it now.  A batch the database refuses because of its connection is
    kept and retried; a row it refuses for its content is written alone or dropped (its
    count logged — never its values).
    """

    def __init__(self, engine: sa.Engine, *, batch: bool = True, interval: float = 0.2,
                 max_batch: int = 500, max_pending: int = 50_000) -> None:
        self._engine = engine
        self._batch = batch
        self._interval = max(0.01, float(interval))
        self._max_batch = max(1, int(max_batch))
        self._max_pending = max(1, int(max_pending))
        self._insert = sa.insert(DecisionEvent.__table__)
        self._pending: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self._write_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._owner = 0
        self._closed = False
        self.written = 0
        self.dropped = 0

    def record(self, decision: GatewayDecision) -> None:
        """Queue (batched) or write (unbatched) one decision.

        :raises SinkOverflow: the queue is full.
        :raises sqlalchemy.exc.SQLAlchemyError: unbatched, the INSERT failed.
        """
        row = decision_row(decision)
        if not self._batch:
            with self._engine.begin() as conn:
                conn.execute(self._insert, [row])
            self.written += 1
            return
        with self._cond:
            if len(self._pending) >= self._max_pending:
                raise SinkOverflow("decision queue full")
            self._pending.append(row)
            self._ensure_thread()
            if len(self._pending) >= self._max_batch:
                self._cond.notify()

    def flush(self) -> None:
        """Write every queued decision now (in the caller's thread).

        :raises sqlalchemy.exc.SQLAlchemyError: the database refused the connection; the
            rows stay queued.
        """
        with self._cond:
            rows, self._pending = self._pending, []
        self._write(rows)

    def close(self) -> None:
        """Stop the flusher and write what is queued (best effort: errors are logged)."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        thread = self._thread
        if thread is not None and thread.is_alive() and self._owner == os.getpid():
            thread.join(timeout=10)
        try:
            self.flush()
        except Exception as exc:  # noqa: BLE001 - shutting down: log the type only
            log.error("decisions not written at shutdown (%s)", type(exc).__name__)

    # ------------------------------------------------------------------ internals
    def _ensure_thread(self) -> None:
        """Start the flusher in this process (after a fork the parent's thread is gone)."""
        if self._thread is not None and self._owner == os.getpid() and self._thread.is_alive():
            return
        self._owner = os.getpid()
        self._thread = threading.Thread(target=self._run, name="stagegate-decisions",
                                        daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                if len(self._pending) < self._max_batch and not self._closed:
                    self._cond.wait(self._interval)  # until a batch is full or time is up
                if self._closed:
                    return
                rows = self._pending[:self._max_batch]
                del self._pending[:self._max_batch]
            if not rows:
                continue
            try:
                self._write(rows)
            except Exception as exc:  # noqa: BLE001 - the rows are queued again: retry
                log.error("decisions not written (%s); retrying", type(exc).__name__)
                time.sleep(self._interval)

    def _write(self, rows: list[dict[str, Any]]) -> None:
        """Write ``rows``; on a connection failure put the unwritten ones back in front of
        the queue and raise."""
        if not rows:
            return
        with self._write_lock:
            try:
                with self._engine.begin() as conn:
                    conn.execute(self._insert, rows)
                self.written += len(rows)
                return
            except (sa.exc.OperationalError, sa.exc.InterfaceError):
                self._requeue(rows)
                raise
            except sa.exc.SQLAlchemyError as exc:
                log.error("a batch of %d decisions was refused (%s); writing them one by one",
                          len(rows), type(exc).__name__)
            for index, row in enumerate(rows):
                try:
                    with self._engine.begin() as conn:
                        conn.execute(self._insert, [row])
                    self.written += 1
                except (sa.exc.OperationalError, sa.exc.InterfaceError):
                    self._requeue(rows[index:])
                    raise
                except sa.exc.SQLAlchemyError as exc:
                    self.dropped += 1
                    log.error("a decision was refused by the database (%s); dropped",
                              type(exc).__name__)

    def _requeue(self, rows: list[dict[str, Any]]) -> None:
        with self._cond:
            self._pending[:0] = rows
            del self._pending[self._max_pending:]

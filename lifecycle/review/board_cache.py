"""The board's read cache: one page of cards and the counts per stage, kept per process and
keyed by a database-wide **board generation**, so a board view costs one small query while
nothing it shows has changed.

What the board shows comes from five tables (:data:`BOARD_TABLES`: APIs, versions, teams,
the stored summaries and promotion requests).  A session hook notes every flush or ORM
statement that writes one of them, and just before such a transaction commits it increments
the generation (one row, :class:`BoardGeneration`) **in the same transaction**.  A reader
reads the generation first and the cards second, so:

- the new rows and the new generation become visible together: no reader can see the new
  generation with the old rows, and a page stored under the old generation is never served
  once the new one is committed;
- every process (gunicorn workers, ``stagegate worker``, the CLI) increments the same row, so
  a change made by any of them is seen by all at their next view.

The increment is the last write of its transaction (after the summaries are refreshed), so
the row lock it takes on PostgreSQL is held only through the commit and never waited on
while holding another lock (no deadlock; on SQLite the transaction already holds the
database's write lock).  What escapes the generation — rows written outside the ORM, e.g.
by hand in ``psql`` — is bounded in time: an entry is served for at most
``BOARD_CACHE_SECONDS`` (default :data:`DEFAULT_SECONDS`) of the request clock, which also
bounds how late the clock-driven "expiring" attention of a card can flip.  ``0`` turns the
cache off.  Entries are kept per app (``app.extensions``), at most :data:`MAX_ENTRIES` (least
recently used dropped; :class:`lifecycle.core.lru.LruCache`).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import current_app
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, mapped_column

from lifecycle.core.extensions import db
from lifecycle.core.lru import LruCache

#: tables whose rows the board shows (a write to one of them changes the generation)
BOARD_TABLES = frozenset({"api", "api_version", "team", "version_summary",
                          "promotion_request"})
#: default of ``BOARD_CACHE_SECONDS``: the longest an entry is served (request clock)
DEFAULT_SECONDS = 30
#: entries kept per app
MAX_ENTRIES = 256
#: session.info key: this transaction wrote a board table
_CHANGED = "stagegate.board.changed"
_EXTENSION = "stagegate.board_cache"

T = TypeVar("T")


class BoardGeneration(db.Model):  # type: ignore[name-defined,misc]
    """One row (``id`` 1): how many committed transactions have changed what the board
    shows.  Absent (a wiped database) means "unknown": the board reads without the cache
    until the next change inserts it again."""

    __tablename__ = "board_generation"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    value: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)


@dataclass(slots=True)
class _Entry:
    generation: int
    computed_at: datetime
    value: Any


def generation() -> int | None:
    """The current board generation (one primary-key read), ``None`` when the row is
    absent."""
    value = db.session.execute(
        sa.select(BoardGeneration.value).where(BoardGeneration.id == 1)).scalar()
    return None if value is None else int(value)


def cached(key: Hashable, now: datetime, compute: Callable[[], T]) -> T:
    """``compute()``, or the value stored for ``key`` at the current generation when it was
    computed less than ``BOARD_CACHE_SECONDS`` before ``now`` (either direction: a test
    clock may move back).

    :param key: what the value depends on besides the generation and the clock (the
        filter and the page).
    :param now: the request's clock (aware datetime).
    """
    seconds = int(current_app.config.get("BOARD_CACHE_SECONDS", DEFAULT_SECONDS))
    if seconds <= 0:
        return compute()
    current = generation()  # before the rows: see the module docstring
    if current is None:
        return compute()
    store: LruCache[Hashable, _Entry] = current_app.extensions.setdefault(
        _EXTENSION, LruCache(MAX_ENTRIES))
    entry = store.get(key, lambda e: e.generation == current and
                      abs((now - e.computed_at).total_seconds()) < seconds)
    if entry is not None:
        return entry.value  # type: ignore[no-any-return]
    value = compute()
    store.put(key, _Entry(current, now, value))
    return value


# ------------------------------------------------------------------ the session hook
def _wrote_board_table(session: Session, flush_context: Any) -> None:
    for obj in (*session.new, *session.dirty, *session.deleted):
        if getattr(obj, "__tablename__", None) in BOARD_TABLES:
            session.info[_CHANGED] = True
            return


def _statement_writes_board_table(state: ORMExecuteState) -> None:
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    if getattr(table, "name", None) in BOARD_TABLES:
        state.session.info[_CHANGED] = True


def _increment_before_commit(session: Session) -> None:
    session.flush()  # what is still pending may write a board table too
    if not session.info.pop(_CHANGED, False):
        return
    dialect = session.get_bind().dialect.name
    insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(BoardGeneration).values(id=1, value=1)
    session.execute(statement.on_conflict_do_update(
        index_elements=[BoardGeneration.id], set_={"value": BoardGeneration.value + 1}))


def _forget(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:  # the outermost transaction rolled back
        session.info.pop(_CHANGED, None)


_HOOKS = (("after_flush", _wrote_board_table),
          ("do_orm_execute", _statement_writes_board_table),
          ("before_commit", _increment_before_commit),
          ("after_soft_rollback", _forget))


def install() -> None:
    """Listen to every session's writes and commits (idempotent; ``create_app`` calls it
    after :func:`lifecycle.gates.summary.install`, whose refresh before the commit writes
    summaries this hook must see)."""
    for name, fn in _HOOKS:
        if not event.contains(Session, name, fn):
            event.listen(Session, name, fn)

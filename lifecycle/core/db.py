"""Database building blocks every feature's models use: aware UTC times, the append-only
mixin, and the commit helper of a unit of work.

The schema is created by the Alembic migrations in ``lifecycle/migrations``, never by
``create_all``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lifecycle.core.errors import Conflict
from lifecycle.core.extensions import db


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that always hands back aware UTC datetimes.

    SQLite keeps no zone: values are stored as naive UTC and marked UTC on the way out;
    PostgreSQL stores ``timestamptz``.  Naive datetimes are refused on the way in.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime; use timezone-aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def in_(column: str, values: tuple[str, ...]) -> str:
    """A ``CHECK`` constraint text: ``column IN ('a', 'b')``."""
    return _in(column, values)


class AppendOnlyError(RuntimeError):
    """An attempt to update or delete an append-only record (a programming error)."""


class AppendOnly:
    """Mixin of records that are written once and never changed or removed: the ORM refuses
    their updates and deletes (also bulk ``update()``/``delete()`` statements)."""


@event.listens_for(AppendOnly, "before_update", propagate=True)
@event.listens_for(AppendOnly, "before_delete", propagate=True)
def _refuse_change(mapper: Any, connection: Any, target: Any) -> None:
    raise AppendOnlyError(f"{type(target).__name__} records are append-only")


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_change(state: Any) -> None:
    """Also refuse ORM bulk ``update()``/``delete()`` statements aimed at append-only models."""
    if not (state.is_update or state.is_delete):
        return
    for mapper in state.all_mappers:
        if issubclass(mapper.class_, AppendOnly):
            raise AppendOnlyError(f"{mapper.class_.__name__} records are append-only")


def commit_or_conflict(message: str) -> None:
    """Commit the session (the end of one unit of work); a unique or foreign-key violation
    (a concurrent request won) rolls it back.

    :raises Conflict: with ``message`` (one sentence for a person), on that violation.
    """
    try:
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        raise Conflict(message) from exc

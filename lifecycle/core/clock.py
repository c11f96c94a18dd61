"""The app clock: what "now" is.  Services take ``now`` explicitly; entrypoints read it here
once per request or command (tests set ``CLOCK`` to move time instead of sleeping)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from flask import current_app

from lifecycle.core.db import utcnow

__all__ = ["Clock", "aware", "clock", "utcnow"]

#: a callable returning the current time, timezone-aware UTC
Clock = Callable[[], datetime]


def clock() -> datetime:
    """The app's notion of now: the ``CLOCK`` setting (a callable returning an aware UTC
    datetime; tests use it to move time) or the real time."""
    configured = current_app.config.get("CLOCK")
    return configured() if callable(configured) else utcnow()


def aware(now: datetime | None) -> datetime:
    """``now``, or :func:`clock` when ``None``.

    :raises ValueError: ``now`` is naive.
    """
    if now is None:
        return clock()
    if now.tzinfo is None:
        raise ValueError("naive datetime; use timezone-aware UTC")
    return now

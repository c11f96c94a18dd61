"""A movable clock for the app's ``CLOCK`` setting (tests move ``now`` to travel in time).

Imported like the other kits (``from clockkit import Clock``); the ``clock`` fixture of
``tests/conftest.py`` installs one in ``app``.
"""

from __future__ import annotations

from datetime import UTC, datetime


class Clock:
    """``clock()`` is ``clock.now``: the current UTC time when made, in whole seconds
    unless ``whole_seconds=False``."""

    def __init__(self, *, whole_seconds: bool = True) -> None:
        now = datetime.now(UTC)
        self.now = now.replace(microsecond=0) if whole_seconds else now

    def __call__(self) -> datetime:
        return self.now

    @property
    def unix(self) -> int:
        """``now`` in seconds since the epoch."""
        return int(self.now.timestamp())

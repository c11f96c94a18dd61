"""Replay detection for CLM-JTI: the :class:`ReplayCache` protocol and an in-memory cache."""

from __future__ import annotations

import hashlib
import threading
from typing import Protocol


def replay_key(issuer: str, jti: str) -> str:
    """The cache key of a token id: SHA-256 hex of ``issuer``, NUL, ``jti`` (so caches store
    no token content and ids of different issuers never collide)."""
    return hashlib.sha256(f"{issuer}\x00{jti}".encode("utf-8", "surrogatepass")).hexdigest()


class ReplayCache(Protocol):
    """Remembers token ids until their tokens expire.

    An implementation must make :meth:`check_and_store` atomic (a database-backed one: an
    insert on a unique key, treating the conflict as "seen").
    """

    def check_and_store(self, key: str, expires_at: int, now: int) -> bool:
        """Remember ``key`` until ``expires_at`` (Unix seconds).

        :returns: ``True`` when ``key`` was not known (a first use), ``False`` on a replay.
        """
        ...


class MemoryReplayCache:
    """A thread-safe in-process :class:`ReplayCache` holding at most ``max_entries`` ids.

    Expired ids are dropped when the cache is full; if it is still full, the id that expires
    soonest is dropped (a bounded cache, for one process: use a shared store in production).
    """

    def __init__(self, max_entries: int = 100_000) -> None:
        self._max = max_entries
        self._expiry: dict[str, int] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._expiry)

    def check_and_store(self, key: str, expires_at: int, now: int) -> bool:
        with self._lock:
            known = self._expiry.get(key)
            if known is not None and known >= now:
                return False
            if len(self._expiry) >= self._max:
                self._expiry = {k: v for k, v in self._expiry.items() if v >= now}
                if len(self._expiry) >= self._max:
                    del self._expiry[min(self._expiry, key=self._expiry.__getitem__)]
            self._expiry[key] = expires_at
            return True

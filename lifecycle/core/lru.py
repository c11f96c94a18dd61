"""A small bounded, thread-safe least-recently-used cache: the one used by Stagegate's
per-process caches (verified access tokens, unsealed managed keys, board pages, the gateway
validator service's version resolutions).

Each cache decides what makes an entry usable (a token's validity window, a key's lifetime
and KEK, a board generation) with the ``valid`` predicate of :meth:`LruCache.get`; an entry
that is no longer valid is dropped there.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LruCache(Generic[K, V]):
    """At most ``size`` entries; putting one more forgets the least recently used.  Every
    method holds one lock (threaded servers share an instance)."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("an LRU cache holds at least one entry")
        self.size = size
        self._lock = threading.Lock()
        self._entries: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K, valid: Callable[[V], bool] | None = None) -> V | None:
        """The entry of ``key`` (now the most recently used), or ``None`` when there is none
        or ``valid(entry)`` is false — such an entry is dropped."""
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return None
            if valid is not None and not valid(found):
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return found

    def put(self, key: K, value: V) -> None:
        """Store ``value`` under ``key`` as the most recently used entry."""
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def discard(self, key: K) -> None:
        """Drop the entry of ``key``, if there is one."""
        with self._lock:
            self._entries.pop(key, None)

    def discard_where(self, predicate: Callable[[K], bool]) -> int:
        """Drop every entry whose key matches; returns how many were dropped."""
        with self._lock:
            keys = [k for k in self._entries if predicate(k)]
            for k in keys:
                del self._entries[k]
            return len(keys)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

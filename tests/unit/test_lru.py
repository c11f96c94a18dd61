"""The one LRU cache behind the per-process caches (lifecycle/core/lru.py)."""

from __future__ import annotations

import threading

import pytest

from lifecycle.core.lru import LruCache


def test_beyond_its_size_it_forgets_the_least_recently_used():
    cache: LruCache[str, int] = LruCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "a" is now the most recently used
    cache.put("c", 3)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (1, None, 3)
    assert len(cache) == 2


def test_an_entry_that_is_no_longer_valid_is_dropped():
    cache: LruCache[str, int] = LruCache(4)
    cache.put("a", 1)
    assert cache.get("a", lambda v: v > 1) is None
    assert len(cache) == 0
    assert cache.get("a") is None


def test_discard_drops_one_entry():
    cache: LruCache[str, int] = LruCache(4)
    cache.put("a", 1)
    cache.put("b", 2)
    cache.discard("a")
    cache.discard("missing")  # nothing to drop: no error
    assert (cache.get("a"), cache.get("b")) == (None, 2)
    assert len(cache) == 1


def test_discard_where_and_clear():
    cache: LruCache[tuple[int, str], str] = LruCache(8)
    for version in (1, 2):
        for kid in ("k1", "k2"):
            cache.put((version, kid), f"{version}{kid}")
    assert cache.discard_where(lambda k: k[0] == 1) == 2
    assert cache.get((1, "k1")) is None and cache.get((2, "k2")) == "2k2"
    cache.clear()
    assert len(cache) == 0


def test_it_holds_its_bound_under_threads():
    cache: LruCache[int, int] = LruCache(50)

    def work(base: int) -> None:
        for i in range(2000):
            cache.put(base + i, i)
            cache.get(base + i // 2)

    threads = [threading.Thread(target=work, args=(n * 10_000,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(cache) == 50


def test_a_cache_holds_at_least_one_entry():
    with pytest.raises(ValueError, match="at least one"):
        LruCache(0)

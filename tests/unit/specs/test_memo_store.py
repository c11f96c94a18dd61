"""specs.memo.MemoStore and Reuse: one check at a time per memo, bounded by count and bytes,
results kept only for the latest document."""

from __future__ import annotations

from specs import LoadLimits, load_document
from specs.memo import MemoStore, Reuse, SectionMemo

DOC = b'{"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {}}'


def _holding(memo: SectionMemo | None, raw: bytes = DOC) -> None:
    assert memo is not None
    memo.document = load_document(raw, LoadLimits())


def test_a_memo_is_borrowed_by_one_check_at_a_time() -> None:
    store = MemoStore()
    with store.borrow("v1") as first:
        with store.borrow("v1") as second:
            assert first is not None and second is None  # the second upload checks cold
        with store.borrow("v2") as other:
            assert other is not None and other is not first
    with store.borrow("v1") as again:
        assert again is first  # given back: the next upload of v1 finds it


def test_the_least_recently_used_memos_go_beyond_the_byte_bound_never_one_in_use() -> None:
    store = MemoStore(size=10, max_bytes=2 * len(DOC))
    for owner in ("a", "b"):
        with store.borrow(owner) as memo:
            _holding(memo)
    with store.borrow("c") as busy:
        _holding(busy)
        with store.borrow("d") as memo:
            _holding(memo)  # 4 documents held: a and b (least recently used) go
    with store.borrow("a") as fresh:
        assert fresh is not None and fresh.document is None  # a was dropped
    with store.borrow("d") as kept:
        assert kept is not None and kept.document is not None


def _memo(store: MemoStore, owner: str) -> SectionMemo:
    with store.borrow(owner) as memo:
        assert memo is not None
        return memo


def test_the_count_bound_drops_the_least_recently_used() -> None:
    store = MemoStore(size=2)
    first = _memo(store, "a")
    with store.borrow("b") as memo:
        _holding(memo)
    _memo(store, "a")  # a is now the most recently used
    _memo(store, "c")  # three owners: b goes
    assert _memo(store, "a") is first
    assert _memo(store, "b").document is None  # a new, empty memo


def test_reuse_keeps_a_result_for_the_same_object_and_only_for_the_latest_document() -> None:
    reuse = Reuse()
    node, equal = {"a": 1}, {"a": 1}
    calls: list[str] = []

    def compute() -> str:
        calls.append("x")
        return f"result {len(calls)}"

    assert reuse.get("k", node, "ctx", compute) == "result 1"
    reuse.settle()
    assert reuse.get("k", node, "ctx", compute) == "result 1"  # same object: looked up
    assert reuse.get("k", equal, "ctx", compute) == "result 2"  # equal is not the same
    assert reuse.get("k", node, "other", compute) == "result 3"  # another context
    assert reuse.get("other", node, "ctx", compute) == "result 4"  # another pass
    reuse.settle()
    reuse.settle()  # a check that did not ask for node: its result is gone
    assert reuse.get("k", node, "ctx", compute) == "result 5"

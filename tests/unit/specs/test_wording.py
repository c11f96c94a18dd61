"""People's words: plurals, JSON pointers, byte counts (specs.wording)."""

from __future__ import annotations

import pytest

from specs.wording import file_size, plural, pointer_segments, readable_pointer


@pytest.mark.parametrize(("count", "noun", "expected"), [
    (0, "finding", "0 findings"), (1, "finding", "1 finding"), (2, "finding", "2 findings"),
    (1, "entry", "1 entry"), (3, "entry", "3 entries"), (2, "analysis", "2 analyses"),
])
def test_plural(count: int, noun: str, expected: str) -> None:
    assert plural(count, noun) == expected


def test_plural_with_an_explicit_plural() -> None:
    assert plural(2, "person", "people") == "2 people"


@pytest.mark.parametrize(("pointer", "segments", "shown"), [
    ("/paths/~1items~1{id}/get", ["paths", "/items/{id}", "get"], "paths › /items/{id} › get"),
    ("/components/schemas/a~0b", ["components", "schemas", "a~b"], "components › schemas › a~b"),
    ("/x/~01", ["x", "~1"], "x › ~1"),  # RFC 6901 §4: ~1 first, then ~0
    ("", [], "(document root)"),
])
def test_pointers_are_unescaped(pointer: str, segments: list[str], shown: str) -> None:
    assert pointer_segments(pointer) == segments
    assert readable_pointer(pointer) == shown


@pytest.mark.parametrize(("size", "shown"), [
    (0, "0 bytes"), (1, "1 byte"), (1023, "1023 bytes"), (1024, "1.0 KiB"), (1536, "1.5 KiB"),
    (4 * 1024 * 1024, "4.0 MiB"), (25 * 1024 * 1024 + 1, "25.0 MiB"), (3 * 1024 ** 3, "3.0 GiB"),
])
def test_file_sizes_are_1024_based(size: int, shown: str) -> None:
    assert file_size(size) == shown

"""Where a JSON pointer (RFC 6901) sits in the uploaded text: ``locate``, ``locate_many``,
``excerpt``.  A member's position is its key; an array item's, the item itself."""

from __future__ import annotations

import gc
import json
import weakref

import pytest

from specs import Position, load_document
from specs import pointer as jp

PRETTY_JSON = b"""{
  "openapi": "3.1.0",
  "info": {"title": "Pets", "version": "1"},
  "tags": [
    {"name": "first"},
    {"name": "second"}
  ],
  "paths": {
    "/pets/{id}": {
      "get": {
        "responses": {"200": {"description": "ok"}}
      }
    },
    "a~b": {"name": "tilde"}
  }
}
"""

YAML = b"""openapi: 3.1.0
info:
  title: Pets
  version: '1'
tags:
  - name: first
  - name: second
paths:
  /pets/{id}:
    get:
      responses:
        200:
          description: ok
  a~b: {name: tilde}
"""

CASES = [
    # pointer, (json line, column), (yaml line, column)
    ("", (1, 1), (1, 1)),
    ("/openapi", (2, 3), (1, 1)),
    ("/info/title", (3, 12), (3, 3)),
    ("/tags/1", (6, 5), (7, 5)),
    ("/tags/1/name", (6, 6), (7, 5)),
    ("/paths/~1pets~1{id}", (9, 5), (9, 3)),
    ("/paths/~1pets~1{id}/get/responses/200/description", (11, 31), (13, 11)),
    ("/paths/a~0b", (14, 5), (14, 3)),
    ("/paths/a~0b/name", (14, 13), (14, 9)),
]


@pytest.mark.parametrize(("pointer", "in_json", "in_yaml"), CASES)
def test_locate_finds_members_and_items_in_json(pointer, in_json, in_yaml):
    assert load_document(PRETTY_JSON).locate(pointer) == Position(*in_json)


@pytest.mark.parametrize(("pointer", "in_json", "in_yaml"), CASES)
def test_locate_finds_members_and_items_in_yaml(pointer, in_json, in_yaml):
    assert load_document(YAML).locate(pointer) == Position(*in_yaml)


@pytest.mark.parametrize("source", [PRETTY_JSON, YAML], ids=["json", "yaml"])
@pytest.mark.parametrize(
    "pointer",
    ["/nope", "/info/title/deeper", "/tags/2", "/tags/-", "/tags/x", "/paths/~1pets",
     "no-leading-slash", "/info/"],
)
def test_missing_pointers_give_none(source, pointer):
    assert load_document(source).locate(pointer) is None


@pytest.mark.parametrize("source", [PRETTY_JSON, YAML], ids=["json", "yaml"])
def test_locate_many_agrees_with_locate(source):
    doc = load_document(source)
    pointers = [c[0] for c in CASES] + ["/nope"]
    found = doc.locate_many(pointers)
    assert set(found) == set(pointers)
    assert found == {p: load_document(source).locate(p) for p in pointers}
    assert doc.locate_many([]) == {}


def test_minified_json_gives_columns_on_line_one():
    data = json.loads(PRETTY_JSON)
    text = json.dumps(data, separators=(",", ":")).encode()
    doc = load_document(text)
    for pointer in ("/info/title", "/tags/1", "/paths/a~0b/name"):
        pos = doc.locate(pointer)
        assert pos is not None and pos.line == 1
        # The key (or item) starts exactly there.
        token = jp.split(pointer)[-1]
        rest = doc.text[pos.column - 1:]
        assert rest.startswith(json.dumps(token)) or token.isdigit()
    assert doc.text[doc.locate("/tags/1").column - 1:].startswith('{"name":"second"}')


def test_the_same_key_at_another_level_is_not_confused():
    doc = load_document(b'{\n "name": "top",\n "inner": {\n  "name": "nested"\n }\n}')
    assert doc.locate("/name") == Position(2, 2)
    assert doc.locate("/inner/name") == Position(4, 3)


def test_keys_that_look_like_pointers_are_escaped():
    doc = load_document(b'{"a/b": {"~1": 1}, "a": {"b": {"~1": 2}}}')
    assert doc.locate("/a~1b/~01") == Position(1, 10)
    assert doc.locate("/a/b/~01") == Position(1, 32)


def test_json_strings_with_escapes_and_brackets_do_not_disturb_positions():
    raw = '{"d": "a \\" } ] { [ b", "k": ["x", "y"], "é": {"z": 1}}'.encode()
    doc = load_document(raw)
    assert doc.locate("/k/1") == Position(1, 36)
    assert doc.locate("/é/z") == Position(1, 48)  # columns count characters, not bytes


def test_crlf_line_ends_count_as_one_line_each():
    doc = load_document(b'{\r\n"a": 1,\r\n"b": 2\r\n}')
    assert doc.locate("/b") == Position(3, 1)


def test_yaml_flow_and_block_sequences_locate_items():
    doc = load_document(b"list: [a, b, c]\nblock:\n  - x\n  -   y\n")
    assert doc.locate("/list/2") == Position(1, 14)
    assert doc.locate("/block/1") == Position(4, 7)


def test_yaml_values_shared_through_aliases_are_located_at_the_anchor():
    doc = load_document(b"a: &x\n  k: 1\nb: *x\n")
    assert doc.locate("/b") == Position(3, 1)
    assert doc.locate("/a/k") == Position(2, 3)
    assert doc.locate("/b/k") == Position(2, 3)


class TestExcerpt:
    def test_lines_around_a_line_are_numbered(self):
        doc = load_document(YAML)
        assert doc.excerpt(3, context=1) == [(2, "info:"), (3, "  title: Pets"),
                                             (4, "  version: '1'")]

    def test_excerpt_stops_at_the_start_and_the_end(self):
        doc = load_document(YAML)
        assert [n for n, _ in doc.excerpt(1, context=2)] == [1, 2, 3]
        last = len(doc.lines)
        assert [n for n, _ in doc.excerpt(last, context=2)] == [last - 2, last - 1, last]

    def test_long_lines_are_cut(self):
        doc = load_document(b'{"a": "' + b"x" * 1000 + b'"}')
        ((number, text),) = doc.excerpt(1, context=3, width=50)
        assert number == 1
        assert len(text) == 50

    def test_lines_have_no_line_ends(self):
        doc = load_document(b"a: 1\r\nb: 2\r\n")
        assert doc.lines == ["a: 1", "b: 2"]


def test_positions_are_the_same_whatever_order_they_are_asked_in():
    # the line count continues from the last position asked when it is not past the next
    doc = load_document(PRETTY_JSON)
    pointers = [c[0] for c in CASES]
    forward = {p: load_document(PRETTY_JSON).locate(p) for p in pointers}
    for p in reversed(pointers):
        assert doc.locate(p) == forward[p]
    assert doc.locate_many(pointers) == forward


def test_a_located_document_is_freed_by_reference_counting():
    # no reference cycle holds the document after locating (the cyclic collector is paused
    # while uploads are checked: lifecycle.core.gcpause)
    doc = load_document(PRETTY_JSON)
    assert doc.locate_many(["/tags/1", "/paths/a~0b/name"])
    gone = weakref.ref(doc)
    enabled = gc.isenabled()
    gc.disable()
    try:
        del doc
        assert gone() is None
    finally:
        if enabled:
            gc.enable()

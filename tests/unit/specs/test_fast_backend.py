"""The validator's speed-ups give the library's verdicts (issue 10).

Three shortcuts sit in front of openapi-spec-validator: the jsonschema-rs pre-check of each
Schema Object against its dialect's meta-schema (``specs.validate.FAST_SCHEMA_CHECKS``), the
plain-container lookup of ``pathable`` (``specs._fastpaths``) and the memoised path and
``$ref`` resolution of ``jsonschema-path`` (``specs._fastrefs``).  Over every document of
the corpus (public and our own) the issue lists must be identical with and without them.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema_path
import pytest
from jsonschema_path import SchemaPath

from specs import LoadLimits, _fastpaths, _fastrefs, load_document
from specs import validate as sv

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
DOCUMENTS = sorted(p for p in CORPUS.rglob("*") if p.suffix in (".json", ".yaml", ".yml"))


def issues(raw: bytes) -> list[dict[str, object]]:
    return [i.to_dict() for i in sv.validate_document(load_document(raw, LoadLimits()))]


@pytest.fixture
def library_only():
    """Run the block with every shortcut off; restore them afterwards."""
    sv.FAST_SCHEMA_CHECKS = False
    _fastpaths.uninstall()
    _fastrefs.uninstall()
    try:
        yield
    finally:
        sv.FAST_SCHEMA_CHECKS = True
        _fastpaths.install()
        _fastrefs.install()


def test_the_corpus_is_there():
    assert len(DOCUMENTS) > 30
    assert sv.FAST_SCHEMA_CHECKS and _fastpaths.installed() and _fastrefs.installed()


@pytest.mark.slow
@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: str(p.relative_to(CORPUS)))
def test_same_issues_with_and_without_the_shortcuts(path, request):
    raw = path.read_bytes()  # every corpus document loads (the loader's refusals: test_load)
    fast = issues(raw)
    request.getfixturevalue("library_only")
    assert issues(raw) == fast


def test_a_bad_schema_is_reported_by_the_library_with_its_message():
    doc = b"""openapi: 3.1.0
info: {title: t, version: '1'}
paths: {}
components:
  schemas:
    Bad: {type: strin}
    Pattern: {type: string, pattern: '['}
    Good: {type: string}
"""
    fast = issues(doc)
    sv.FAST_SCHEMA_CHECKS = False
    try:
        slow = issues(doc)
    finally:
        sv.FAST_SCHEMA_CHECKS = True
    assert fast == slow
    pointers = {i["pointer"] for i in fast}
    assert pointers == {"/components/schemas/Bad/type", "/components/schemas/Pattern/pattern"}


def without_fastrefs(raw: bytes) -> list[dict[str, object]]:
    _fastrefs.uninstall()
    try:
        return issues(raw)
    finally:
        _fastrefs.install()


def test_a_schema_id_hands_path_resolution_back_to_the_library():
    """A ``$ref`` inside a schema with ``$id`` is resolved against that ``$id`` (the library
    crawls a new registry): the shortcut gives way and the library's resolution is kept."""
    doc = json.dumps({
        "swagger": "2.0", "info": {"title": "t", "version": "1"},
        "x-owner": {"type": "string", "default": "fine"},
        "paths": {"/p": {"get": {"responses": {"200": {
            "description": "ok", "schema": {"$ref": "#/definitions/Pet"}}}}}},
        "definitions": {"Pet": {
            "$id": "https://example.com/pet", "type": "object",
            "x-owner": {"type": "string", "default": 3},
            "properties": {"owner": {"$ref": "#/x-owner"}}}},
    }).encode()
    fast = issues(doc)
    assert fast == without_fastrefs(doc)
    assert [i["message"] for i in fast if i["kind"] == "semantic"] == [
        "3 is not of type 'string'"]  # Pet's own x-owner, as the library resolves it


def test_a_reference_cycle_stops_the_same_way_with_the_shortcut():
    doc = json.dumps({
        "openapi": "3.0.3", "info": {"title": "t", "version": "1"},
        "paths": {"/p": {"get": {"responses": {"200": {"description": "ok", "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/A"}}}}}}}},
        "components": {"schemas": {"A": {"$ref": "#/components/schemas/B"},
                                   "B": {"$ref": "#/components/schemas/A"}}},
    }).encode()
    fast = issues(doc)
    assert fast == without_fastrefs(doc)
    assert {i["kind"] for i in fast} == {"validator-error"}


def test_the_path_resolution_shortcut_needs_the_library_it_was_written_for(monkeypatch):
    _fastrefs.uninstall()
    try:
        monkeypatch.setattr(jsonschema_path, "__version__", "0.6.0")
        _fastrefs.install()
        assert not _fastrefs.installed()
    finally:
        monkeypatch.undo()
        _fastrefs.install()
    assert _fastrefs.installed()



def test_the_lookup_shortcut_needs_the_library_it_was_written_for(monkeypatch):
    _fastpaths.uninstall()
    try:
        monkeypatch.setattr(_fastpaths, "VERIFIED", frozenset({"0.0.1"}))
        _fastpaths.install()
        assert not _fastpaths.installed()
    finally:
        monkeypatch.undo()
        _fastpaths.install()
    assert _fastpaths.installed()

def _resolutions(data: dict[str, object], limit: int = 3000) -> list[object]:
    """What ``SchemaAccessor.get_resolved`` answers for every path reachable in ``data``
    (through ``$ref`` s, breadth first, a missing member after each object): the object
    itself (by identity), the resolver's base URI and dynamic scope, or the exception."""
    accessor = SchemaPath.from_dict(data, resolved_cache_maxsize=128).accessor
    answers: list[object] = []
    queue: list[tuple[object, ...]] = [()]
    while queue and len(answers) < limit:
        parts = queue.pop(0)
        try:
            resolved = accessor.get_resolved(parts)  # type: ignore[attr-defined]
        except Exception as exc:  # noqa: BLE001 - the exception is the answer
            answers.append((parts, type(exc).__name__, str(exc)))
            continue
        contents, resolver = resolved.contents, resolved.resolver
        answers.append((parts, id(contents), resolver._base_uri, list(resolver._previous)))
        if isinstance(contents, dict):
            queue += [(*parts, key) for key in contents] + [(*parts, "missing")]
        elif isinstance(contents, list):
            queue += [(*parts, i) for i in range(len(contents) + 1)]
    return answers


def test_path_resolution_answers_as_the_library():
    """Objects, resolvers and errors of the path resolution itself, with and without the
    shortcut: references to references, into lists, to a string, dangling, cyclic, and
    a ``$ref`` resolved against a schema's ``$id`` (where the shortcut gives way)."""
    data: dict[str, Any] = {
        "openapi": "3.1.0", "info": {"title": "t", "version": "1"},
        "paths": {"/a": {"get": {"parameters": [{"$ref": "#/components/parameters/P"}],
                                 "responses": {"200": {"$ref": "#/components/responses/R"}}}}},
        "components": {
            "parameters": {"P": {"$ref": "#/components/parameters/Q"},
                           "Q": {"name": "q", "in": "query", "schema": {"type": "string"}}},
            "responses": {"R": {"description": "ok", "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/List/items/0"}}}}},
            "schemas": {
                "List": {"items": [{"$ref": "#/components/schemas/Pet"}]},
                "Pet": {"$id": "https://example.com/pet", "x-o": {"type": "integer"},
                        "properties": {"o": {"$ref": "#/x-o"}, "t": {"$ref": "#/info/title"},
                                       "s": {"$ref": "#/info/title/x"}}},
                "Dangling": {"$ref": "#/components/schemas/Nowhere"},
                "A": {"$ref": "#/components/schemas/B"}, "B": {"$ref": "#/components/schemas/A"},
            },
        },
        "x-o": {"type": "string"},
    }
    without_id = copy.deepcopy(data)
    del without_id["components"]["schemas"]["Pet"]["$id"]
    for document in (without_id, data):
        fast = _resolutions(document)
        _fastrefs.uninstall()
        try:
            slow = _resolutions(document)
        finally:
            _fastrefs.install()
        assert fast == slow
        assert len(fast) > 100

"""The validator's speed-ups give the library's verdicts (issue 10).

Three shortcuts sit in front of openapi-spec-validator: the jsonschema-rs pre-check of each
Schema Object against its dialect's meta-schema (``specs.validate.FAST_SCHEMA_CHECKS``), the
plain-container lookup of ``pathable`` (``specs._fastpaths``) and the memoised path and
``$ref`` resolution of ``jsonschema-path`` (``specs._fastrefs``).  Over every document of
the corpus (public and our own) the issue lists must be identical with and without them.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema_path
import pytest

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
    raw = path.read_bytes()
    try:
        load_document(raw, LoadLimits())
    except Exception:  # noqa: BLE001 - unreadable inputs are the loader's business
        pytest.skip("not a loadable document (covered by the loader's tests)")
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

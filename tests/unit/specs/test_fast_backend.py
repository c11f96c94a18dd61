"""The validator's speed-ups give the library's verdicts (issue 10).

Two shortcuts sit in front of openapi-spec-validator: the jsonschema-rs pre-check of each
Schema Object against its dialect's meta-schema (``specs.validate.FAST_SCHEMA_CHECKS``) and
the plain-container lookup of ``pathable`` (``specs._fastpaths``).  Over every document of
the corpus (public and our own) the issue lists must be identical with and without them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from specs import LoadLimits, _fastpaths, load_document
from specs import validate as sv

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
DOCUMENTS = sorted(p for p in CORPUS.rglob("*") if p.suffix in (".json", ".yaml", ".yml"))


def issues(raw: bytes) -> list[dict[str, object]]:
    return [i.to_dict() for i in sv.validate_document(load_document(raw, LoadLimits()))]


@pytest.fixture
def library_only():
    """Run the block with both shortcuts off; restore them afterwards."""
    sv.FAST_SCHEMA_CHECKS = False
    _fastpaths.uninstall()
    try:
        yield
    finally:
        sv.FAST_SCHEMA_CHECKS = True
        _fastpaths.install()


def test_the_corpus_is_there():
    assert len(DOCUMENTS) > 30
    assert sv.FAST_SCHEMA_CHECKS and _fastpaths.installed()


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

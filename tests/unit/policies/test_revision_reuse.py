"""The passes after validation reuse the previous revision's results (issue 10).

A revision read as a difference shares every unchanged subtree with the previous document
(:func:`revisionkit.revised`); the index, the rules and the locating then take the
unchanged parts' results from :class:`specs.memo.Reuse` and from the loader's member offsets
(:class:`specs.members.Members`).  The findings must be those of a cold check.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from revisionkit import revised

from policies.check import check_spec, locate_findings, sort_findings
from policies.findings import Finding
from policies.spec_rules import build_index, evaluate_spec_rules
from specs import LoadLimits, SpecDocument, load_document, validate_document
from specs import pointer as jp
from specs.document import _locate_json
from specs.index import SpecIndex
from specs.memo import Reuse

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
DOCUMENTS = sorted(p for p in CORPUS.rglob("*") if p.suffix in (".json", ".yaml", ".yml"))
METHODS = ("get", "put", "post", "delete", "patch", "options", "head", "trace")


def _operations(data: dict[str, Any]) -> list[dict[str, Any]]:
    paths = data.get("paths")
    if not isinstance(paths, dict):
        return []
    return [item[m] for item in paths.values() if isinstance(item, dict)
            for m in METHODS if isinstance(item.get(m), dict)]


def _checked(doc: SpecDocument, reuse: Reuse) -> list[Finding]:
    """check_spec's passes after validation on an already loaded document."""
    built = build_index(doc, reuse=reuse)
    found = locate_findings(doc, evaluate_spec_rules(doc, validate_document(doc), built))
    return sort_findings(found)


def _revision(raw: bytes, change: Any) -> tuple[bytes, bytes] | None:
    data = load_document(raw, LoadLimits()).data
    changed = copy.deepcopy(data)
    if not change(changed):
        return None
    return json.dumps(data, indent=2).encode(), json.dumps(changed, indent=2).encode()


def _describe_one(data: dict[str, Any]) -> bool:
    operations = _operations(data)
    if not operations:
        return False
    operations[len(operations) // 2]["description"] = "changed by one revision"
    return True


def _assert_reuse_gives_cold_findings(base: bytes, changed: bytes) -> Reuse:
    reuse = Reuse()
    base_doc = load_document(base, LoadLimits())
    assert _checked(base_doc, reuse) == list(check_spec(base).findings)
    reuse.settle()
    doc = revised(base_doc, changed)
    assert _checked(doc, reuse) == list(check_spec(changed).findings)
    return reuse


@pytest.mark.slow
@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: str(p.relative_to(CORPUS)))
def test_a_one_operation_revision_gives_the_cold_findings(path: Path) -> None:
    try:
        pair = _revision(path.read_bytes(), _describe_one)
    except Exception:  # noqa: BLE001 - unreadable inputs are the loader's business
        pytest.skip("not a loadable document")
    if pair is None:
        pytest.skip("no operation to change")
    reuse = _assert_reuse_gives_cold_findings(*pair)
    assert reuse.hits > 0


def test_kubernetes_revision_takes_every_other_path_item_from_the_memo() -> None:
    pair = _revision((CORPUS / "public" / "kubernetes-swagger.json").read_bytes(),
                     _describe_one)
    assert pair is not None
    reuse = _assert_reuse_gives_cold_findings(*pair)
    items = len(json.loads(pair[1])["paths"])
    # per path item: its references and its entries; per parameter: its classification
    assert reuse.hits > 2 * (items - 1) + 1000
    assert reuse.misses < 20


def _tiny(param_in: str = "query", security: Any = None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "openapi": "3.0.3", "info": {"title": "t", "version": "1"},
        "servers": [{"url": "https://api.example.com"}],
        "components": {
            "securitySchemes": {"b": {"type": "http", "scheme": "bearer"}},
            "parameters": {"P": {"name": "access_token", "in": param_in,
                                 "schema": {"type": "string"}}}},
        "paths": {
            "/a": {"get": {"parameters": [{"$ref": "#/components/parameters/P"}],
                           "responses": {"200": {"description": "ok"}}}},
            "/b": {"parameters": [{"$ref": "#/components/parameters/P"}],
                   "post": {"responses": {"200": {"description": "ok"}}}},
        },
    }
    if security is not None:
        doc["security"] = security
    return doc


@pytest.mark.parametrize("edit", [
    pytest.param(lambda d: d["components"]["parameters"]["P"].update(**{"in": "header"}),
                 id="a referenced parameter moves"),
    pytest.param(lambda d: d.update(security=[{"b": []}]), id="global security appears"),
    pytest.param(lambda d: d["components"]["parameters"].update(
        P={"$ref": "#/components/parameters/Q"}, Q={"name": "page", "in": "query"}),
        id="a reference leads elsewhere"),
])
def test_unchanged_path_items_follow_what_they_read_outside(edit: Any) -> None:
    data = _tiny()
    changed = copy.deepcopy(data)
    edit(changed)
    reuse = _assert_reuse_gives_cold_findings(json.dumps(data).encode(),
                                              json.dumps(changed).encode())
    assert reuse.hits > 0  # the reference-free parts were still taken from the memo


def test_an_index_through_the_memo_is_the_cold_index() -> None:
    raw = json.dumps(_tiny(security=[{"b": []}]), indent=1).encode()
    reuse = Reuse()
    base = load_document(raw, LoadLimits())
    SpecIndex(base, reuse)
    reuse.settle()
    doc = revised(base, raw)
    again, cold = SpecIndex(doc, reuse), SpecIndex(load_document(raw, LoadLimits()))
    assert reuse.misses == 0 and reuse.hits > 0
    assert again.operations == cold.operations
    assert again.servers == cold.servers and again.unresolved == cold.unresolved


@pytest.mark.parametrize("path", [p for p in DOCUMENTS if p.suffix == ".json"],
                         ids=lambda p: p.name)
def test_the_member_table_locates_as_the_walk_from_the_start(path: Path) -> None:
    try:
        doc = load_document(path.read_bytes(), LoadLimits())
    except Exception:  # noqa: BLE001 - unreadable inputs are the loader's business
        pytest.skip("not a loadable document")
    wanted = {"", "/nothing/here", "not a pointer", "/paths/~1nothing"}

    def visit(node: Any, where: str, depth: int) -> None:
        wanted.add(where)
        wanted.add(where + "/missing")
        if depth == 0:
            return
        children = (list(node.items())[:5] if isinstance(node, dict)
                    else list(enumerate(node))[:3] if isinstance(node, list) else [])
        for key, value in children:
            visit(value, jp.child(where, key), depth - 1)

    visit(doc.data, "", 5)
    walked = _locate_json(doc.text, wanted, load_document(path.read_bytes())._position_at)
    assert doc.members is not None or doc.format == "yaml"
    assert doc.locate_many(wanted) == walked
    assert any(walked.values())

"""The passes after validation reuse the previous revision's results (issue 10).

A revision read as a difference shares every unchanged subtree with the previous document
(:func:`revisionkit.revised`); the index, the rules and the locating then take the
unchanged parts' results from :class:`specs.memo.Reuse` and from the loader's member offsets
(:class:`specs.members.Members`).  The findings must be those of a cold check.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from revisionkit import operations_of, revised

from policies.check import check_spec, locate_findings, sort_findings
from policies.findings import Finding
from policies.spec_rules import build_index, evaluate_spec_rules
from specs import LoadLimits, SpecDocument, load_document, validate_document
from specs import pointer as jp
from specs import validate as sv
from specs.document import _locate_json
from specs.index import SpecIndex
from specs.memo import Reuse, SectionMemo

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
DOCUMENTS = sorted(p for p in CORPUS.rglob("*") if p.suffix in (".json", ".yaml", ".yml"))


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
    """The middle operation's description changed; a document without operations gets a
    top-level extension instead (a member added: the loader reads it whole)."""
    operations = operations_of(data)
    if operations:
        operations[len(operations) // 2]["description"] = "changed by one revision"
    else:
        data["x-stagegate-revision"] = "changed by one revision"
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
    pair = _revision(path.read_bytes(), _describe_one)
    assert pair is not None
    reuse = _assert_reuse_gives_cold_findings(*pair)
    data = json.loads(pair[1])
    if len(data.get("paths") or {}) > 1:  # the path items that did not change come from the memo
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
            "/c": {"get": {"responses": {"200": {"description": "ok"}}}},
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
    doc = load_document(path.read_bytes(), LoadLimits())
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


# ---------------------------------------------------------------- through the loader's diff
def _loader_diff(previous: SpecDocument, raw: bytes) -> SpecDocument:
    return load_document(raw, LoadLimits(), previous=previous)


def _diff_checked(base: bytes, changed: bytes,
                  read: Callable[[SpecDocument, bytes], SpecDocument] = _loader_diff
                  ) -> tuple[list[Finding], list[Finding], Reuse]:
    """The findings of ``base`` and of ``changed`` read as a difference from it (by
    default the loader's own sharing), both through one memo; the memo after the second
    check."""
    reuse = Reuse()
    base_doc = load_document(base, LoadLimits())
    before = _checked(base_doc, reuse)
    reuse.settle()
    after = _checked(read(base_doc, changed), reuse)
    return before, after, reuse


@pytest.mark.slow
@pytest.mark.parametrize("path", [p for p in DOCUMENTS if p.suffix == ".json"],
                         ids=lambda p: p.name)
def test_a_revision_read_as_a_difference_gives_the_cold_check(path: Path) -> None:
    pair = _revision(path.read_bytes(), _describe_one)
    assert pair is not None
    base, changed = pair
    memo = SectionMemo()
    check_spec(base, memo=memo)
    assert check_spec(changed, memo=memo).findings == check_spec(changed).findings
    before, after, reuse = _diff_checked(base, changed)
    assert after == list(check_spec(changed).findings)
    if len(json.loads(changed).get("paths") or {}) > 1:
        assert reuse.hits > 0


def _rules_doc() -> dict[str, Any]:
    """Four path items that the revisions below leave as they are (each changes one member
    elsewhere: the loader then shares every path item with the previous revision)."""
    ok = {"200": {"description": "ok"}}
    return {
        "openapi": "3.0.3", "info": {"title": "t", "version": "1"},
        "servers": [{"url": "https://api.example.com/v1"}],
        "security": [{"b": []}],
        "components": {"securitySchemes": {"b": {"type": "http", "scheme": "bearer"},
                                           "k": {"type": "apiKey", "in": "header",
                                                 "name": "X-Key"}}},
        "paths": {
            "/edited": {"get": {"security": [{"b": []}], "responses": ok}},
            "/undefined": {"get": {"security": [{"c": []}], "responses": ok}},
            "/kept": {"get": {"security": [{"k": []}],
                              "parameters": [{"name": "api", "in": "query",
                                              "schema": {"type": "string"}}],
                              "responses": ok}},
            "/token": {"post": {"security": [{"k": []}], "responses": ok}},
            "/inherits": {"get": {"responses": ok}},
        },
    }


def _set(*steps: tuple[list[str], Any]) -> Any:
    def edit(data: dict[str, Any]) -> None:
        for path, value in steps:
            node = data
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = value
    return edit


#: rule → global edits after which an unchanged path item's finding of that rule changes
GLOBAL_EDITS = {
    "SPEC-OPERATIONS-SECURED": [
        pytest.param(lambda d: d["components"]["securitySchemes"].pop("k"),
                     id="a used scheme is removed"),
        pytest.param(_set((["security"], [])), id="the global security is switched off"),
        pytest.param(_set((["components", "securitySchemes", "c"],
                           {"type": "http", "scheme": "bearer"})),
                     id="a scheme is added (the names change)"),
    ],
    "TRN-BEARER-HEADER": [
        pytest.param(_set((["components", "securitySchemes", "k", "in"], "query")),
                     id="a used apiKey moves to the query"),
        pytest.param(_set((["security", 0], {"k": []})), id="the global security changes"),
        pytest.param(_set((["components", "securitySchemes", "b"],
                           {"type": "http", "scheme": "basic"})),
                     id="the bearer scheme becomes Basic"),
        pytest.param(_set((["components", "securitySchemes", "o"],
                           {"type": "oauth2", "flows": {"clientCredentials": {
                               "tokenUrl": "https://auth.example.com/v1/token",
                               "scopes": {}}}})),
                     id="a token endpoint appears"),
    ],
    "TRN-NO-BASIC-AUTH": [
        pytest.param(_set((["components", "securitySchemes", "k"],
                           {"type": "http", "scheme": "basic"})),
                     id="a used scheme becomes Basic"),
    ],
    "TRN-NO-TOKEN-IN-URL": [
        pytest.param(_set((["components", "securitySchemes", "q"],
                           {"type": "apiKey", "in": "query", "name": "api"})),
                     id="an apiKey scheme names an unchanged parameter"),
    ],
}


def _rule_findings(findings: list[Finding], rule: str) -> list[Finding]:
    return [f for f in findings if f.rule_id == rule]


@pytest.mark.parametrize(("rule", "edit"), [
    pytest.param(rule, edit.values[0], id=f"{rule}: {edit.id}")
    for rule, edits in GLOBAL_EDITS.items() for edit in edits])
def test_unchanged_path_items_follow_global_inputs(rule: str, edit: Any) -> None:
    data = _rules_doc()
    changed = copy.deepcopy(data)
    edit(changed)
    base, revision = json.dumps(data, indent=2).encode(), json.dumps(changed, indent=2).encode()
    # the loader re-reads one member's value only (a new or renamed key: the whole text);
    # revisionkit shares every equal subtree, as the loader may
    before, after, reuse = _diff_checked(base, revision, revised)
    cold = list(check_spec(revision).findings)
    assert after == cold
    assert reuse.hits > 0
    # what the rule says about the path items that did not change is not what it said
    assert _said(before, rule) != _said(after, rule)


def _said(findings: list[Finding], rule: str) -> list[tuple[str, str | None]]:
    return [(f.message, f.pointer) for f in _rule_findings(findings, rule)]


def test_unchanged_swagger_servers_follow_the_host() -> None:
    ok = {"200": {"description": "ok"}}
    data = {"swagger": "2.0", "info": {"title": "t", "version": "1"},
            "host": "api.example.com", "schemes": ["https"],
            "paths": {"/edited": {"get": {"responses": ok}},
                      "/kept": {"get": {"schemes": ["http"], "responses": ok}}}}
    changed = copy.deepcopy(data)
    changed["host"] = "localhost:8080"
    raw = json.dumps(changed, indent=2).encode()
    before, after, reuse = _diff_checked(json.dumps(data, indent=2).encode(), raw)
    assert after == list(check_spec(raw).findings)
    assert reuse.misses > 0  # the host is read by every path item: none is taken as it was
    assert _said(before, "TRN-HTTPS-ONLY") != _said(after,
                                                                          "TRN-HTTPS-ONLY")


def test_examples_that_follow_a_reference_are_read_once_as_cold() -> None:
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
    ok = {"200": {"description": "ok"}}

    def param(name: str) -> dict[str, Any]:
        return {"name": name, "in": "query", "schema": {"type": "string"},
                "examples": {"a": {"$ref": "#/components/examples/E"}}}

    data = {"openapi": "3.0.3", "info": {"title": "t", "version": "1"},
            "servers": [{"url": "https://api.example.com"}],
            "components": {"examples": {"E": {"value": jwt}}},
            "paths": {"/a": {"get": {"parameters": [param("p")], "responses": ok}},
                      "/b": {"get": {"parameters": [param("q")], "responses": ok}},
                      "/c": {"get": {"parameters": [{"name": "r", "in": "query",
                                                     "example": jwt}], "responses": ok}}}}
    changed = copy.deepcopy(data)
    del changed["paths"]["/a"]["get"]["parameters"][0]["examples"]  # /b now reads E first
    raw = json.dumps(changed, indent=2).encode()
    before, after, reuse = _diff_checked(json.dumps(data, indent=2).encode(), raw)
    assert after == list(check_spec(raw).findings)
    assert reuse.hits > 0

    def at_e(found: list[Finding]) -> list[str]:
        return [f.message for f in _rule_findings(found, "TRN-NO-TOKEN-IN-URL")
                if f.pointer == "/components/examples/E/value"]

    assert len(at_e(before)) == len(at_e(after)) == 1
    assert "GET /a" in at_e(before)[0] and "GET /b" in at_e(after)[0]



_JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"


@pytest.mark.parametrize(("old", "new"), [
    pytest.param("plain", _JWT, id="becomes a JWT"),
    pytest.param(_JWT, "plain", id="stops being a JWT"),
])
def test_an_unchanged_path_item_rereads_the_example_it_references(old: str, new: str) -> None:
    ok = {"200": {"description": "ok"}}
    data: dict[str, Any] = {
        "openapi": "3.0.3", "info": {"title": "t", "version": "1"},
        "servers": [{"url": "https://api.example.com"}],
        "components": {"examples": {"E": {"value": old}}},
        "paths": {"/a": {"get": {"parameters": [
            {"name": "p", "in": "query", "schema": {"type": "string"},
             "examples": {"a": {"$ref": "#/components/examples/E"}}}],
            "responses": ok}}}}
    changed = copy.deepcopy(data)
    changed["components"]["examples"]["E"]["value"] = new
    base, raw = json.dumps(data, indent=2).encode(), json.dumps(changed, indent=2).encode()
    # the loader re-reads /components/examples/E alone: the path item is the same object
    before, after, _ = _diff_checked(base, raw)
    assert after == list(check_spec(raw).findings)
    assert _said(before, "TRN-NO-TOKEN-IN-URL") != _said(after, "TRN-NO-TOKEN-IN-URL")


def _broken_index(method: Callable[..., Any]) -> Callable[..., Any]:
    def broken(self: SpecIndex, *args: Any, **kwargs: Any) -> Any:
        if self.reuse is not None:
            raise KeyError("a defect in reusing")
        return method(self, *args, **kwargs)
    return broken


def _broken_pointers(prefix: Any, keys: Any, parts: Any) -> Any:
    if parts is not None:
        raise KeyError("a defect in reusing")
    return _COLD_POINTERS(prefix, keys, parts)


_COLD_POINTERS = sv._pointers


@pytest.mark.parametrize(("owner", "name", "broken"), [
    (SpecIndex, "_start_reuse", _broken_index(SpecIndex._start_reuse)),  # the index
    (SpecIndex, "piece_result", _broken_index(SpecIndex.piece_result)),  # kept rule results
    (sv, "_pointers", _broken_pointers),  # validation's sections
], ids=["index", "rules", "validation"])
def test_a_failure_in_reusing_checks_the_revision_cold(
        monkeypatch: pytest.MonkeyPatch, owner: Any, name: str, broken: Any) -> None:
    """A defect in the reuse path costs time, never the answer (nor a 500)."""
    pair = _revision((CORPUS / "public" / "kubernetes-swagger.json").read_bytes(),
                     _describe_one)
    assert pair is not None
    base, changed = pair
    memo = SectionMemo()
    check_spec(base, memo=memo)
    cold = check_spec(changed).findings
    monkeypatch.setattr(owner, name, broken)
    assert check_spec(changed, memo=memo).findings == cold

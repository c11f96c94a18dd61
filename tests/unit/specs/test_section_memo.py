"""Per-section results reused across revisions give a cold check's issues (issue 10).

For every document of the corpus (public and our own): the issues of a cold validation
must equal those of validating through a :class:`specs.memo.SectionMemo` filled by the
previous document — after an identical re-upload, after a change to one operation, after a
change to a shared component schema (an error that only its first user reports), and after
removing the first path item (which moves which section visits shared schemas first).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from revisionkit import operations_of, revised

from specs import LoadLimits, load_document
from specs import validate as sv
from specs.memo import _REF, _REF_START, SectionMemo, _ref_literals, section_keys
from specs.refs import problems_of, scan_parts, scan_refs

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
DOCUMENTS = sorted(p for p in CORPUS.rglob("*") if p.suffix in (".json", ".yaml", ".yml"))


def issues(raw: bytes, memo: SectionMemo | None = None) -> list[dict[str, Any]]:
    return [i.to_dict() for i in sv.validate_document(load_document(raw, LoadLimits()), memo)]


def one_operation(data: dict[str, Any]) -> dict[str, Any] | None:
    """The middle operation's description changed."""
    changed = copy.deepcopy(data)
    operations = operations_of(changed)
    if not operations:
        return None
    operations[len(operations) // 2]["description"] = "changed by one revision"
    return changed


def shared_schema(data: dict[str, Any]) -> dict[str, Any] | None:
    """The first component schema with properties requires one it lacks, inside an
    ``allOf`` (reported only where the schema is first reached outside ``allOf``)."""
    changed = copy.deepcopy(data)
    schemas = changed.get("definitions") if "swagger" in changed else \
        (changed.get("components") or {}).get("schemas")
    if not isinstance(schemas, dict):
        return None
    for schema in schemas.values():
        if isinstance(schema, dict) and isinstance(schema.get("properties"), dict):
            schema["required"] = [*(schema.get("required") or []), "stagegate_missing"]
            schema["allOf"] = [{"type": "object"}]
            return changed
    return None


def first_path_removed(data: dict[str, Any]) -> dict[str, Any] | None:
    changed = copy.deepcopy(data)
    paths = changed.get("paths")
    if not isinstance(paths, dict) or len(paths) < 2:
        return None
    del paths[next(iter(paths))]
    return changed


def _loadable(path: Path) -> bytes:
    raw = path.read_bytes()
    try:
        load_document(raw, LoadLimits())
    except Exception:  # noqa: BLE001 - unreadable inputs are the loader's business
        pytest.skip("not a loadable document (covered by the loader's tests)")
    return raw


@pytest.mark.slow
@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: str(p.relative_to(CORPUS)))
def test_revisions_through_the_memo_give_the_cold_issues(path: Path) -> None:
    raw = _loadable(path)
    cold = issues(raw)
    memo = SectionMemo()
    assert issues(raw, memo) == cold  # the first upload, recording
    assert issues(raw, memo) == cold  # identical bytes again
    if memo.records:
        assert memo.validated == 0, "an identical document is looked up entirely"
    data = load_document(raw, LoadLimits()).data
    for change in (one_operation, shared_schema, first_path_removed):
        changed = change(data)
        if changed is None:
            continue
        revised = json.dumps(changed, indent=2).encode()
        base = json.dumps(data, indent=2).encode()
        memo = SectionMemo()
        assert issues(base, memo) == issues(base)
        assert issues(revised, memo) == issues(revised), change.__name__
        assert issues(base, memo) == issues(base), f"back from {change.__name__}"


def test_a_one_operation_revision_revalidates_one_section() -> None:
    raw = (CORPUS / "public" / "kubernetes-swagger.json").read_bytes()
    data = json.loads(raw)
    memo = SectionMemo()
    issues(raw, memo)
    total = memo.validated
    assert total > 500 and memo.reused == 0
    changed = one_operation(data)
    assert changed is not None
    assert issues(json.dumps(changed).encode(), memo) == issues(json.dumps(changed).encode())
    assert memo.validated == 1 and memo.reused == total - 1


def test_a_first_reach_moves_with_the_document() -> None:
    """A shared schema's error belongs to the first section that reaches it: removing that
    section moves the error to the next user, which the memo must not hide."""
    doc: dict[str, Any] = {
        "openapi": "3.0.3", "info": {"title": "t", "version": "1"},
        "paths": {
            f"/{name}": {"get": {"responses": {"200": {"description": "ok", "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/S"}}}}}}}
            for name in ("a", "b", "c")},
        "components": {"schemas": {"S": {
            "type": "object", "properties": {"x": {"type": "string"}},
            "required": ["x", "missing"], "allOf": [{"type": "object"}]}}},
    }
    raw = json.dumps(doc).encode()
    memo = SectionMemo()
    first = issues(raw, memo)
    assert first == issues(raw)
    assert any("missing" in i["message"] for i in first)
    del doc["paths"]["/a"]
    raw = json.dumps(doc).encode()
    again = issues(raw, memo)
    assert again == issues(raw)
    assert any("missing" in i["message"] for i in again)
    # /b now reaches S first: its recorded answer ("S visited: yes") no longer holds
    assert memo.validated == 1 and memo.reused == 2


def test_ineligible_documents_are_validated_plainly() -> None:
    doc = {"openapi": "3.0.3", "info": {"title": "t", "version": "1"},
           "paths": {"/a": {"get": {"responses": {"200": {"$ref": "#/components/responses/X"}}}}}}
    raw = json.dumps(doc).encode()
    memo = SectionMemo()
    assert issues(raw, memo) == issues(raw)
    assert memo.records == {} and memo.reused == 0


def test_odd_operation_ids_give_the_cold_issues() -> None:
    """operationIds the structural check rejects (an object, an array, a number, a
    duplicate) still reach the keyword checks; the memo answers as the library's list."""
    doc: dict[str, Any] = {
        "openapi": "3.0.3", "info": {"title": "t", "version": "1"},
        "paths": {
            "/a": {"get": {"operationId": {"x": 1}, "responses": {"200": {"description": "o"}}}},
            "/b": {"get": {"operationId": [1], "responses": {"200": {"description": "o"}}}},
            "/c": {"get": {"operationId": 1, "responses": {"200": {"description": "o"}}}},
            "/d": {"get": {"operationId": True, "responses": {"200": {"description": "o"}}}},
            "/e": {"get": {"operationId": "same", "responses": {"200": {"description": "o"}}}},
            "/f": {"get": {"operationId": "same", "responses": {"200": {"description": "o"}}}},
        },
    }
    raw = json.dumps(doc).encode()
    memo = SectionMemo()
    assert issues(raw, memo) == issues(raw)
    del doc["paths"]["/a"], doc["paths"]["/b"]
    raw = json.dumps(doc).encode()
    assert issues(raw, memo) == issues(raw)
    assert issues(raw, memo) == issues(raw)
    assert memo.validated == 0


@pytest.mark.parametrize("text", [
    '{"$ref": "#/definitions/A"}',
    '{"$ref": "#/definitions/a\\"b", "x": {"$ref": "#/p/~1c"}}',  # an escaped quote
    '{"$ref": "#/a\\\\", "$ref": "#/b"}',  # an escaped backslash ends the literal
    '{"$ref": "unterminated',
    '{"$ref": "#/line\nbreak"} "$ref": "$ref": "#/x"',
    '{"x-$ref": "no", "$ref": ""}',
])
def test_ref_literals_are_the_pattern_s_matches(text: str) -> None:
    # str.find to the closing quote when the literal has no backslash, else the pattern
    expected = []
    start = text.find(_REF_START)
    while start != -1:
        match = _REF.match(text, start)
        if match is not None:
            expected.append(match.group(1))
        start = text.find(_REF_START, start + 1)
    assert _ref_literals(text) == expected


# ------------------------------------------------ revisions sharing unchanged subtrees
def _shared_issues(previous: Any, raw: bytes, memo: SectionMemo) -> tuple[Any, list[Any]]:
    """``raw`` read as a revision of ``previous`` (unchanged subtrees shared), validated
    through ``memo``; the memo settled as at the end of a check."""
    doc = revised(previous, raw)
    found = [i.to_dict() for i in sv.validate_document(doc, memo)]
    memo.parts.settle()
    return doc, found


@pytest.mark.slow
@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: str(p.relative_to(CORPUS)))
def test_shared_revisions_through_the_memo_give_the_cold_issues(path: Path) -> None:
    raw = _loadable(path)
    data = load_document(raw, LoadLimits()).data
    base = json.dumps(data, indent=2).encode()
    for change in (one_operation, shared_schema, first_path_removed):
        changed = change(data)
        if changed is None:
            continue
        revised_raw = json.dumps(changed, indent=2).encode()
        memo = SectionMemo()
        doc = load_document(base, LoadLimits())
        assert [i.to_dict() for i in sv.validate_document(doc, memo)] == issues(base)
        memo.parts.settle()
        doc, found = _shared_issues(doc, revised_raw, memo)
        assert found == issues(revised_raw), change.__name__
        _, back = _shared_issues(doc, base, memo)
        assert back == issues(base), f"back from {change.__name__}"


def _spec(**schemas: Any) -> dict[str, Any]:
    return {"openapi": "3.0.3", "info": {"title": "t", "version": "1"},
            "paths": {f"/{name}": {"get": {"description": name, "responses": {
                "200": {"description": "ok", "content": {"application/json": {
                    "schema": {"$ref": f"#/components/schemas/{name}"}}}}}}}
                for name in ("A", "B")},
            "components": {"schemas": schemas}}


def _revisions(*docs: dict[str, Any]) -> list[tuple[list[Any], list[Any], SectionMemo]]:
    """Each of ``docs`` validated cold and as a shared revision of the one before."""
    memo = SectionMemo()
    previous = None
    seen = []
    for data in docs:
        raw = json.dumps(data).encode()
        if previous is None:
            previous = load_document(raw, LoadLimits())
            found = [i.to_dict() for i in sv.validate_document(previous, memo)]
            memo.parts.settle()
        else:
            previous, found = _shared_issues(previous, raw, memo)
        seen.append((found, issues(raw), memo))
    return seen


def test_a_target_that_changes_elsewhere_is_checked_again() -> None:
    """/A's path item is the previous document's object, but the schema it names is gone,
    then an array (the wrong kind), then back: its reference's problem follows the target."""
    good = {"type": "object"}
    steps = [_spec(A=good, B=good), _spec(B=good), _spec(A=[1], B=good), _spec(A=good, B=good)]
    results = _revisions(*steps)
    for found, cold, _ in results:
        assert found == cold
    assert any(i["kind"] == "reference" for i in results[1][0])
    assert not any(i["kind"] == "reference" for i in results[3][0])


def test_external_references_follow_the_revision() -> None:
    with_external = _spec(A={"$ref": "other.yaml#/A"}, B={"type": "object"})
    plain = _spec(A={"type": "object"}, B={"type": "object"})
    for found, cold, _ in _revisions(plain, with_external, plain, with_external):
        assert found == cold


def test_a_one_operation_shared_revision_walks_only_the_changed_parts() -> None:
    raw = (CORPUS / "public" / "kubernetes-swagger.json").read_bytes()
    data = json.loads(raw)
    changed = one_operation(data)
    assert changed is not None
    memo = SectionMemo()
    base = load_document(raw, LoadLimits())
    sv.validate_document(base, memo)
    memo.parts.settle()
    cold_parts = memo.parts.last("refs.scan")
    revision = revised(base, json.dumps(changed).encode())
    index, kept, unchanged = scan_parts(revision.data, revision.openapi_version, cold_parts)
    assert unchanged.walked <= 8  # the root, /paths, one path item, one operation …
    assert sorted(r.pointer for r in index.local) == sorted(
        r.pointer for r in scan_refs(revision.data, revision.openapi_version, False).local)
    assert problems_of(index, revision.data, kept, unchanged) == []
    found = [i.to_dict() for i in sv.validate_document(revision, memo)]
    assert found == issues(json.dumps(changed).encode())
    assert memo.validated == 1


def test_section_keys_of_a_shared_revision_are_the_cold_keys() -> None:
    """Keys kept from the previous revision are those computed from scratch, including for
    sections whose reachable target changed."""
    steps = [_spec(A={"type": "object"}, B={"type": "string"}),
             _spec(A={"type": "object"}, B={"type": "integer"})]
    memo = SectionMemo()
    previous = load_document(json.dumps(steps[0]).encode(), LoadLimits())
    sections = ["/paths/~1A", "/paths/~1B"]
    _, kept, unchanged = scan_parts(previous.data, "3.0", None)
    first = section_keys(previous.data, sections, "s", memo.parts, unchanged)
    assert first == section_keys(previous.data, sections, "s")
    memo.parts.settle()
    doc = revised(previous, json.dumps(steps[1]).encode())
    _, _, unchanged = scan_parts(doc.data, "3.0", kept)
    again = section_keys(doc.data, sections, "s", memo.parts, unchanged)
    assert again == section_keys(doc.data, sections, "s")
    assert again[0] == first[0] and again[1] != first[1]
    assert unchanged("/paths/~1A") and not unchanged("/components/schemas/B")


# ------------------------------------------ the structural check and replays of a revision
def _middle_operation(data: dict[str, Any]) -> dict[str, Any] | None:
    operations = operations_of(data)
    return operations[len(operations) // 2] if operations else None


def _first_schemas(data: dict[str, Any]) -> dict[str, Any] | None:
    schemas = data.get("definitions") if "swagger" in data else \
        (data.get("components") or {}).get("schemas")
    return schemas if isinstance(schemas, dict) and schemas else None


def _edited(edit: Any) -> Any:
    def change(data: dict[str, Any]) -> dict[str, Any] | None:
        changed = copy.deepcopy(data)
        return changed if edit(changed) is not False else None
    change.__name__ = edit.__name__
    return change


@_edited
def unknown_operation_member(data: dict[str, Any]) -> bool:
    operation = _middle_operation(data)
    if operation is None:
        return False
    operation["stagegate-unknown"] = 1
    return True


@_edited
def numeric_description(data: dict[str, Any]) -> bool:
    operation = _middle_operation(data)
    if operation is None:
        return False
    operation["description"] = 42
    return True


@_edited
def responses_removed(data: dict[str, Any]) -> bool:
    operation = _middle_operation(data)
    if operation is None or "responses" not in operation:
        return False
    del operation["responses"]
    return True


@_edited
def path_added(data: dict[str, Any]) -> bool:
    if not isinstance(data.get("paths"), dict):
        return False
    data["paths"]["/stagegate-new"] = {"parameters": []}
    return True


@_edited
def path_without_slash(data: dict[str, Any]) -> bool:
    if not isinstance(data.get("paths"), dict):
        return False
    data["paths"]["stagegate-no-slash"] = {}
    return True


@_edited
def schema_of_numeric_type(data: dict[str, Any]) -> bool:
    schemas = _first_schemas(data)
    if schemas is None:
        return False
    schemas[next(iter(schemas))] = {"type": 7}
    return True


@_edited
def numeric_title(data: dict[str, Any]) -> bool:
    if not isinstance(data.get("info"), dict):
        return False
    data["info"]["title"] = 5
    return True


STRUCTURAL_CHANGES = (one_operation, unknown_operation_member, numeric_description,
                      responses_removed, path_added, path_without_slash,
                      schema_of_numeric_type, numeric_title)


def _read_issues(previous: Any, raw: bytes, memo: SectionMemo) -> tuple[Any, list[Any]]:
    """``raw`` read by the loader as a revision of ``previous`` and validated through
    ``memo``, settled as at the end of a check."""
    doc = load_document(raw, LoadLimits(), previous=previous)
    found = [i.to_dict() for i in sv.validate_document(doc, memo)]
    memo.parts.settle()
    return doc, found


@pytest.mark.slow
@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: str(p.relative_to(CORPUS)))
def test_revisions_read_as_differences_give_the_cold_issues(path: Path) -> None:
    """Revisions valid and not (against the OpenAPI schema, and beyond), read by the loader
    from the previous document: the issues, in order, are the cold check's."""
    raw = _loadable(path)
    data = load_document(raw, LoadLimits()).data
    base = json.dumps(data, indent=2).encode()
    cold_base = issues(base)
    for change in STRUCTURAL_CHANGES:
        changed = change(data)
        if changed is None:
            continue
        revised_raw = json.dumps(changed, indent=2).encode()
        cold_revised = issues(revised_raw)
        memo = SectionMemo()
        doc, found = _read_issues(None, base, memo)
        assert found == cold_base
        doc, found = _read_issues(doc, revised_raw, memo)
        assert found == cold_revised, change.__name__
        doc, back = _read_issues(doc, base, memo)
        assert back == cold_base, f"back from {change.__name__}"
        _, again = _read_issues(doc, revised_raw, memo)
        assert again == cold_revised, f"{change.__name__} again"


def _counting_structural_checks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    whole = sv.JsonschemaRsValidatorWrapper.iter_errors

    def counted(self: Any, instance: Any) -> Any:
        calls.append(1)
        return whole(self, instance)

    monkeypatch.setattr(sv.JsonschemaRsValidatorWrapper, "iter_errors", counted)
    return calls


def test_a_valid_revision_is_not_checked_whole_against_the_openapi_schema(
        monkeypatch: pytest.MonkeyPatch) -> None:
    data = json.loads((CORPUS / "public" / "kubernetes-swagger.json").read_bytes())
    raw = json.dumps(data).encode()
    invalid = [json.dumps(change(data)).encode()
               for change in (unknown_operation_member, numeric_description)]
    expected = [issues(revision) for revision in invalid]
    calls = _counting_structural_checks(monkeypatch)
    memo = SectionMemo()
    doc, found = _read_issues(None, raw, memo)
    assert found == [] and len(calls) == 1
    changed = one_operation(data)
    assert changed is not None
    for revision in (json.dumps(changed).encode(), raw, json.dumps(changed).encode()):
        doc, found = _read_issues(doc, revision, memo)
        assert found == []
    assert len(calls) == 1, "each revision was proven valid from its changed member"
    for revision, cold in zip(invalid, expected, strict=True):
        doc, found = _read_issues(doc, revision, memo)
        assert [i["kind"] for i in found] == ["structural"]
        assert found == cold
    assert len(calls) == 3, "an invalid revision is checked whole"
    doc, found = _read_issues(doc, raw, memo)
    assert found == [] and len(calls) == 4, "a proof starts from a valid document only"
    doc, found = _read_issues(doc, json.dumps(one_operation(data)).encode(), memo)
    assert found == [] and len(calls) == 4


def test_the_openapi_schemas_decompose_by_member() -> None:
    """Where each version's OpenAPI schema lets a revision be proven valid member by member:
    the document names only (``required``), the Paths Object each member alone."""
    for version, cls in sv.VALIDATORS.items():
        checker: Any = cls({"paths": {}}).schema_validator
        shape = sv._shape(checker.schema)
        assert shape.kind("") == "keyed", version
        (paths,) = shape.applicable("", "paths") or ()
        assert shape.kind(paths) == "strict", version
        assert len(shape.applicable(paths, "/a") or ()) == 1, "one Path Item schema"
        assert shape.applicable("", "x-\u00e9") is None, "non-ASCII names: not decided"
        assert shape.singleton_valid(paths, "/a", {}) is True
        assert shape.singleton_valid(paths, "a", {}) is False
        assert shape.singleton_valid(paths, "/a", {"stagegate": 1}) is False


def test_a_changed_section_s_first_reach_is_replayed_after_it() -> None:
    """Same sections, same order: /a stops (then starts again) reaching S first, and a
    duplicate operationId moves; every later section whose answers change is checked
    again (the replays a revision skips are only those that cannot differ)."""
    def spec(a_refs_s: bool, a_id: str) -> dict[str, Any]:
        schema = {"$ref": "#/components/schemas/S"} if a_refs_s else {"type": "string"}
        return {
            "openapi": "3.0.3", "info": {"title": "t", "version": "1"},
            "paths": {
                "/a": {"get": {"operationId": a_id, "responses": {"200": {
                    "description": "ok", "content": {"application/json": {"schema": schema}}}}}},
                **{f"/{n}": {"get": {"operationId": f"op{n}", "responses": {"200": {
                    "description": "ok", "content": {"application/json": {"schema": {
                        "$ref": "#/components/schemas/S"}}}}}}} for n in "bcdef"},
                "/g": {"get": {"operationId": "same", "responses": {"200": {
                    "description": "ok"}}}},
            },
            "components": {"schemas": {"S": {
                "type": "object", "properties": {"x": {"type": "string"}},
                "required": ["x", "missing"], "allOf": [{"type": "object"}]}}},
        }
    steps = [spec(True, "one"), spec(False, "one"), spec(False, "same"), spec(True, "same"),
             spec(True, "one")]
    memo = SectionMemo()
    doc = None
    counts = []
    for step in steps:
        raw = json.dumps(step, indent=2).encode()
        doc, found = _read_issues(doc, raw, memo)
        assert found == issues(raw)
        counts.append((memo.validated, memo.reused, memo.replayed))
    # /a changes each time; then, in turn, /b reaches S first instead of /a (and back),
    # /g's operationId stops and starts being a duplicate: checked again; the rest are
    # skipped without a replay
    assert counts == [(8, 0, 0), (2, 6, 0), (2, 6, 0), (2, 6, 0), (2, 6, 0)]
    raw = json.dumps(steps[-1], indent=2).encode().replace(b'"t"', b'"u"')
    doc, found = _read_issues(doc, raw, memo)
    assert found == issues(raw)
    assert (memo.validated, memo.reused, memo.replayed) == (0, 8, 0)


def test_a_one_operation_revision_keeps_the_unchanged_digest_groups() -> None:
    """The digests under members the revision did not touch are the previous revision's
    very groups (not looked at one by one); the keys are the cold keys."""
    data = json.loads((CORPUS / "public" / "kubernetes-swagger.json").read_bytes())
    raw = json.dumps(data).encode()
    changed = one_operation(data)
    assert changed is not None
    memo = SectionMemo()
    doc, _ = _read_issues(None, raw, memo)
    before = memo.parts.last("memo.keys")
    doc, _ = _read_issues(doc, json.dumps(changed).encode(), memo)
    after = memo.parts.last("memo.keys")
    assert after.digests["definitions"] is before.digests["definitions"]
    paths = after.digests["paths"]
    shared = [token for token, group in paths.items()
              if group is before.digests["paths"].get(token)]
    assert len(shared) == len(paths) - 1, "every path item's group but the changed one's"
    cold = SectionMemo()
    sv.validate_document(load_document(json.dumps(changed).encode(), LoadLimits()), cold)
    assert after.keys == cold.parts.last("memo.keys").keys


def test_a_revision_away_from_the_previous_errors_keeps_them(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Structural errors in one path item; revisions of another keep them (same issues,
    same order, not checked whole); a revision of the erroneous item, or anything while
    an error sits around everything (at the document), is checked whole."""
    def spec(a: str, b: str, root_error: bool = False, extension: str = "x") -> bytes:
        data: dict[str, Any] = {
            "openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "x-note": extension,
            "paths": {
                "/a": {"get": {"description": a, "responses": {"200": {"description": "o"}}}},
                "/b": {"get": {"description": b, "bogus": 1, "also": 2,
                               "responses": {"200": {"description": "o"}}}},
                "/c": {"get": {"responses": {"x": {"description": "o"}}}},
            },
        }
        if root_error:
            data["stagegate"] = True
        return json.dumps(data, indent=2).encode()

    revisions = [spec("a", "b"), spec("a2", "b"), spec("a3", "b"), spec("a3", "b2"),
                 spec("a4", "b2"), spec("a4", "b2", True), spec("a5", "b2", True),
                 spec("a5", "b2", True, "y")]
    expected = [issues(raw) for raw in revisions]
    calls = _counting_structural_checks(monkeypatch)
    memo = SectionMemo()
    doc = None
    counts = []
    for raw, cold in zip(revisions, expected, strict=True):
        doc, found = _read_issues(doc, raw, memo)
        assert found == cold
        assert [i["kind"] for i in found].count("structural") >= 2
        counts.append(len(calls))
    assert counts == [1, 1, 1, 2, 2, 3, 4, 5]


def test_a_failing_structural_proof_checks_the_revision_whole(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A defect in the proof of a revision (here: any exception) costs time, never the
    issues nor a 500: the revision is then checked whole."""
    data = json.loads((CORPUS / "public" / "kubernetes-swagger.json").read_bytes())
    raw = json.dumps(data).encode()
    changed = one_operation(data)
    assert changed is not None
    revision = json.dumps(changed).encode()
    cold = issues(revision)
    memo = SectionMemo()
    doc, _ = _read_issues(None, raw, memo)

    def broken(*args: Any, **kwargs: Any) -> bool:
        raise RuntimeError("a defect in the proof")

    monkeypatch.setattr(sv, "_proven_same", broken)
    calls = _counting_structural_checks(monkeypatch)
    _, found = _read_issues(doc, revision, memo)
    assert found == cold
    assert len(calls) == 1, "checked whole"

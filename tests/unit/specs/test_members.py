"""A JSON revision read as a difference from the previous document (issue 10).

:func:`specs.members.read` must parse exactly as :func:`specs.strictjson.loads` and record
where members sit; :func:`specs.members.reread` must give exactly the data of a full read,
sharing every subtree outside the re-read member with the previous data, or decline.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from specs import LoadLimits, SpecLoadError, load_document, strictjson
from specs import members as sm
from specs.members import Members, read, reread

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
METHODS = ("get", "put", "post", "delete", "patch")


def _parses(path: Path) -> bool:
    """Whether ``path`` is valid JSON (the corpus' unreadable inputs are test_load's)."""
    try:
        strictjson.loads(path.read_bytes())
    except ValueError:
        return False
    return True


JSON_DOCUMENTS = [p for p in sorted(CORPUS.rglob("*.json")) if _parses(p)]


def _assert_members_name_their_text(text: str, data: Any, members: Members,
                                    path: tuple[str, ...] = ()) -> None:
    node = data
    for token in path:
        node = node[token]
    assert members.keys == list(node)
    for key, keyed, start, end in zip(members.keys, members.keyed, members.starts,
                                      members.ends, strict=True):
        assert json.decoder.scanstring(text, keyed + 1)[0] == key  # type: ignore[attr-defined]
        assert strictjson.loads(text[start:end]) == node[key]
    for key, inner in members.inner.items():
        _assert_members_name_their_text(text, data, inner, (*path, key))


@pytest.mark.parametrize("path", JSON_DOCUMENTS, ids=lambda p: str(p.relative_to(CORPUS)))
def test_read_parses_as_the_strict_parser_and_records_every_member(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    data, members = read(text)
    full = strictjson.loads(text)
    assert data == full
    assert json.dumps(data) == json.dumps(full)  # member order too
    _assert_members_name_their_text(text, data, members)
    assert set(members.keys) == set(data)


def _first_operation(data: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    for template, item in (data.get("paths") or {}).items():
        for method in METHODS:
            if isinstance(item, dict) and isinstance(item.get(method), dict):
                return template, item[method]
    return None


def _read(text: str) -> tuple[dict[str, Any], Members]:
    """:func:`read`, the members marked as checked against a nesting limit of 256 (what
    the loader does after its depth check)."""
    data, members = read(text)
    members.max_depth = 256
    return data, members


def _revision(previous_text: str, text: str) -> tuple[Any, Any]:
    """``(reread's data or None, a full read of text)`` after reading ``previous_text``."""
    data, members = _read(previous_text)
    revised = reread(previous_text, data, members, text, 256)
    return revised, strictjson.loads(text)


@pytest.mark.parametrize("path", [p for p in JSON_DOCUMENTS
                                  if _first_operation(strictjson.loads(p.read_bytes()))],
                         ids=lambda p: str(p.relative_to(CORPUS)))
def test_a_one_operation_revision_rereads_only_its_path_item(path: Path) -> None:
    data = strictjson.loads(path.read_bytes())
    found = _first_operation(data)
    assert found is not None
    template, operation = found
    before = json.dumps(data, indent=2, ensure_ascii=False)
    operation["description"] = "changed by one revision é\u2028"
    after = json.dumps(data, indent=2, ensure_ascii=False)
    previous, members = _read(before)
    revised = reread(before, previous, members, after, 256)
    assert revised is not None
    new, new_members, changed = revised
    assert changed == ("paths", template)
    assert new == strictjson.loads(after)
    assert list(new) == list(previous) and list(new["paths"]) == list(previous["paths"])
    assert all(new[k] is previous[k] for k in new if k != "paths")
    assert all(new["paths"][t] is previous["paths"][t] for t in new["paths"] if t != template)
    assert new["paths"][template] is not previous["paths"][template]
    assert new_members == _read(after)[1]
    assert previous == strictjson.loads(before)  # the previous data is not changed


def test_a_component_schema_change_rereads_that_schema_only() -> None:
    doc: dict[str, Any] = {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {},
           "components": {"schemas": {"A": {"type": "string"}, "B": {"type": "object"}}}}
    before = json.dumps(doc, indent=1)
    doc["components"]["schemas"]["A"]["maxLength"] = 10
    after = json.dumps(doc, indent=1)
    revised, full = _revision(before, after)
    assert revised is not None
    assert revised[2] == ("components", "schemas", "A")
    assert revised[0] == full


BASE = ('{"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "x-n": 1, '
        '"x-s": "abc", "paths": {"/a": {"get": {"description": "a"}}, '
        '"/b": {"get": {"description": "b"}}}}')


@pytest.mark.parametrize(("after", "path"), [
    (BASE.replace('"x-n": 1', '"x-n": 12'), ("x-n",)),  # a number grown at its end
    (BASE.replace('"x-n": 1', '"x-n": 21'), ("x-n",)),  # … and at its start
    (BASE.replace('"description": "b"', '"description": "b", "summary": "s"'), ("paths", "/b")),
    (BASE.replace('"title": "t"', '"title": "title"'), ("info", "title")),
])
def test_changes_inside_one_member_are_reread(after: str, path: tuple[str, ...]) -> None:
    revised, full = _revision(BASE, after)
    assert revised is not None
    assert revised[2] == path
    assert revised[0] == full


@pytest.mark.parametrize("after", [
    BASE,  # identical
    BASE.replace('"openapi": "3.1.0"', '"openapi": "3.0.3"'),  # the version: read whole
    BASE.replace('"x-s": "abc"', '"x-s": "abc", "x-t": 1'),  # a member added after a value
    BASE.replace('"/b": {"get": {"description": "b"}}', '"/b": {}, "/c": {}'),  # added
    BASE.replace('"description": "a"}}, "/b": {"get": {"description": "b"',
                 '"description": "A"}}, "/b": {"get": {"description": "B"'),  # two members
    BASE.replace('"x-n"', '"x-m"'),  # a key
    BASE.replace('"x-n": 1', '"x-n": [1'),  # a syntax error
])
def test_other_changes_are_declined(after: str) -> None:
    data, members = _read(BASE)
    assert reread(BASE, data, members, after, 256) is None


def _loaded_both_ways(before: str, after: str) -> tuple[Any, Any]:
    previous = load_document(before.encode(), LoadLimits())
    outcomes: list[Any] = []
    for kwargs in ({"previous": previous}, {}):
        try:
            outcomes.append(load_document(after.encode(), LoadLimits(), **kwargs).data)
        except SpecLoadError as exc:
            outcomes.append((exc.code, str(exc)))
    return outcomes[0], outcomes[1]


@pytest.mark.parametrize("after", [
    BASE.replace('"description": "b"', '"description": "b", "description": "c"'),  # duplicate
    BASE.replace('"description": "b"', '"description": ' + "[" * 300 + "]" * 300),  # too deep
    BASE.replace('"description": "b"', '"description": NaN'),
    BASE.replace('"description": "b"', '"description": "b\x01"'),  # a control character
])
def test_a_bad_member_in_a_revision_gets_the_full_reads_error(after: str) -> None:
    through_previous, whole = _loaded_both_ways(BASE, after)
    assert isinstance(whole, tuple)  # refused …
    assert through_previous == whole  # … with the same error either way


def test_load_document_with_previous_equals_a_full_read_and_shares() -> None:
    after = BASE.replace('"description": "b"', '"description": "bee"')
    previous = load_document(BASE.encode(), LoadLimits())
    revised = load_document(after.encode(), LoadLimits(), previous=previous)
    full = load_document(after.encode(), LoadLimits())
    assert revised.data == full.data and revised.sha256 == full.sha256
    assert revised.raw == full.raw and revised.text == full.text
    assert (revised.declared_version, revised.openapi_version, revised.format) == \
        (full.declared_version, full.openapi_version, full.format)
    assert revised.members == full.members
    assert revised.data["paths"]["/a"] is previous.data["paths"]["/a"]
    assert revised.data["info"] is previous.data["info"]
    assert revised.locate("/paths/~1b/get/description") == \
        full.locate("/paths/~1b/get/description")


def test_a_revision_under_a_stricter_nesting_limit_is_read_whole() -> None:
    deep = BASE.replace('"x-s": "abc"', '"x-s": ' + "[" * 20 + "]" * 20)
    previous = load_document(deep.encode(), LoadLimits(max_depth=64))
    after = deep.replace('"description": "b"', '"description": "bee"')
    assert load_document(after.encode(), LoadLimits(max_depth=64), previous=previous) \
        .data["paths"]["/a"] is previous.data["paths"]["/a"]  # the same limit: a difference
    with pytest.raises(SpecLoadError) as refused:
        load_document(after.encode(), LoadLimits(max_depth=16), previous=previous)
    assert refused.value.code == "too_deep"  # as a cold read says: the unchanged part is


def test_members_read_outside_the_loader_are_never_reread() -> None:
    data, members = read(BASE)  # no depth check recorded
    after = BASE.replace('"description": "b"', '"description": "bee"')
    assert reread(BASE, data, members, after, 256) is None


@pytest.mark.parametrize("seed", range(40))
def test_common_prefix_and_suffix_are_exact(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sm, "_CHUNK", 4)  # chunk boundaries everywhere
    rng = random.Random(seed)
    a = "".join(rng.choice("ab") for _ in range(rng.randrange(0, 40)))
    b = list(a)
    for _ in range(rng.randrange(0, 3)):
        at = rng.randrange(0, len(b) + 1)
        b[at:at + rng.randrange(0, 3)] = rng.choice(["", "a", "ba", "bb"])
    b_text = "".join(b)
    prefix = 0
    while prefix < min(len(a), len(b_text)) and a[prefix] == b_text[prefix]:
        prefix += 1
    assert sm.common_prefix(a, b_text) == prefix
    room_a, room_b = len(a) - prefix, len(b_text) - prefix
    suffix = 0
    while suffix < min(room_a, room_b) and a[-1 - suffix] == b_text[-1 - suffix]:
        suffix += 1
    assert sm.common_suffix(a, b_text, room_a, room_b) == suffix

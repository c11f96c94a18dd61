"""The rules on Stagegate's own small documents (``tests/corpus/own``) give exactly the
findings, pointers and lines of ``tests/corpus/own/EXPECTED.tsv``.

One test per expected row (a finding, or a near-miss that must stay quiet), and one per
document asserting nothing else is reported by the rules under test (no false positive on
pagination tokens, token-record ids, or data keys).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import NamedTuple

import pytest

from policies.check import SpecCheck, check_spec

OWN = Path(__file__).resolve().parents[2] / "corpus" / "own"
#: the rules whose findings EXPECTED.tsv lists completely
RULES = frozenset({
    "SPEC-OPERATIONS-SECURED", "SPEC-TOKEN-PROFILE", "TRN-BEARER-HEADER",
    "TRN-NO-BASIC-AUTH", "TRN-NO-TOKEN-IN-URL", "TRN-OAUTH-GRANTS",
})


class Row(NamedTuple):
    file: str
    rule_id: str
    status: str
    severity: str
    pointer: str | None
    line: int | None
    contains: str


def _rows() -> list[Row]:
    rows = []
    for text in (OWN / "EXPECTED.tsv").read_text(encoding="utf-8").splitlines():
        if not text.strip() or text.startswith("#"):
            continue
        file, rule_id, status, severity, pointer, line, contains = text.split("\t")
        rows.append(Row(file, rule_id, status, severity, None if pointer == "-" else pointer,
                        None if line == "-" else int(line), contains))
    return rows


ROWS = _rows()
FINDINGS = [r for r in ROWS if r.status != "quiet"]
QUIET = [r for r in ROWS if r.status == "quiet"]


@functools.cache
def checked(file: str) -> SpecCheck:
    return check_spec((OWN / file).read_bytes())


def test_every_document_has_expectations() -> None:
    assert {p.name for p in OWN.glob("*.yaml")} == {r.file for r in ROWS}


@pytest.mark.parametrize("row", FINDINGS, ids=lambda r: f"{r.file}:{r.rule_id}:{r.line}")
def test_expected_finding(row: Row) -> None:
    matches = [
        f for f in checked(row.file).findings
        if f.rule_id == row.rule_id and f.pointer == row.pointer
    ]
    assert matches, f"no {row.rule_id} finding at {row.pointer}"
    (finding,) = matches
    assert (str(finding.status), str(finding.severity), finding.line) == (
        row.status, row.severity, row.line)
    assert row.contains in finding.message


@pytest.mark.parametrize("row", QUIET, ids=lambda r: f"{r.file}:{r.pointer}")
def test_near_miss_stays_quiet(row: Row) -> None:
    assert row.pointer is not None
    loud = [
        f for f in checked(row.file).findings
        if f.rule_id == row.rule_id and f.status != "pass"
        and (row.pointer in ("", f.pointer)
             or (f.pointer or "").startswith(row.pointer + "/"))
    ]
    assert loud == []


@pytest.mark.parametrize("file", sorted({r.file for r in ROWS}))
def test_nothing_unexpected(file: str) -> None:
    expected = {(r.rule_id, r.status, r.pointer) for r in FINDINGS if r.file == file}
    found = {
        (f.rule_id, str(f.status), f.pointer) for f in checked(file).findings
        if f.rule_id in RULES and f.status != "pass"
    }
    assert found == expected

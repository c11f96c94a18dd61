"""Findings have a stable identity (rule id + pointer), so two revisions can be compared."""

from __future__ import annotations

from policies.findings import Finding, Status, compare
from policies.rules import Severity


def finding(rule: str, pointer: str | None, status: Status = Status.FAIL, *, line: int = 1,
            message: str = "m") -> Finding:
    return Finding(rule, Severity.HIGH, status, message, pointer, line, 3)


def test_identity_is_rule_and_pointer_not_line_message_or_status() -> None:
    a = finding("TRN-HTTPS-ONLY", "/servers/0/url", line=4, message="http://a")
    moved = finding("TRN-HTTPS-ONLY", "/servers/0/url", Status.PASS, line=40, message="other")
    assert a.identity == "TRN-HTTPS-ONLY#/servers/0/url"
    assert moved.identity == a.identity
    assert finding("TRN-HTTPS-ONLY", "/servers/1/url").identity != a.identity
    assert finding("TRN-BEARER-HEADER", "/servers/0/url").identity != a.identity
    assert finding("SPEC-VALID", None).identity == "SPEC-VALID#"


def test_identity_survives_storage() -> None:
    a = finding("TRN-HTTPS-ONLY", "/servers/0/url")
    assert Finding.from_dict(a.to_dict()).identity == a.identity


def test_compare_says_new_fixed_and_unchanged() -> None:
    before = [finding("A", "/x"), finding("B", "/y"), finding("C", None, Status.PASS)]
    after = [finding("A", "/x", line=9), finding("B", "/y", Status.PASS), finding("C", None),
             finding("D", "/z", Status.MISSING_EVIDENCE)]
    changes = compare(before, after)
    assert [f.identity for f in changes.new] == ["C#", "D#/z"]
    assert [f.identity for f in changes.fixed] == ["B#/y"]
    assert [f.identity for f in changes.unchanged] == ["A#/x"]

"""The rule catalog, severities and the Finding storage format."""

from __future__ import annotations

import re

import pytest

from policies.findings import Finding, Status
from policies.rules import Severity, UnknownRule, all_rules, get_rule
from policies.spec_rules import SPEC_RULES


def test_severity_ranks_order_critical_first() -> None:
    ranks = [s.rank for s in (Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW)]
    assert ranks == sorted(ranks, reverse=True) and len(set(ranks)) == 4


def test_catalog_is_sorted_and_complete_with_sources() -> None:
    rules = all_rules()
    assert [r.id for r in rules] == sorted(r.id for r in rules)
    for rule in rules:
        assert re.fullmatch(r"[A-Z]+(-[A-Z0-9_]+)+", rule.id)
        assert rule.title and rule.description and rule.remediation
        assert rule.sources and all(s.url.startswith("https://") for s in rule.sources)


def test_every_spec_rule_has_an_evaluator_and_severities_follow_the_policy() -> None:
    spec_ids = {r.id for r in all_rules() if r.evidence == "spec"}
    assert spec_ids == set(SPEC_RULES)
    assert get_rule("TRN-HTTPS-ONLY").severity is Severity.CRITICAL
    assert get_rule("TRN-BEARER-HEADER").severity is Severity.HIGH
    assert get_rule("TRN-NO-TOKEN-IN-URL").help_uri == (
        "https://www.rfc-editor.org/rfc/rfc6750#section-2.3")


def test_unknown_rule_is_a_key_error_naming_it() -> None:
    with pytest.raises(KeyError) as info:
        get_rule("NOPE-RULE")
    assert isinstance(info.value, UnknownRule) and "NOPE-RULE" in str(info.value)


def test_finding_round_trips_through_plain_json() -> None:
    finding = Finding("TRN-HTTPS-ONLY", Severity.CRITICAL, Status.MISSING_EVIDENCE, "m",
                      "/servers/0/url", 4, 5)
    data = finding.to_dict()
    assert data["status"] == "missing-evidence" and data["severity"] == "critical"
    assert Finding.from_dict(data) == finding


@pytest.mark.parametrize("broken", [
    {"severity": "high", "status": "fail", "message": "m"},
    {"rule_id": "X", "severity": "severe", "status": "fail", "message": "m"},
    {"rule_id": "X", "severity": "high", "status": "failed", "message": "m"},
    {"rule_id": "X", "severity": "high", "status": "fail", "message": "m", "line": "4"},
])
def test_from_dict_rejects_malformed_data(broken: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Finding.from_dict(broken)


def test_blocking_statuses() -> None:
    assert {s for s in Status if s.blocks} == {
        Status.FAIL, Status.ERROR, Status.MISSING_EVIDENCE}

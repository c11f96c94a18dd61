"""Gate decisions: fail closed, required rules, severity overrides, block_on."""

from __future__ import annotations

import pytest

from policies.findings import Finding, Status
from policies.gate import decide
from policies.packs import PolicyPack, load_pack, parse_pack
from policies.rules import Severity, all_rules, get_rule

SPEC_RULE_IDS = [r.id for r in all_rules() if r.evidence == "spec"]


def passing(*skip: str) -> list[Finding]:
    """A pass finding for every spec rule except ``skip``."""
    return [Finding(r, get_rule(r).severity, Status.PASS, "ok")
            for r in SPEC_RULE_IDS if r not in skip]


def finding(rule_id: str, status: Status, severity: Severity | None = None) -> Finding:
    return Finding(rule_id, severity or get_rule(rule_id).severity, status, f"{rule_id} {status}",
                   "/x", 3, 1)


@pytest.fixture(scope="module")
def default() -> PolicyPack:
    return load_pack("default")


def test_all_passing_spec_findings_pass_every_gate_before_deployment(
        default: PolicyPack) -> None:
    for stage in ("development", "testing", "retirement"):
        decision = decide(default, stage, passing())
        assert decision.passed and decision.blocking == ()


def test_deployment_also_needs_token_key_and_gateway_evidence(default: PolicyPack) -> None:
    decision = decide(default, "deployment", passing())
    assert not decision.passed
    blocking = {f.rule_id for f in decision.blocking}
    assert {"TOK-NESTED-JWE", "KEY-JWKS-HYGIENE", "GW-ENFORCES-TOKEN", "GW-PROOF"} <= blocking
    assert {f.status for f in decision.blocking} == {Status.MISSING_EVIDENCE}
    evidence = passing() + [Finding(r.id, r.severity, Status.PASS, "ok")
                            for r in all_rules() if r.evidence in ("token", "jwks")]
    unproven = decide(default, "deployment", evidence)
    assert not unproven.passed and "GW-PROOF" in {f.rule_id for f in unproven.blocking}
    everything = evidence + [Finding(r.id, r.severity, Status.PASS, "ok")
                             for r in all_rules() if r.evidence == "gateway"]
    assert decide(default, "deployment", everything).passed


@pytest.mark.parametrize("status", [Status.FAIL, Status.ERROR, Status.MISSING_EVIDENCE])
def test_fail_error_and_missing_evidence_all_block(default: PolicyPack, status: Status) -> None:
    bad = finding("TRN-BEARER-HEADER", status)
    decision = decide(default, "testing", [*passing("TRN-BEARER-HEADER"), bad])
    assert not decision.passed
    assert decision.blocking == (bad,)


@pytest.mark.parametrize("status", [Status.WAIVED, Status.NOT_APPLICABLE])
def test_waived_and_not_applicable_do_not_block(default: PolicyPack, status: Status) -> None:
    decision = decide(default, "testing",
                      [*passing("TRN-BEARER-HEADER"), finding("TRN-BEARER-HEADER", status)])
    assert decision.passed


def test_block_on_compares_severity_ranks(default: PolicyPack) -> None:
    medium = finding("SPEC-TOKEN-PROFILE", Status.FAIL, Severity.MEDIUM)
    findings = [*passing(), medium]
    assert decide(default, "testing", findings).passed  # blocks on high or worse
    assert not decide(default, "deployment", findings).passed  # medium or worse


def test_development_blocks_only_on_the_required_rule(default: PolicyPack) -> None:
    critical = finding("TRN-HTTPS-ONLY", Status.FAIL)
    decision = decide(default, "development", [*passing("TRN-HTTPS-ONLY"), critical])
    assert decision.passed
    invalid = finding("SPEC-VALID", Status.FAIL)
    decision = decide(default, "development", [*passing("SPEC-VALID"), invalid])
    assert decision.blocking == (invalid,)


def test_required_rule_without_any_finding_is_missing_evidence(default: PolicyPack) -> None:
    decision = decide(default, "development", passing("SPEC-VALID"))
    (blocking,) = decision.blocking
    assert (blocking.rule_id, blocking.status) == ("SPEC-VALID", Status.MISSING_EVIDENCE)
    assert "spec evidence" in blocking.message


def test_required_rule_that_was_only_not_applicable_blocks(default: PolicyPack) -> None:
    decision = decide(default, "development",
                      [*passing("SPEC-VALID"), finding("SPEC-VALID", Status.NOT_APPLICABLE)])
    assert [f.status for f in decision.blocking] == [Status.MISSING_EVIDENCE]


def test_applied_rule_without_finding_blocks_at_its_severity(default: PolicyPack) -> None:
    decision = decide(default, "testing", passing("TRN-HTTPS-ONLY"))
    (blocking,) = decision.blocking
    assert (blocking.rule_id, blocking.status, blocking.severity) == (
        "TRN-HTTPS-ONLY", Status.MISSING_EVIDENCE, Severity.CRITICAL)


def test_findings_of_rules_the_stage_does_not_apply_are_ignored(default: PolicyPack) -> None:
    decision = decide(default, "retirement", [finding("TRN-HTTPS-ONLY", Status.FAIL)])
    assert decision.passed and decision.findings == ()


PACK = b"""\
name: overrides
stages:
  development: {}
  testing:
    apply: {rules: [TRN-HTTPS-ONLY, TRN-BEARER-HEADER]}
    require: [SPEC-TOKEN-PROFILE]
    block_on: critical
    severity_overrides: {TRN-HTTPS-ONLY: low, TRN-BEARER-HEADER: critical}
  deployment: {}
  retirement: {}
"""


def test_severity_overrides_change_what_blocks() -> None:
    pack = parse_pack(PACK)
    findings = [finding("TRN-HTTPS-ONLY", Status.FAIL), finding("TRN-BEARER-HEADER", Status.FAIL),
                finding("SPEC-TOKEN-PROFILE", Status.PASS)]
    decision = decide(pack, "testing", findings)
    assert [(f.rule_id, f.severity) for f in decision.blocking] == [
        ("TRN-BEARER-HEADER", Severity.CRITICAL)]
    assert {f.rule_id: f.severity for f in decision.findings}["TRN-HTTPS-ONLY"] is Severity.LOW


def test_required_rule_blocks_whatever_its_severity() -> None:
    pack = parse_pack(PACK)
    low = finding("SPEC-TOKEN-PROFILE", Status.FAIL, Severity.LOW)
    decision = decide(pack, "testing", [finding("TRN-HTTPS-ONLY", Status.PASS),
                                        finding("TRN-BEARER-HEADER", Status.PASS), low])
    assert decision.blocking == (low,)


def test_design_is_never_gated_and_unknown_stages_are_refused(default: PolicyPack) -> None:
    assert decide(default, "design", [finding("SPEC-VALID", Status.FAIL)]).passed
    with pytest.raises(ValueError, match="unknown stage 'staging'"):
        decide(default, "staging", [])


def test_to_dict_is_plain_json(default: PolicyPack) -> None:
    decision = decide(default, "testing", [*passing("TRN-HTTPS-ONLY"),
                                           finding("TRN-HTTPS-ONLY", Status.FAIL)])
    data = decision.to_dict()
    assert data["target"] == "testing" and data["passed"] is False
    assert data["pack"] == "default" and data["pack_sha256"] == default.sha256
    assert data["blocking"][0] == {
        "rule_id": "TRN-HTTPS-ONLY", "severity": "critical", "status": "fail",
        "message": "TRN-HTTPS-ONLY fail", "pointer": "/x", "line": 3, "column": 1}
    assert len(data["findings"]) == len(SPEC_RULE_IDS)

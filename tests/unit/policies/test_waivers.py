"""Waivers in the gate decision (framework-free) and the packs' per-stage approval count."""

from __future__ import annotations

import pytest

from policies.findings import Finding, Status
from policies.gate import GateWaiver, apply_waivers, decide, waivable
from policies.packs import PACKS_DIR, PackError, PolicyPack, load_pack, parse_pack
from policies.rules import Severity, all_rules, get_rule

SPEC_RULE_IDS = [r.id for r in all_rules() if r.evidence == "spec"]
HIGH = "SPEC-OPERATIONS-SECURED"
CRITICAL = "TRN-HTTPS-ONLY"


def passing(*skip: str) -> list[Finding]:
    return [Finding(r, get_rule(r).severity, Status.PASS, "ok")
            for r in SPEC_RULE_IDS if r not in skip]


def failing(rule_id: str, status: Status = Status.FAIL) -> Finding:
    return Finding(rule_id, get_rule(rule_id).severity, status, f"{rule_id} {status}", "/p", 4, 2)


@pytest.fixture(scope="module")
def default() -> PolicyPack:
    return load_pack("default")


def test_a_waived_failure_passes_the_gate_and_says_so(default: PolicyPack) -> None:
    findings = passing(HIGH) + [failing(HIGH)]
    assert not decide(default, "testing", findings).passed
    waiver = GateWaiver(HIGH, 7, "2027-01-31T00:00:00Z", "ann@example.com")
    decision = decide(default, "testing", findings, [waiver])
    assert decision.passed and decision.blocking == ()
    (waived,) = [f for f in decision.findings if f.rule_id == HIGH]
    assert waived.status == Status.WAIVED
    assert waived.message == (f"{HIGH} fail [waived (waiver 7, by ann@example.com, "
                              "until 2027-01-31T00:00:00Z)]")
    assert (waived.pointer, waived.line, waived.column) == ("/p", 4, 2)


def test_a_waiver_of_another_rule_changes_nothing(default: PolicyPack) -> None:
    findings = passing(HIGH) + [failing(HIGH)]
    decision = decide(default, "testing", findings, [GateWaiver("TRN-NO-TOKEN-IN-URL")])
    assert [f.rule_id for f in decision.blocking] == [HIGH]


def test_critical_failures_are_never_waived(default: PolicyPack) -> None:
    findings = passing(CRITICAL) + [failing(CRITICAL)]
    decision = decide(default, "testing", findings, [GateWaiver(CRITICAL)])
    assert [(f.rule_id, f.status) for f in decision.blocking] == [(CRITICAL, Status.FAIL)]


def test_a_stage_override_to_critical_is_not_waived() -> None:
    raw = (PACKS_DIR / "default.yaml").read_bytes().replace(
        b"    block_on: high\n",
        f"    block_on: high\n    severity_overrides: {{{HIGH}: critical}}\n".encode(), 1)
    strict = parse_pack(raw)
    decision = decide(strict, "testing", passing(HIGH) + [failing(HIGH)], [GateWaiver(HIGH)])
    assert [(f.rule_id, f.severity) for f in decision.blocking] == [(HIGH, Severity.CRITICAL)]


@pytest.mark.parametrize("status", [Status.ERROR, Status.MISSING_EVIDENCE])
def test_errors_and_missing_evidence_are_never_waived(default: PolicyPack,
                                                       status: Status) -> None:
    decision = decide(default, "testing", passing(HIGH) + [failing(HIGH, status)],
                      [GateWaiver(HIGH)])
    assert [(f.rule_id, f.status) for f in decision.blocking] == [(HIGH, status)]


def test_a_required_rule_that_is_waived_counts_as_present(default: PolicyPack) -> None:
    findings = passing("SPEC-VALID") + [failing("SPEC-VALID")]
    assert not decide(default, "development", findings).passed
    decision = decide(default, "development", findings, [GateWaiver("SPEC-VALID")])
    assert decision.passed
    assert not [f for f in decision.findings if f.status == Status.MISSING_EVIDENCE]


def test_waivable_and_apply_waivers_directly() -> None:
    assert waivable(failing(HIGH))
    assert not waivable(failing(CRITICAL))
    assert not waivable(Finding(HIGH, Severity.HIGH, Status.PASS, "ok"))
    out = apply_waivers([failing(HIGH), failing(CRITICAL)],
                        [GateWaiver(HIGH), GateWaiver(CRITICAL)])
    assert [f.status for f in out] == [Status.WAIVED, Status.FAIL]
    assert out[0].message.endswith("[waived]")


# ------------------------------------------------------------------------------ approvals
def test_the_default_pack_asks_one_approval_for_deployment_only(default: PolicyPack) -> None:
    assert {s: p.approvals for s, p in default.stages.items()} == {
        "development": 0, "testing": 0, "deployment": 1, "retirement": 0}


def test_a_pack_without_the_key_still_needs_an_approval_for_deployment() -> None:
    raw = (PACKS_DIR / "default.yaml").read_bytes().replace(b"    approvals: 1\n", b"", 1)
    assert b"approvals: 1\n" not in raw.split(b"stages:")[1]
    assert parse_pack(raw).stage("deployment").approvals == 1


@pytest.mark.parametrize("value", ["-1", "11", "true", "'2'", "1.5"])
def test_bad_approval_counts_are_refused(value: str) -> None:
    raw = (PACKS_DIR / "default.yaml").read_bytes().replace(
        b"    approvals: 1\n", f"    approvals: {value}\n".encode(), 1)
    with pytest.raises(PackError, match="approvals"):
        parse_pack(raw)


def test_any_stage_may_ask_for_approvals() -> None:
    raw = (PACKS_DIR / "default.yaml").read_bytes().replace(
        b"    block_on: high\n", b"    block_on: high\n    approvals: 2\n", 1)
    assert parse_pack(raw).stage("testing").approvals == 2

"""The gate decision: may an API version enter a stage, given a pack and the findings?

Fail closed (DESIGN.md "Rules, policy packs and gates"): ``fail``, ``error`` and
``missing-evidence`` findings block when their rule is required or their severity (after the
stage's overrides) is at least the stage's ``block_on``.  A rule the gate applies but that
has no finding at all gets a synthesized ``missing-evidence`` finding, so nothing passes for
lack of evidence; a required rule must also have at least one ``pass`` (or ``waived``).

Waivers: :func:`decide` takes the waivers in force for the version (plain
:class:`GateWaiver` values; the caller picks those not expired or revoked at its clock).  A
``fail`` finding of a waived rule becomes ``waived`` — it counts as passing — unless the gate
sees it as ``critical`` (critical findings are never waived).  ``error`` and
``missing-evidence`` findings are never waived: a waiver excuses a known failure, not a lack
of evidence.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from policies.findings import Finding, Status, sort_key
from policies.packs import INITIAL_STAGE, STAGES, PolicyPack, StagePolicy
from policies.rules import Severity


@dataclass(frozen=True, slots=True)
class GateWaiver:
    """A waiver in force for one rule of the version being judged.

    :ivar rule_id: the waived rule.
    :ivar waiver_id: the waiver's id where it is stored (shown in the finding's message).
    :ivar until: when it stops counting, as text for people (e.g. ``2027-01-31T00:00:00Z``).
    :ivar granted_by: who granted it.
    """

    rule_id: str
    waiver_id: int | str | None = None
    until: str = ""
    granted_by: str = ""


def waivable(finding: Finding) -> bool:
    """True when a waiver may excuse ``finding``: a ``fail`` below ``critical``."""
    return finding.status == Status.FAIL and finding.severity != Severity.CRITICAL


def apply_waivers(findings: Iterable[Finding], waivers: Iterable[GateWaiver]) -> list[Finding]:
    """``findings`` with every :func:`waivable` finding of a waived rule turned ``waived``
    (its message says by which waiver, by whom and until when); others unchanged."""
    by_rule = {w.rule_id: w for w in waivers}
    out = []
    for finding in findings:
        waiver = by_rule.get(finding.rule_id)
        if waiver is not None and waivable(finding):
            parts = [f"waiver {waiver.waiver_id}" if waiver.waiver_id is not None else "",
                     f"by {waiver.granted_by}" if waiver.granted_by else "",
                     f"until {waiver.until}" if waiver.until else ""]
            detail = ", ".join(p for p in parts if p)
            note = f"waived ({detail})" if detail else "waived"
            finding = replace(finding, status=Status.WAIVED, message=f"{finding.message} [{note}]")
        out.append(finding)
    return out


@dataclass(frozen=True, slots=True)
class GateDecision:
    """Whether the gate into ``target`` passes.

    :ivar target: the stage being entered.
    :ivar passed: true when nothing blocks.
    :ivar blocking: the findings that block, most severe first.
    :ivar findings: every finding the gate considered (rules the stage applies), with the
        stage's severity overrides applied and synthesized ``missing-evidence`` findings.
    :ivar pack: the pack's name.
    :ivar pack_sha256: SHA-256 of the pack file, so a decision can be traced to its policy.
    """

    target: str
    passed: bool
    blocking: tuple[Finding, ...]
    findings: tuple[Finding, ...]
    pack: str
    pack_sha256: str

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {
            "target": self.target,
            "passed": self.passed,
            "blocking": [f.to_dict() for f in self.blocking],
            "findings": [f.to_dict() for f in self.findings],
            "pack": self.pack,
            "pack_sha256": self.pack_sha256,
        }


def decide(pack: PolicyPack, target_stage: str, findings: Iterable[Finding],
           waivers: Iterable[GateWaiver] = ()) -> GateDecision:
    """Decide the gate into ``target_stage``.

    :param pack: the loaded policy pack.
    :param target_stage: the stage to enter; ``design`` (the initial stage) is never gated.
    :param findings: findings from any evaluator (spec, token, …); those of rules the stage
        does not apply are ignored.
    :param waivers: waivers in force (see the module docstring); applied after the stage's
        severity overrides, so a rule the stage raises to ``critical`` is not waived.
    :raises ValueError: ``target_stage`` is not a stage id.
    """
    if target_stage not in STAGES:
        raise ValueError(f"unknown stage {target_stage!r}; stages are {', '.join(STAGES)}")
    if target_stage == INITIAL_STAGE:
        return GateDecision(target_stage, True, (), (), pack.name, pack.sha256)
    policy = pack.stage(target_stage)
    considered = apply_waivers(
        [replace(f, severity=policy.severity_of(f)) for f in findings
         if policy.applies(f.rule_id)],
        waivers,
    )
    considered += _missing(policy, considered)
    blocking = [f for f in considered if _blocks(policy, f)]
    return GateDecision(
        target=target_stage,
        passed=not blocking,
        blocking=tuple(sorted(blocking, key=sort_key)),
        findings=tuple(sorted(considered, key=sort_key)),
        pack=pack.name,
        pack_sha256=pack.sha256,
    )


def _blocks(policy: StagePolicy, finding: Finding) -> bool:
    if not finding.status.blocks:
        return False
    if finding.rule_id in policy.require:
        return True
    return policy.block_on is not None and finding.severity.rank >= policy.block_on.rank


def _missing(policy: StagePolicy, considered: list[Finding]) -> list[Finding]:
    """Synthesized ``missing-evidence`` findings for applied rules that lack one."""
    by_rule: dict[str, list[Finding]] = {}
    for f in considered:
        by_rule.setdefault(f.rule_id, []).append(f)
    synthesized = []
    for rule in policy.applied_rules():
        found = by_rule.get(rule.id, [])
        severity = policy.severity_overrides.get(rule.id, rule.severity)
        if not found:
            message = (f"No {rule.evidence} evidence was evaluated for {rule.id} "
                       f"({rule.title}); provide it before entering {policy.stage}.")
        elif rule.id in policy.require and not any(
            f.status in (Status.PASS, Status.WAIVED) or f.status.blocks for f in found
        ):
            message = (f"{rule.id} is required to pass before entering {policy.stage}, but "
                       "it was not applicable to the evidence given.")
        else:
            continue
        synthesized.append(Finding(rule.id, severity, Status.MISSING_EVIDENCE, message))
    return synthesized

"""The one gate function: collect findings from the registered evidence providers, apply the
waivers in force, decide (:func:`policies.gate.decide`) and — when recording — store the
:class:`~lifecycle.catalog.models.CheckRun`, sign the gate record and audit a block.

Used by stage moves (:mod:`.moves`), promotion requests (:mod:`lifecycle.review.approvals`)
and the board / version page (``record=False``: nothing is stored).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lifecycle import audit
from lifecycle.catalog import stages
from lifecycle.catalog.models import ApiVersion, CheckRun
from lifecycle.core.actor import Actor
from lifecycle.core.clock import aware
from lifecycle.core.db import utcnow
from lifecycle.core.errors import ApprovalRequired, GateFailed
from lifecycle.core.extensions import db
from lifecycle.gates import waivers
from lifecycle.gates.providers import collect_findings, policy_pack
from lifecycle.trust import records
from lifecycle.trust.models import GateRecord
from policies.findings import Finding
from policies.gate import GateDecision, decide
from policies.packs import PolicyPack

#: called before the commit of a blocked, recorded evaluation with its check run
OnBlocked = Callable[[CheckRun], None]


@dataclass(frozen=True, slots=True)
class GateOutcome:
    """What :func:`evaluate_gate` found.

    :ivar decision: the gate decision (waivers applied).
    :ivar check_run: the stored check run (``None`` when not recorded).
    :ivar record: the signed gate record (``None`` when not recorded).
    """

    decision: GateDecision
    check_run: CheckRun | None = None
    record: GateRecord | None = None


def gate_findings(version_obj: ApiVersion, pack: PolicyPack, target: str,
                  now: datetime | None = None) -> list[Finding]:
    """Every finding the gate into ``target`` considers (before waivers): those of the
    registered evidence providers whose kind the stage's rules use
    (:func:`lifecycle.gates.providers.collect_findings`)."""
    return collect_findings(version_obj, pack, target, aware(now))


def gate_decision(version_obj: ApiVersion, pack: PolicyPack, target: str,
                  now: datetime | None = None) -> GateDecision:
    """The gate decision with the version's waivers in force at ``now`` applied (nothing is
    stored)."""
    moment = aware(now)
    return decide(pack, target, collect_findings(version_obj, pack, target, moment),
                  waivers.in_force(version_obj, moment))


def evaluate_gate(version_obj: ApiVersion, target: str, *, actor: Actor,
                  now: datetime | None = None, record: bool,
                  from_stage: str | None = None, requested_by: str | None = None,
                  approvals: Sequence[Mapping[str, Any]] | None = None,
                  require_approvals: bool = False,
                  on_blocked: OnBlocked | None = None) -> GateOutcome:
    """Evaluate the gate into ``target`` for ``version_obj``.

    :param actor: who asks (the audit entry of a block; the record's default requester).
    :param now: the time evidence age and waivers are judged at (default the app clock).
    :param record: store the CheckRun and the signed gate record (``False``: a read).
    :param from_stage: the stage left (the record's ``from``; default the current stage).
    :param requested_by: who asked for the move (the record's ``requested_by``; default
        ``actor``).
    :param approvals: approvals given (``{"approver", "approved_at", "comment",
        "request"}``; listed in the record).
    :param require_approvals: refuse a passing gate when fewer approvals than the pack asks
        for were given (nothing is stored).
    :param on_blocked: called before the commit of a recorded block with its check run, so a
        caller's own changes commit with it.
    :returns: the outcome; when recording, the check run and record are flushed but not
        committed (the caller's unit of work commits them).
    :raises ApprovalRequired: ``require_approvals`` and the gate passes without enough
        approvals (the session is rolled back).
    :raises GateFailed: recording and the gate blocks — the CheckRun, the record and the
        ``gate.blocked`` audit entry are committed first.
    :raises lifecycle.core.errors.KeyStoreUnavailable: the signing key cannot be used.
    """
    moment = aware(now)
    pack = policy_pack()
    decision = gate_decision(version_obj, pack, target, moment)
    if not record:
        return GateOutcome(decision)
    needed = pack.stage(target).approvals if target in pack.stages else 0
    if require_approvals and decision.passed and needed and len(approvals or ()) < needed:
        db.session.rollback()
        raise ApprovalRequired(target, needed)
    revision = version_obj.current_revision
    run = CheckRun(
        api_version=version_obj,
        revision_id=revision.id if revision else None,
        target_stage=target,
        passed=decision.passed,
        pack=decision.pack,
        pack_sha256=decision.pack_sha256,
        findings=[f.to_dict() for f in decision.findings],
        created_at=utcnow(),
    )
    db.session.add(run)
    db.session.flush()
    start = from_stage or version_obj.stage
    gate = records.record_decision(run, version_obj, decision, from_stage=start,
                                   requested_by=(requested_by or actor.label)[:100],
                                   approvals=approvals or ())
    if not decision.passed:
        run_id = run.id
        audit.record("gate.blocked", actor.label, audit.subject_of(version_obj),
                     {"from": start, "to": target, "check_run": run_id,
                      "gate_record": gate.id, "pack": decision.pack,
                      "pack_sha256": decision.pack_sha256,
                      "blocking": sorted({f.rule_id for f in decision.blocking})})
        if on_blocked is not None:
            on_blocked(run)
        db.session.commit()
        raise GateFailed(decision, run_id)
    return GateOutcome(decision, run, gate)


def gate_status(version_obj: ApiVersion, target: str | None = None,
                now: datetime | None = None) -> GateDecision | None:
    """The gate decision for moving ``version_obj`` into ``target`` (nothing is stored).

    Evaluates the latest revision's stored findings, and for stages that need them the
    stored JWKS and token evidence, through the configured pack (nothing is re-parsed).
    Without a revision every spec rule is ``missing-evidence`` and blocks (fail closed).

    :param target: a stage id; default the next stage.
    :param now: the time evidence age is judged at (default the app clock).
    :returns: the decision, or ``None`` when there is no next stage (retired).
    """
    if target is None:
        target = stages.next_stage(version_obj.stage)
        if target is None:
            return None
    return gate_decision(version_obj, policy_pack(), target, now)

"""Stage moves: promotion, demotion and retirement of a version through the stage machine
(:mod:`lifecycle.catalog.stages`), gated by :func:`lifecycle.gates.evaluate.evaluate_gate`."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from lifecycle import audit
from lifecycle.catalog import stages
from lifecycle.catalog.models import ApiVersion, CheckRun, Transition
from lifecycle.catalog.services import get_version
from lifecycle.core.actor import Actor
from lifecycle.core.db import utcnow
from lifecycle.core.errors import Conflict
from lifecycle.core.extensions import db
from lifecycle.gates.evaluate import evaluate_gate

MAX_ACTOR = 100


def transition(name: str, version: str, to: str, reason: str | None = None, *,
               actor: Actor) -> Transition:
    """Move a version to stage ``to`` (promotion, demotion or retirement).

    Gated moves record a :class:`~lifecycle.catalog.models.CheckRun` whether they pass or
    not.  The stage changes with a conditional ``UPDATE ... WHERE stage = <from>``, so of two
    simultaneous moves of one version exactly one succeeds.

    :param reason: mandatory for demotions and for abandoning (retirement before deployment).
    :param actor: who asks (recorded in the transition and the audit trail).
    :returns: the recorded :class:`~lifecycle.catalog.models.Transition`.
    :raises NotFound: no such API or version.
    :raises InvalidTransition: the stage machine forbids the move.
    :raises GateFailed: the gate of ``to`` blocks (the blocked CheckRun is stored).
    :raises ApprovalRequired: the gate passes but the pack asks for approvals for ``to``
        (default: ``deployment``); use :func:`lifecycle.review.approvals.request_promotion`.
    :raises Conflict: another request changed the version's stage first.
    """
    obj = get_version(name, version)
    move = stages.plan(obj.stage, to, reason)
    return execute_move(obj, move, actor)


#: called by :func:`execute_move` before its commit with the transition (``None`` when the
#: gate blocked) and the check run (``None`` when not gated)
OnDecided = Callable[["Transition | None", "CheckRun | None"], None]


def execute_move(obj: ApiVersion, move: stages.Move, actor: Actor, *,
                 approvals: Sequence[Mapping[str, Any]] | None = None,
                 requested_by: str | None = None,
                 on_decided: OnDecided | None = None) -> Transition:
    """Carry out a planned move of ``obj`` (the body of :func:`transition`).

    :param approvals: for a move into a stage whose pack asks for approvals: the approvals
        given (``{"approver", "approved_at", "comment", "request"}``; listed in the gate
        record).  Without them such a move is refused when its gate passes.
    :param requested_by: who asked for the move (the gate record's ``requested_by``;
        default ``actor``).
    :param on_decided: called before the commit (see :data:`OnDecided`), so a caller's own
        changes commit with the decision.
    :raises GateFailed: as :func:`transition` (the blocked CheckRun is stored).
    :raises ApprovalRequired: the gate passes, but fewer approvals than the pack asks for
        were given (nothing is stored).
    :raises Conflict: another request changed the version's stage first.
    """
    run: CheckRun | None = None
    gate = None
    if move.gated:
        outcome = evaluate_gate(
            obj, move.to_stage, actor=actor, record=True, from_stage=move.from_stage,
            requested_by=requested_by, approvals=approvals, require_approvals=True,
            on_blocked=(lambda blocked: on_decided(None, blocked)) if on_decided else None)
        run, gate = outcome.check_run, outcome.record

    now = utcnow()
    changed: sa.CursorResult[Any] = db.session.execute(  # type: ignore[assignment]
        sa.update(ApiVersion)
        .where(ApiVersion.id == obj.id, ApiVersion.stage == move.from_stage)
        .values(stage=move.to_stage, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:
        db.session.rollback()
        raise Conflict(
            "The version's stage was changed by another request at the same time; reload and "
            "try again."
        )
    record = Transition(
        version_id=obj.id,
        from_stage=move.from_stage,
        to_stage=move.to_stage,
        kind=move.kind.value,
        actor=actor.label[:MAX_ACTOR],
        reason=move.reason,
        check_run_id=run.id if run else None,
        created_at=now,
    )
    db.session.add(record)
    audit.record(f"transition.{move.kind.value}", record.actor, audit.subject_of(obj),
                 {"from": move.from_stage, "to": move.to_stage, "reason": move.reason,
                  "check_run": run.id if run else None,
                  "gate_record": gate.id if gate else None})
    if on_decided is not None:
        db.session.flush()
        on_decided(record, run)
    db.session.commit()
    db.session.refresh(obj)
    return record

"""Four-eyes approval of promotions into stages whose pack asks for approvals (deployment).

The flow (every step one unit of work, each recorded in the audit trail):

1. **request** — :func:`request_promotion`: the gate of the target stage is evaluated and
   stored (a :class:`~lifecycle.catalog.models.CheckRun` with its signed gate record).  A blocked
   gate refuses the request (:class:`~lifecycle.core.errors.GateFailed`, ``gate.blocked``);
   otherwise a ``pending`` :class:`~lifecycle.review.models.PromotionRequest` is stored
   (``promotion.requested``) and replaces an earlier pending request of the version
   (``superseded``);
2. **approve** / **reject** — :func:`approve`, :func:`reject`: one decision per approver
   with a comment (``promotion.approved`` / ``promotion.rejected``).  The requester can never
   approve their own request (:class:`SelfApproval`).  A request that is no longer
   ``pending`` cannot be decided (:class:`~lifecycle.core.errors.Conflict`); nor can one whose
   version left the stage it was requested from (it becomes ``superseded``);
3. **transition** — when the approvals reach the pack's count, the same unit of work claims
   the request (``UPDATE … WHERE state = 'pending'``: of two simultaneous final approvals
   exactly one wins, the other gets a Conflict) and moves the version through
   :func:`lifecycle.gates.moves.execute_move`, which re-evaluates the gate at that moment.  A
   passing gate makes the transition (``transition.promotion``; its gate record lists the
   approvals: who, when, comment) and the request ``approved``.  A failing gate keeps the
   approval, stores the blocked check (``gate.blocked``), marks the request ``blocked`` and
   raises :class:`~lifecycle.core.errors.GateFailed` — a new request is needed once fixed.

Who may do what is decided by :mod:`lifecycle.accounts.authz`: requesting needs ``api.change`` on
the
API or ``approve``; approving and rejecting need ``approve``.  People are identified by the
actor string (the user's email), compared case-insensitively.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from lifecycle import audit
from lifecycle.accounts import authz
from lifecycle.catalog import services, stages
from lifecycle.catalog.models import ApiVersion, CheckRun, Transition
from lifecycle.core.actor import Actor
from lifecycle.core.db import commit_or_conflict, utcnow
from lifecycle.core.errors import (
    Conflict,
    NoApprovalNeeded,
    NotFound,
    SelfApproval,
    ValidationFailed,
)
from lifecycle.core.extensions import db
from lifecycle.gates import moves, providers
from lifecycle.gates.evaluate import evaluate_gate
from lifecycle.review.models import Approval, PromotionRequest

MAX_COMMENT = 2000
MAX_ACTOR = 320
#: the Conflict message when another decision on a request committed first
_DECIDED_AT_ONCE = ("Another decision on this request was made at the same time; reload and "
                    "try again.")


def same_person(a: str, b: str) -> bool:
    """Whether two actor strings (emails) name the same person (case-insensitive)."""
    return a.strip().casefold() == b.strip().casefold()


def may_request(user: Any, api: Any) -> bool:
    """Whether ``user`` may ask for a promotion of ``api``: a developer of its team (or an
    admin: ``api.change``), or an approver (``approve``)."""

    return authz.can(user, "api.change", api=api) or authz.can(user, "approve")


def _comment(comment: str | None, *, required: bool) -> str:
    text = (comment or "").strip()
    if required and not text:
        raise ValidationFailed({"comment": "Say why (the requester reads it)."})
    if len(text) > MAX_COMMENT:
        raise ValidationFailed({"comment": f"At most {MAX_COMMENT} characters."})
    return text


# ------------------------------------------------------------------------------ reads
def required_approvals(target: str) -> int:
    """How many approvals the configured pack asks for before entering ``target``."""
    pack = providers.policy_pack()
    return pack.stage(target).approvals if target in pack.stages else 0


def list_requests(version_obj: ApiVersion) -> list[PromotionRequest]:
    """Every promotion request of a version, newest first, with their decisions."""
    stmt = (db.select(PromotionRequest).where(PromotionRequest.version_id == version_obj.id)
            .options(selectinload(PromotionRequest.decisions))
            .order_by(PromotionRequest.id.desc()))
    return list(db.session.execute(stmt).scalars())


def pending_request(version_obj: ApiVersion) -> PromotionRequest | None:
    """The version's pending request, or ``None``."""
    stmt = db.select(PromotionRequest).where(PromotionRequest.version_id == version_obj.id,
                                             PromotionRequest.state == "pending")
    return db.session.execute(stmt).scalar_one_or_none()


def get_request(version_obj: ApiVersion, request_id: int) -> PromotionRequest:
    """The version's promotion request ``request_id``.

    :raises NotFound: the version has no such request.
    """
    stmt = db.select(PromotionRequest).where(PromotionRequest.version_id == version_obj.id,
                                             PromotionRequest.id == request_id)
    found = db.session.execute(stmt).scalar_one_or_none()
    if found is None:
        raise NotFound(f"This version has no promotion request {request_id}.")
    return found


def approval_entry(approval: Approval) -> dict[str, Any]:
    """An approval as listed in a gate record: ``approver``, ``approved_at``, ``comment``,
    ``request``."""
    return {"approver": approval.approver,
            "approved_at": audit.format_time(approval.created_at),
            "comment": approval.comment, "request": approval.request_id}


# ------------------------------------------------------------------------------ request
def request_promotion(name: str, version: str, to: str, reason: str | None = None,
                      *, actor: Actor) -> PromotionRequest:
    """Ask for the move of a version into ``to``, a stage that needs approvals.

    :param reason: why (free text, at most 2000 characters; shown to approvers).
    :param actor: the requester (who may not approve it).
    :returns: the new ``pending`` request (its ``check_run`` is the gate at request time).
    :raises NotFound: no such API or version.
    :raises InvalidTransition: the stage machine forbids the move.
    :raises NoApprovalNeeded: the move needs no approval (use a plain transition).
    :raises GateFailed: the gate of ``to`` blocks now (the blocked check is stored).
    :raises Conflict: another request for the version was stored at the same moment.
    """
    obj = services.get_version(name, version)
    move = stages.plan(obj.stage, to, reason)
    pack = providers.policy_pack()
    needed = pack.stage(move.to_stage).approvals if move.gated else 0
    if not needed:
        raise NoApprovalNeeded(f"Moving to {move.to_stage} needs no approval; use a "
                               "transition instead.")
    requester = actor.label
    outcome = evaluate_gate(obj, move.to_stage, actor=actor, record=True,
                            from_stage=move.from_stage)
    run, gate = outcome.check_run, outcome.record
    assert run is not None and gate is not None  # recorded and passed
    subject = audit.subject_of(obj)
    now = utcnow()
    superseded = [r.id for r in db.session.execute(
        db.select(PromotionRequest).where(PromotionRequest.version_id == obj.id,
                                          PromotionRequest.state == "pending")).scalars()]
    if superseded:
        db.session.execute(
            sa.update(PromotionRequest)
            .where(PromotionRequest.id.in_(superseded), PromotionRequest.state == "pending")
            .values(state="superseded", closed_at=now)
            .execution_options(synchronize_session=False))
    req = PromotionRequest(version_id=obj.id, from_stage=move.from_stage,
                           to_stage=move.to_stage, reason=move.reason, requested_by=requester,
                           state="pending", required_approvals=needed, check_run_id=run.id,
                           created_at=now)
    db.session.add(req)
    try:
        db.session.flush()
    except IntegrityError as exc:
        db.session.rollback()
        raise Conflict("Another promotion request for this version was made at the same "
                       "time; reload and try again.") from exc
    audit.record("promotion.requested", requester, subject,
                 {"request": req.id, "from": move.from_stage, "to": move.to_stage,
                  "reason": move.reason, "required_approvals": needed,
                  "check_run": run.id, "gate_record": gate.id, "supersedes": superseded})
    commit_or_conflict(_DECIDED_AT_ONCE)
    return req


# ------------------------------------------------------------------------------ decide
def _open_request(name: str, version: str, request_id: int) -> tuple[ApiVersion,
                                                                      PromotionRequest]:
    obj = services.get_version(name, version)
    req = get_request(obj, request_id)
    if req.state != "pending":
        raise Conflict(f"Promotion request {req.id} is {req.state}; only a pending request "
                       "can be approved or rejected.")
    if obj.stage != req.from_stage:
        db.session.execute(
            sa.update(PromotionRequest)
            .where(PromotionRequest.id == req.id, PromotionRequest.state == "pending")
            .values(state="superseded", closed_at=utcnow())
            .execution_options(synchronize_session=False))
        audit.record("promotion.superseded", "stagegate", audit.subject_of(obj),
                     {"request": req.id, "because": f"the version moved to {obj.stage}"})
        db.session.commit()
        raise Conflict(f"Promotion request {req.id} was made in {req.from_stage}, but the "
                       f"version is now in {obj.stage}; it is superseded.")
    return obj, req


def _close(req_id: int, state: str, **values: Any) -> None:
    """Move a pending request to ``state``; a Conflict when another request did first."""
    changed = db.session.execute(
        sa.update(PromotionRequest)
        .where(PromotionRequest.id == req_id, PromotionRequest.state == "pending")
        .values(state=state, closed_at=utcnow(), **values)
        .execution_options(synchronize_session=False))
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        db.session.rollback()
        raise Conflict(f"Promotion request {req_id} was decided by another request at the "
                       "same time; reload to see the outcome.")


def approve(name: str, version: str, request_id: int, actor: Actor,
            comment: str | None = None) -> tuple[PromotionRequest, Transition | None]:
    """Approve a pending request; when the approvals reach the count the version moves.

    :param actor: the approver (never the requester).
    :param comment: optional, at most 2000 characters (listed in the gate record).
    :returns: ``(request, transition)``; ``transition`` is ``None`` while more approvals
        are needed.
    :raises NotFound: no such API, version or request.
    :raises SelfApproval: ``actor`` requested it.
    :raises Conflict: the request is not pending (rejected, superseded, approved, blocked),
        ``actor`` decided it already, or a simultaneous final approval won.
    :raises GateFailed: the approvals were reached but the gate fails now; the approval is
        kept, the blocked check stored, the request is ``blocked``.
    """
    approver = actor.label[:MAX_ACTOR]
    text = _comment(comment, required=False)
    obj, req = _open_request(name, version, request_id)
    if same_person(approver, req.requested_by):
        raise SelfApproval("You requested this promotion; another approver must approve it "
                           "(four eyes).")
    if any(same_person(d.approver, approver) for d in req.decisions):
        raise Conflict("You have already decided on this request.")
    approval = Approval(request_id=req.id, approver=approver, decision="approve",
                        comment=text, created_at=utcnow())
    db.session.add(approval)
    try:
        db.session.flush()
    except IntegrityError as exc:
        db.session.rollback()
        raise Conflict("You have already decided on this request.") from exc
    subject = audit.subject_of(obj)
    given = [d for d in req.decisions if d.decision == "approve"]
    if approval not in given:
        given.append(approval)
    audit.record("promotion.approved", approver, subject,
                 {"request": req.id, "comment": text, "approvals": len(given),
                  "required_approvals": req.required_approvals})
    if len(given) < req.required_approvals:
        commit_or_conflict(_DECIDED_AT_ONCE)
        return req, None
    _close(req.id, "approved")  # claim it: of two final approvals exactly one goes on
    move = stages.plan(obj.stage, req.to_stage, req.reason)
    entries = [approval_entry(a) for a in given]
    request_id_ = req.id

    def link(record: Transition | None, run: CheckRun | None) -> None:
        if record is None:  # gate failed now: keep the approval, close the request
            db.session.execute(
                sa.update(PromotionRequest).where(PromotionRequest.id == request_id_)
                .values(state="blocked").execution_options(synchronize_session=False))
            return
        db.session.execute(
            sa.update(PromotionRequest).where(PromotionRequest.id == request_id_)
            .values(transition_id=record.id).execution_options(synchronize_session=False))

    record = moves.execute_move(obj, move, actor, approvals=entries,
                                requested_by=req.requested_by, on_decided=link)
    db.session.refresh(req)
    return req, record


def reject(name: str, version: str, request_id: int, actor: Actor,
           comment: str | None = None) -> PromotionRequest:
    """Reject a pending request (it can no longer be approved).

    :param comment: why, required (at most 2000 characters).
    :raises NotFound: no such API, version or request.
    :raises ValidationFailed: no comment.
    :raises Conflict: the request is not pending, or ``actor`` decided it already.
    """
    approver = actor.label[:MAX_ACTOR]
    text = _comment(comment, required=True)
    obj, req = _open_request(name, version, request_id)
    if any(same_person(d.approver, approver) for d in req.decisions):
        raise Conflict("You have already decided on this request.")
    db.session.add(Approval(request_id=req.id, approver=approver, decision="reject",
                            comment=text, created_at=utcnow()))
    _close(req.id, "rejected")
    audit.record("promotion.rejected", approver, audit.subject_of(obj),
                 {"request": req.id, "comment": text})
    commit_or_conflict(_DECIDED_AT_ONCE)
    db.session.refresh(req)
    return req

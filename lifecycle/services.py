"""Every state change of Stagegate, and the reads the views need.

Views (web and REST) parse input, call one function here and translate its result or its
domain error to HTTP.  Each changing function is one unit of work: it commits once, or rolls
back and raises.  Domain errors:

- :class:`NotFound` — no such API or version (404);
- :class:`Conflict` — the name/version exists, or a concurrent change won (409);
- :class:`ValidationFailed` — bad field values, ``errors`` maps field → message (422);
- :class:`~lifecycle.stages.InvalidTransition` — the stage machine forbids the move (422);
- :class:`GateFailed` — the target stage's gate blocks, ``decision`` says why (409);
- :class:`ApprovalRequired` — the move needs approvals (:mod:`lifecycle.approvals`) (409);
- :class:`specs.SpecLoadError` — the uploaded bytes are not a readable document (422/413).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from lifecycle import audit, records, stages
from lifecycle.extensions import db
from lifecycle.models import (
    API_NAME_RE,
    VERSION_RE,
    Api,
    ApiVersion,
    CheckRun,
    SpecRevision,
    SpecUpload,
    Transition,
    utcnow,
)
from lifecycle.stages import InvalidTransition
from policies.check import check_spec
from policies.findings import Finding, Status
from policies.gate import GateDecision, decide
from policies.packs import PolicyPack, load_pack
from policies.rules import Evidence, all_rules
from specs import LoadLimits, SpecLoadError

__all__ = [
    "ApprovalRequired",
    "Conflict",
    "DomainError",
    "GateFailed",
    "HistoryEvent",
    "InvalidTransition",
    "NotFound",
    "SpecLoadError",
    "ValidationFailed",
    "commit_or_conflict",
    "create_api",
    "create_version",
    "gate_status",
    "get_api",
    "get_version",
    "history",
    "list_apis",
    "list_versions",
    "transition",
    "upload_spec",
]

MAX_TITLE = 200
MAX_DESCRIPTION = 2000
MAX_TEAM = 100
MAX_ACTOR = 100


# ------------------------------------------------------------------------------ errors
class DomainError(Exception):
    """Base of the errors services raise; ``message`` is one sentence for a person."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    """No API or version with that name."""


class Conflict(DomainError):
    """The thing exists already, or another request changed it first."""


class ValidationFailed(DomainError):
    """Field values are not acceptable.

    :ivar errors: field name → message, e.g. ``{"name": "Use lower-case letters ..."}``.
    """

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class GateFailed(DomainError):
    """The gate of the target stage blocks the move.

    :ivar decision: the :class:`policies.gate.GateDecision` (its ``blocking`` findings say why).
    :ivar check_run_id: the recorded :class:`~lifecycle.models.CheckRun` of this attempt.
    """

    def __init__(self, decision: GateDecision, check_run_id: int | None = None) -> None:
        rules = sorted({f.rule_id for f in decision.blocking})
        super().__init__(
            f"The {decision.target} gate blocks this version: "
            f"{len(decision.blocking)} blocking finding(s) ({', '.join(rules)})."
        )
        self.decision = decision
        self.check_run_id = check_run_id


class ApprovalRequired(Conflict):
    """The gate passes, but the move into ``stage`` needs ``required`` approval(s) by someone
    other than the requester: ask with a promotion request (:mod:`lifecycle.approvals`)."""

    def __init__(self, stage: str, required: int) -> None:
        super().__init__(
            f"Promotion to {stage} needs {required} approval(s) by an approver other than the "
            "requester (four eyes): request it with POST …/promotion-requests "
            f'{{"to": "{stage}", "reason": …}}, or "Request promotion" on the version page.'
        )
        self.stage = stage
        self.required = required


# ------------------------------------------------------------------------------ reads
def list_apis() -> list[Api]:
    """All APIs by name, with their versions loaded."""
    stmt = db.select(Api).options(selectinload(Api.versions)).order_by(Api.name)
    return list(db.session.execute(stmt).scalars())


def get_api(name: str) -> Api:
    """The API called ``name``.

    :raises NotFound: no such API.
    """
    api = db.session.execute(db.select(Api).where(Api.name == name)).scalar_one_or_none()
    if api is None:
        raise NotFound(f"No API named {name!r}.")
    return api


def get_version(name: str, version: str) -> ApiVersion:
    """Version ``version`` of API ``name``.

    :raises NotFound: no such API, or no such version of it.
    """
    api = get_api(name)
    stmt = db.select(ApiVersion).where(ApiVersion.api_id == api.id, ApiVersion.version == version)
    found = db.session.execute(stmt).scalar_one_or_none()
    if found is None:
        raise NotFound(f"API {name!r} has no version {version!r}.")
    return found


def list_versions(query: str | None = None, stage: str | None = None) -> list[ApiVersion]:
    """API versions, optionally filtered, ordered by API name then creation.

    :param query: case-insensitive substring of the API name, title or version string.
    :param stage: only versions currently in this stage.
    :raises ValidationFailed: ``stage`` is not a stage id.
    """
    stmt = (
        db.select(ApiVersion)
        .join(ApiVersion.api)
        .options(selectinload(ApiVersion.api), selectinload(ApiVersion.revisions))
        .order_by(Api.name, ApiVersion.id)
    )
    if stage:
        if stage not in stages.STAGES:
            raise ValidationFailed(
                {"stage": f"Unknown stage; use one of {', '.join(stages.STAGES)}."}
            )
        stmt = stmt.where(ApiVersion.stage == stage)
    if query and query.strip():
        pattern = "%" + _escape_like(query.strip().lower()) + "%"
        stmt = stmt.where(
            sa.or_(
                sa.func.lower(Api.name).like(pattern, escape="\\"),
                sa.func.lower(Api.title).like(pattern, escape="\\"),
                sa.func.lower(ApiVersion.version).like(pattern, escape="\\"),
            )
        )
    return list(db.session.execute(stmt).scalars())


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# ------------------------------------------------------------------------------ create
def create_api(name: str, title: str, description: str = "", team: str | None = None,
               actor: str = "anonymous") -> Api:
    """Register an API.

    :param name: slug ``[a-z0-9][a-z0-9-]{0,62}``.
    :param title: 1–200 characters.
    :param description: at most 2000 characters.
    :param team: name of the owning team (created when new), at most 100 characters, or
        ``None``.
    :param actor: who asks (free text, at most 100 characters; recorded in the audit trail).
    :raises ValidationFailed: a field is not acceptable.
    :raises Conflict: an API with that name exists.
    """
    name = (name or "").strip()
    title = (title or "").strip()
    description = (description or "").strip()
    team = (team or "").strip() or None
    errors: dict[str, str] = {}
    if not API_NAME_RE.fullmatch(name):
        errors["name"] = (
            "Use 1–63 lower-case letters, digits and '-', starting with a letter or digit."
        )
    if not title:
        errors["title"] = "A title is required."
    elif len(title) > MAX_TITLE:
        errors["title"] = f"At most {MAX_TITLE} characters."
    if len(description) > MAX_DESCRIPTION:
        errors["description"] = f"At most {MAX_DESCRIPTION} characters."
    if team is not None and len(team) > MAX_TEAM:
        errors["team"] = f"At most {MAX_TEAM} characters."
    if errors:
        raise ValidationFailed(errors)
    if db.session.execute(db.select(Api.id).where(Api.name == name)).first():
        raise Conflict(f"An API named {name!r} exists already.")
    api = Api(name=name, title=title, description=description, owner=_team(team),
              created_at=utcnow())
    db.session.add(api)
    audit.record("api.created", _actor(actor), name, {"title": title, "team": team})
    commit_or_conflict(f"An API named {name!r} exists already.")
    return api


def create_version(name: str, version: str, actor: str = "anonymous") -> ApiVersion:
    """Add version ``version`` to API ``name``; it starts in ``design``.

    :param version: semver-like, ``[0-9A-Za-z][0-9A-Za-z.+-]{0,39}`` (e.g. ``1.2.0``).
    :param actor: who asks (free text, at most 100 characters; recorded in the audit trail).
    :raises NotFound: no such API.
    :raises ValidationFailed: the version string is not acceptable.
    :raises Conflict: the API has that version already.
    """
    api = get_api(name)
    version = (version or "").strip()
    if not VERSION_RE.fullmatch(version):
        raise ValidationFailed(
            {"version": "Use 1–40 letters, digits, '.', '+' or '-', starting with a letter or "
                        "digit (e.g. 1.2.0)."}
        )
    exists = db.select(ApiVersion.id).where(
        ApiVersion.api_id == api.id, ApiVersion.version == version
    )
    if db.session.execute(exists).first():
        raise Conflict(f"API {name!r} already has version {version!r}.")
    now = utcnow()
    obj = ApiVersion(api=api, version=version, stage=stages.INITIAL_STAGE, created_at=now,
                     updated_at=now)
    db.session.add(obj)
    audit.record("version.created", _actor(actor), f"{name}@{version}", {"stage": obj.stage})
    commit_or_conflict(f"API {name!r} already has version {version!r}.")
    return obj


def _team(name: str | None) -> Any:
    """The :class:`~lifecycle.accounts.models.Team` called ``name`` (created when new), or
    ``None``.  Who may name which team is decided by :mod:`lifecycle.authz` before this."""
    if name is None:
        return None
    from lifecycle.accounts.models import Team

    team = db.session.execute(db.select(Team).where(Team.name == name)).scalar_one_or_none()
    if team is None:
        team = Team(name=name, created_at=utcnow())
        db.session.add(team)
    return team


def commit_or_conflict(message: str) -> None:
    """Commit the session; a unique or foreign-key violation (a concurrent request won)
    rolls it back.

    :raises Conflict: with ``message`` (one sentence for a person), on that violation.
    """
    try:
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        raise Conflict(message) from exc


# ------------------------------------------------------------------------------ specs
def load_limits() -> LoadLimits:
    """The upload limits of the current app (``SPEC_MAX_BYTES``, ``SPEC_MAX_DEPTH``, ...)."""
    cfg = current_app.config
    return LoadLimits(
        max_bytes=int(cfg["SPEC_MAX_BYTES"]),
        max_depth=int(cfg["SPEC_MAX_DEPTH"]),
        max_alias_expansion=int(cfg["SPEC_MAX_ALIAS_EXPANSION"]),
    )


def upload_spec(
    name: str, version: str, raw: bytes, uploader: str = "anonymous"
) -> tuple[SpecRevision, bool]:
    """Store an OpenAPI document as the next revision of a version, with its analysis.

    Identical bytes (same SHA-256) return the existing revision without parsing.

    :param raw: the document exactly as uploaded (JSON or YAML, detected from content).
    :param uploader: who uploaded it (free text, at most 100 characters).
    :returns: ``(revision, created)``; ``created`` is ``False`` for identical bytes.
    :raises NotFound: no such API or version.
    :raises Conflict: the version is retired (read-only), or a concurrent upload won.
    :raises SpecLoadError: the bytes are not a readable document; nothing is stored and
        earlier revisions stay as they are.
    """
    obj = get_version(name, version)
    raw = bytes(raw)
    sha = hashlib.sha256(raw).hexdigest()
    if obj.stage == stages.RETIREMENT:
        raise Conflict("The version is retired; its documents can no longer change.")
    existing = _revision_by_sha(obj.id, sha)
    if existing is not None:
        if obj.current_revision is not existing:
            # The bytes of an earlier revision again: a revert, which makes it current.
            db.session.add(SpecUpload(api_version=obj, revision=existing,
                                      uploaded_by=_actor(uploader), created_at=utcnow()))
            obj.updated_at = utcnow()
            audit.record("spec.reverted", _actor(uploader), audit.subject_of(obj),
                         {"revision": existing.number, "sha256": sha})
            db.session.commit()
        return existing, False
    check = check_spec(raw, load_limits())
    doc = check.document
    number = db.session.execute(
        db.select(sa.func.coalesce(sa.func.max(SpecRevision.number), 0)).where(
            SpecRevision.version_id == obj.id
        )
    ).scalar_one() + 1
    now = utcnow()
    revision = SpecRevision(
        api_version=obj,
        number=number,
        raw=raw,
        size=len(raw),
        sha256=sha,
        format=doc.format,
        declared_version=_clip(doc.declared_version, 40),
        openapi_version=doc.openapi_version,
        valid=not check.issues,
        findings=[f.to_dict() for f in check.findings],
        token_profile=check.profile,
        uploaded_by=_actor(uploader),
        created_at=now,
    )
    db.session.add(revision)
    db.session.add(SpecUpload(api_version=obj, revision=revision, uploaded_by=revision.uploaded_by,
                              created_at=now))
    obj.updated_at = now
    audit.record("spec.uploaded", revision.uploaded_by, audit.subject_of(obj),
                 {"revision": number, "sha256": sha, "size": len(raw), "format": doc.format,
                  "openapi_version": doc.openapi_version, "valid": revision.valid})
    try:
        db.session.commit()
    except IntegrityError as exc:
        # Another request stored a revision of this version at the same moment.
        db.session.rollback()
        existing = _revision_by_sha(obj.id, sha)
        if existing is not None:
            return existing, False
        raise Conflict("Another upload to this version happened at the same time; retry.") from exc
    return revision, True


def _revision_by_sha(version_id: int, sha: str) -> SpecRevision | None:
    stmt = db.select(SpecRevision).where(
        SpecRevision.version_id == version_id, SpecRevision.sha256 == sha
    )
    return db.session.execute(stmt).scalar_one_or_none()


def _clip(text: str | None, size: int) -> str | None:
    return None if text is None else str(text)[:size]


def _actor(actor: str | None) -> str:
    return (str(actor or "").strip() or "anonymous")[:MAX_ACTOR]


# ------------------------------------------------------------------------------ gates
def policy_pack() -> PolicyPack:
    """The app's configured policy pack (``POLICY_PACK``: a built-in name or a YAML path)."""
    return load_pack(str(current_app.config["POLICY_PACK"]))


def missing_spec_findings() -> list[Finding]:
    """One ``missing-evidence`` finding per spec rule: what a gate sees before any upload."""
    found = []
    for rule in all_rules():
        if rule.evidence == Evidence.SPEC:
            found.append(Finding(
                rule_id=rule.id,
                severity=rule.severity,
                status=Status.MISSING_EVIDENCE,
                message="No OpenAPI document has been uploaded for this version.",
            ))
    return found


def _revision_findings(revision: SpecRevision | None) -> list[Finding]:
    if revision is None:
        return missing_spec_findings()
    return [Finding.from_dict(d) for d in revision.findings]


def gate_findings(version_obj: ApiVersion, pack: PolicyPack, target: str,
                  now: datetime | None = None) -> list[Finding]:
    """Every finding the gate into ``target`` considers: the current revision's spec
    findings, plus — when the stage applies token or JWKS rules — the JWKS evidence findings
    and those of the best qualifying token analysis, or ``missing-evidence`` findings saying
    what to supply (:func:`lifecycle.evidence.evidence_findings`)."""
    found = _revision_findings(version_obj.current_revision)
    if target in pack.stages and any(
        rule.evidence in (Evidence.TOKEN, Evidence.JWKS)
        for rule in pack.stage(target).applied_rules()
    ):
        from lifecycle import evidence  # imports this module

        found += evidence.evidence_findings(version_obj, now)
    return found


def gate_status(version_obj: ApiVersion, target: str | None = None,
                now: datetime | None = None) -> GateDecision | None:
    """The gate decision for moving ``version_obj`` into ``target``.

    Evaluates the latest revision's stored findings, and for stages that need them the
    stored JWKS and token evidence (:func:`gate_findings`), through the configured pack
    (nothing is re-parsed and nothing is stored).  Without a revision every spec rule is
    ``missing-evidence`` and blocks (fail closed).

    :param target: a stage id; default the next stage.
    :param now: the time evidence age is judged at (default the app clock).
    :returns: the decision, or ``None`` when there is no next stage (retired).
    """
    if target is None:
        target = stages.next_stage(version_obj.stage)
        if target is None:
            return None
    return gate_decision(version_obj, policy_pack(), target, now)


def gate_decision(version_obj: ApiVersion, pack: PolicyPack, target: str,
            now: datetime | None = None) -> GateDecision:
    """The gate decision with the version's waivers in force at ``now`` applied."""
    from lifecycle import waivers  # imports this module

    return decide(pack, target, gate_findings(version_obj, pack, target, now),
                  waivers.in_force(version_obj, now))


# ------------------------------------------------------------------------------ transitions
def transition(
    name: str, version: str, to: str, reason: str | None = None, actor: str = "anonymous"
) -> Transition:
    """Move a version to stage ``to`` (promotion, demotion or retirement).

    Gated moves record a :class:`~lifecycle.models.CheckRun` whether they pass or not.  The
    stage changes with a conditional ``UPDATE ... WHERE stage = <from>``, so of two
    simultaneous moves of one version exactly one succeeds.

    :param reason: mandatory for demotions and for abandoning (retirement before deployment).
    :param actor: who asks (free text, at most 100 characters).
    :returns: the recorded :class:`~lifecycle.models.Transition`.
    :raises NotFound: no such API or version.
    :raises InvalidTransition: the stage machine forbids the move.
    :raises GateFailed: the gate of ``to`` blocks (the blocked CheckRun is stored).
    :raises ApprovalRequired: the gate passes but the pack asks for approvals for ``to``
        (default: ``deployment``); use :func:`lifecycle.approvals.request_promotion`.
    :raises Conflict: another request changed the version's stage first.
    """
    obj = get_version(name, version)
    move = stages.plan(obj.stage, to, reason)
    return execute_move(obj, move, actor)


#: called by :func:`execute_move` before its commit with the transition (``None`` when the
#: gate blocked) and the check run (``None`` when not gated)
OnDecided = Callable[["Transition | None", "CheckRun | None"], None]


def execute_move(obj: ApiVersion, move: stages.Move, actor: str = "anonymous", *,
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
        revision = obj.current_revision
        pack = policy_pack()
        decision = gate_decision(obj, pack, move.to_stage)
        needed = pack.stage(move.to_stage).approvals
        if decision.passed and needed and len(approvals or ()) < needed:
            db.session.rollback()
            raise ApprovalRequired(move.to_stage, needed)
        run = CheckRun(
            api_version=obj,
            revision_id=revision.id if revision else None,
            target_stage=move.to_stage,
            passed=decision.passed,
            pack=decision.pack,
            pack_sha256=decision.pack_sha256,
            findings=[f.to_dict() for f in decision.findings],
            created_at=utcnow(),
        )
        db.session.add(run)
        db.session.flush()
        gate = records.record_decision(run, obj, decision, from_stage=move.from_stage,
                                       requested_by=_actor(requested_by or actor),
                                       approvals=approvals or ())
        if not decision.passed:
            run_id = run.id
            audit.record("gate.blocked", _actor(actor), audit.subject_of(obj),
                         {"from": move.from_stage, "to": move.to_stage, "check_run": run_id,
                          "gate_record": gate.id, "pack": decision.pack,
                          "pack_sha256": decision.pack_sha256,
                          "blocking": sorted({f.rule_id for f in decision.blocking})})
            if on_decided is not None:
                on_decided(None, run)
            db.session.commit()
            raise GateFailed(decision, run_id)

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
        actor=_actor(actor),
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


# ------------------------------------------------------------------------------ history
@dataclass(frozen=True, slots=True)
class HistoryEvent:
    """One entry of a version's history.

    :ivar kind: ``"revision"`` (``item`` is a SpecRevision) or ``"transition"``
        (``item`` is a Transition).
    :ivar at: when it happened (aware UTC).
    """

    kind: str
    at: datetime
    item: Any


def history(version_obj: ApiVersion) -> list[HistoryEvent]:
    """Spec revisions, reverts and transitions of a version in time order, oldest first.

    A revert (the bytes of an earlier revision uploaded again) is a ``"revert"`` event whose
    item is that :class:`~lifecycle.models.SpecUpload`.
    """
    events = [HistoryEvent("revision", r.created_at, r) for r in version_obj.revisions]
    first_upload: set[int] = set()
    for upload in version_obj.uploads:
        if upload.revision_id in first_upload:
            events.append(HistoryEvent("revert", upload.created_at, upload))
        first_upload.add(upload.revision_id)
    events += [HistoryEvent("transition", t.created_at, t) for t in version_obj.transitions]
    order = {"revision": 0, "revert": 1, "transition": 2}
    events.sort(key=lambda e: (e.at, order[e.kind], e.item.id))
    return events


def check_runs(version_obj: ApiVersion) -> Sequence[CheckRun]:
    """Every recorded gate evaluation of a version, oldest first."""
    return version_obj.check_runs

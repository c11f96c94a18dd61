"""Catalog services: register APIs and versions, store spec revisions; the reads the views
need.

Views (web and REST) parse input, call one function here and translate its result or its
domain error (:mod:`lifecycle.core.errors`) to HTTP.  Each changing function is one unit of
work: it commits once, or rolls back and raises.  Every changing function takes the acting
:class:`~lifecycle.core.actor.Actor` explicitly.  Stage moves (gated) live in
:mod:`lifecycle.gates.moves`.

- :class:`~lifecycle.core.errors.NotFound` — no such API or version (404);
- :class:`~lifecycle.core.errors.Conflict` — the name/version exists, or a concurrent change
  won (409);
- :class:`~lifecycle.core.errors.ValidationFailed` — bad field values (422);
- :class:`specs.SpecLoadError` — the uploaded bytes are not a readable document (422/413).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from lifecycle import audit
from lifecycle.accounts.models import Team
from lifecycle.catalog import stages
from lifecycle.catalog.models import (
    API_NAME_RE,
    MAX_DELTA_DEPTH,
    VERSION_RE,
    Api,
    ApiVersion,
    CheckRun,
    SpecRevision,
    SpecUpload,
)
from lifecycle.core.actor import Actor
from lifecycle.core.db import commit_or_conflict, utcnow
from lifecycle.core.errors import Conflict, NotFound, ValidationFailed
from lifecycle.core.extensions import db
from lifecycle.core.gcpause import collection_paused
from policies.check import check_spec
from specs import LoadLimits, SpecDocument
from specs.members import common_prefix, common_suffix
from specs.memo import MemoStore

__all__ = [
    "HistoryEvent",
    "check_runs",
    "create_api",
    "create_version",
    "get_api",
    "get_version",
    "history",
    "list_apis",
    "list_versions",
    "api_page",
    "api_choices",
    "load_limits",
    "upload_spec",
]

MAX_TITLE = 200
MAX_DESCRIPTION = 2000
MAX_TEAM = 100


# ------------------------------------------------------------------------------ reads
def list_apis() -> list[Api]:
    """All APIs by name, with their versions loaded."""
    stmt = db.select(Api).options(selectinload(Api.versions)).order_by(Api.name)
    return list(db.session.execute(stmt).scalars())


def api_choices(team_ids: Iterable[int] | None = None,
                limit: int | None = None) -> list[sa.Row[tuple[str, str, int | None]]]:
    """``(name, title, team_id)`` of APIs by name: plain rows for pickers (nothing else is
    loaded; ``team_id`` is what the team check reads).

    :param team_ids: only APIs of these teams (``None``: every API).
    :param limit: at most this many rows.
    """
    stmt = sa.select(Api.name, Api.title, Api.team_id).order_by(Api.name)
    if team_ids is not None:
        stmt = stmt.where(Api.team_id.in_(list(team_ids)))
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(db.session.execute(stmt))


def api_page(limit: int, offset: int) -> tuple[list[Api], int]:
    """APIs ``offset`` … ``offset + limit - 1`` by name with their versions loaded (one query
    for the APIs, one for their versions), and how many APIs there are in all."""
    total = int(db.session.execute(sa.select(sa.func.count()).select_from(Api)).scalar_one())
    stmt = (db.select(Api).options(selectinload(Api.versions)).order_by(Api.name, Api.id)
            .limit(limit).offset(offset))
    return list(db.session.execute(stmt).scalars()), total


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
        .options(selectinload(ApiVersion.api))
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
def create_api(name: str, title: str, description: str = "", team: str | None = None, *,
               actor: Actor) -> Api:
    """Register an API.

    :param name: slug ``[a-z0-9][a-z0-9-]{0,62}``.
    :param title: 1–200 characters.
    :param description: at most 2000 characters.
    :param team: name of the owning team (created when new), at most 100 characters, or
        ``None``.
    :param actor: who asks (recorded in the audit trail).
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
    audit.record("api.created", actor.label, name, {"title": title, "team": team})
    commit_or_conflict(f"An API named {name!r} exists already.")
    return api


def create_version(name: str, version: str, *, actor: Actor) -> ApiVersion:
    """Add version ``version`` to API ``name``; it starts in ``design``.

    :param version: semver-like, ``[0-9A-Za-z][0-9A-Za-z.+-]{0,39}`` (e.g. ``1.2.0``).
    :param actor: who asks (recorded in the audit trail).
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
    audit.record("version.created", actor.label, f"{name}@{version}", {"stage": obj.stage})
    commit_or_conflict(f"API {name!r} already has version {version!r}.")
    return obj


def _team(name: str | None) -> Any:
    """The :class:`~lifecycle.accounts.models.Team` called ``name`` (created when new), or
    ``None``.  Who may name which team is decided by :mod:`lifecycle.accounts.authz` before this."""
    if name is None:
        return None
    team = db.session.execute(db.select(Team).where(Team.name == name)).scalar_one_or_none()
    if team is None:
        team = Team(name=name, created_at=utcnow())
        db.session.add(team)
    return team


# ------------------------------------------------------------------------------ specs
def load_limits() -> LoadLimits:
    """The upload limits of the current app (``SPEC_MAX_BYTES``, ``SPEC_MAX_DEPTH``, ...)."""
    cfg = current_app.config
    return LoadLimits(
        max_bytes=int(cfg["SPEC_MAX_BYTES"]),
        max_depth=int(cfg["SPEC_MAX_DEPTH"]),
        max_alias_expansion=int(cfg["SPEC_MAX_ALIAS_EXPANSION"]),
    )


#: per process, what the last check of each API version's document left (by version id): a
#: revision is read as a difference from that document and re-checks only the parts that can
#: have changed (:mod:`specs.memo`, :mod:`specs.members`; findings identical to a cold check)
SECTION_MEMOS = MemoStore(size=32)

#: ``progress(percent, message)`` of a long upload (see :func:`upload_spec`)
UploadProgress = Callable[[int, str], None]

#: the steps of an upload as ``step → (percent, message)`` reported to ``progress``
UPLOAD_STEPS: dict[str, tuple[int, str]] = {
    "load": (10, "Reading the document"),
    "validate": (30, "Validating against the OpenAPI schema"),
    "rules": (60, "Evaluating the spec rules"),
    "store": (90, "Storing the revision"),
}


def upload_spec(
    name: str, version: str, raw: bytes, *, uploader: Actor,
    progress: UploadProgress | None = None,
) -> tuple[SpecRevision, bool]:
    """Store an OpenAPI document as the next revision of a version, with its analysis.

    Identical bytes (same SHA-256) return the existing revision without parsing.

    :param raw: the document exactly as uploaded (JSON or YAML, detected from content).
    :param uploader: who uploaded it (recorded as the revision's ``uploaded_by``).
    :param progress: called as each step starts (:data:`UPLOAD_STEPS`: load, validate,
        rules, store) with ``(percent, message)``; the ``spec.check`` job reports them.
        Nothing else changes when it is given.
    :returns: ``(revision, created)``; ``created`` is ``False`` for identical bytes.
    :raises NotFound: no such API or version.
    :raises Conflict: the version is retired (read-only), or a concurrent upload won.
    :raises SpecLoadError: the bytes are not a readable document; nothing is stored and
        earlier revisions stay as they are.
    """
    # The check's containers are freed by reference counting when _upload returns, still
    # inside the pause: no collection runs over them (lifecycle.core.gcpause).
    with collection_paused():
        return _upload(name, version, raw, uploader, progress)


def _upload(name: str, version: str, raw: bytes, uploader: Actor,
            progress: UploadProgress | None) -> tuple[SpecRevision, bool]:
    """:func:`upload_spec` without the collector's pause."""
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
                                      uploaded_by=uploader.label[:100], created_at=utcnow()))
            obj.updated_at = utcnow()
            audit.record("spec.reverted", uploader.label[:100], audit.subject_of(obj),
                         {"revision": existing.number, "sha256": sha})
            db.session.commit()
        return existing, False
    report = progress or _no_progress

    def step(key: str) -> None:
        report(*UPLOAD_STEPS[key])

    with SECTION_MEMOS.borrow(obj.id) as memo:
        previous = memo.document if memo is not None else None
        check = check_spec(raw, load_limits(), progress=step, memo=memo)
    doc = check.document
    step("store")
    # Uploads to one version take turns from here to their commit: the version's row is
    # written first (a row lock on PostgreSQL, the write lock on SQLite), so the next number
    # is read by one upload at a time and never collides.
    _lock_version(obj)
    existing = _revision_by_sha(obj.id, sha)
    if existing is not None:  # the same bytes were stored while this one was parsed
        db.session.rollback()
        return existing, False
    subject = audit.subject_of(obj)
    number = db.session.execute(
        db.select(sa.func.coalesce(sa.func.max(SpecRevision.number), 0)).where(
            SpecRevision.version_id == obj.id
        )
    ).scalar_one() + 1
    now = utcnow()
    revision = SpecRevision(
        api_version=obj,
        number=number,
        **_stored_form(raw, obj.id, previous),
        size=len(raw),
        sha256=sha,
        format=doc.format,
        declared_version=_clip(doc.declared_version, 40),
        openapi_version=doc.openapi_version,
        valid=not check.issues,
        findings=[f.to_dict() for f in check.findings],
        token_profile=check.profile,
        uploaded_by=uploader.label[:100],
        created_at=now,
    )
    db.session.add(revision)
    db.session.add(SpecUpload(api_version=obj, revision=revision, uploaded_by=revision.uploaded_by,
                              created_at=now))
    obj.updated_at = now
    try:
        audit.record("spec.uploaded", revision.uploaded_by, subject,
                     {"revision": number, "sha256": sha, "size": len(raw), "format": doc.format,
                      "openapi_version": doc.openapi_version, "valid": revision.valid})
        db.session.commit()
    except IntegrityError as exc:
        # Another request stored a revision of this version at the same moment.
        db.session.rollback()
        existing = _revision_by_sha(obj.id, sha)
        if existing is not None:
            return existing, False
        raise Conflict("Another upload to this version happened at the same time; retry.") from exc
    return revision, True


def _stored_form(raw: bytes, version_id: int, previous: SpecDocument | None
                 ) -> dict[str, Any]:
    """How a new revision's bytes ``raw`` are stored: as a difference from the version's
    revision whose bytes this process still holds (``previous``, the document the version's
    memo last checked: usually the current revision, or the one uploaded before a revert)
    when less than half of ``raw`` differs, else whole
    (:class:`~lifecycle.catalog.models.SpecRevision`)."""
    whole = {"stored": raw}
    base = _revision_by_sha(version_id, previous.sha256) if previous is not None else None
    if base is None or previous is None or base.delta_depth >= MAX_DELTA_DEPTH:
        return whole
    old = previous.raw
    prefix = common_prefix(old, raw)
    suffix = common_suffix(old, raw, len(old) - prefix, len(raw) - prefix)
    middle = raw[prefix:len(raw) - suffix]
    if len(middle) * 2 >= len(raw):
        return whole
    return {"stored": middle, "delta_of": base, "delta_prefix": prefix,
            "delta_suffix": suffix, "delta_depth": base.delta_depth + 1}


def _no_progress(percent: int, message: str) -> None:
    """The default :data:`UploadProgress`: report nothing."""


def _lock_version(obj: ApiVersion) -> None:
    """Write the version's row now (its ``updated_at``): until this transaction ends, other
    writers of the row wait (PostgreSQL row lock; SQLite's database write lock, which this
    first write takes, also starting the transaction)."""
    db.session.execute(
        sa.update(ApiVersion).where(ApiVersion.id == obj.id).values(updated_at=utcnow())
        .execution_options(synchronize_session=False))


def _revision_by_sha(version_id: int, sha: str) -> SpecRevision | None:
    stmt = db.select(SpecRevision).where(
        SpecRevision.version_id == version_id, SpecRevision.sha256 == sha
    )
    return db.session.execute(stmt).scalar_one_or_none()


def _clip(text: str | None, size: int) -> str | None:
    return None if text is None else str(text)[:size]


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
    item is that :class:`~lifecycle.catalog.models.SpecUpload`.
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

"""Database models (SQLAlchemy 2.0 typed declarative, bound through Flask-SQLAlchemy).

``Api`` 1—n ``ApiVersion`` 1—n ``SpecRevision`` / ``CheckRun`` / ``Transition``.
Every time is timezone-aware UTC (:class:`UTCDateTime`).  ``SpecRevision``, ``CheckRun`` and
``Transition`` are records of what happened: append-only (see :func:`_refuse_change`).
The schema is created by the Alembic migrations in ``lifecycle/migrations``, never by
``create_all``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from lifecycle.extensions import db
from lifecycle.stages import STAGES, Kind

if TYPE_CHECKING:
    from lifecycle.accounts.models import Team

#: API slug (DESIGN.md)
API_NAME_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
#: version string: semver-like, no spaces or slashes (it is a URL path segment)
VERSION_RE = re.compile(r"[0-9A-Za-z][0-9A-Za-z.+-]{0,39}")


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that always hands back aware UTC datetimes.

    SQLite keeps no zone: values are stored as naive UTC and marked UTC on the way out;
    PostgreSQL stores ``timestamptz``.  Naive datetimes are refused on the way in.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime; use timezone-aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Api(db.Model):  # type: ignore[name-defined,misc]
    """A registered API: a unique slug ``name``, a title, an owning team (``owner``)."""

    __tablename__ = "api"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(63), unique=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    team_id: Mapped[int | None] = mapped_column(sa.ForeignKey("team.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    versions: Mapped[list[ApiVersion]] = relationship(
        back_populates="api", order_by="ApiVersion.id"
    )
    #: the owning team (:class:`lifecycle.accounts.models.Team`), or ``None``
    owner: Mapped[Team | None] = relationship(lazy="joined")

    @property
    def team(self) -> str | None:
        """The owning team's name (what the REST API and the pages show), or ``None``."""
        return self.owner.name if self.owner is not None else None

    def __repr__(self) -> str:
        return f"<Api {self.name}>"


class ApiVersion(db.Model):  # type: ignore[name-defined,misc]
    """One version of an API and its current lifecycle ``stage`` (see :mod:`lifecycle.stages`)."""

    __tablename__ = "api_version"
    __table_args__ = (
        sa.UniqueConstraint("api_id", "version", name="uq_api_version_api_id_version"),
        sa.CheckConstraint(_in("stage", STAGES), name="stage"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    api_id: Mapped[int] = mapped_column(sa.ForeignKey("api.id"), index=True)
    version: Mapped[str] = mapped_column(sa.String(40))
    stage: Mapped[str] = mapped_column(sa.String(20), default=STAGES[0])
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    api: Mapped[Api] = relationship(back_populates="versions")
    revisions: Mapped[list[SpecRevision]] = relationship(
        back_populates="api_version", order_by="SpecRevision.number"
    )
    check_runs: Mapped[list[CheckRun]] = relationship(
        back_populates="api_version", order_by="CheckRun.id"
    )
    transitions: Mapped[list[Transition]] = relationship(
        back_populates="api_version", order_by="Transition.id",
        foreign_keys="Transition.version_id",
    )

    uploads: Mapped[list[SpecUpload]] = relationship(
        back_populates="api_version", order_by="SpecUpload.id"
    )

    @property
    def current_revision(self) -> SpecRevision | None:
        """The revision most recently uploaded (new bytes, or identical bytes of an earlier
        revision, which makes it current again); ``None`` before the first upload."""
        return self.uploads[-1].revision if self.uploads else None

    def __repr__(self) -> str:
        return f"<ApiVersion {self.api.name if self.api else self.api_id}@{self.version}>"


class SpecRevision(db.Model):  # type: ignore[name-defined,misc]
    """An uploaded OpenAPI document: the exact bytes and the analysis of exactly those bytes.

    ``findings`` is a list of :meth:`policies.findings.Finding.to_dict` dicts.  Identical
    bytes never make a second revision of one version (unique ``sha256`` per version).
    """

    __tablename__ = "spec_revision"
    __table_args__ = (
        sa.UniqueConstraint("version_id", "number", name="uq_spec_revision_version_id_number"),
        sa.UniqueConstraint("version_id", "sha256", name="uq_spec_revision_version_id_sha256"),
        sa.CheckConstraint("number >= 1", name="number_positive"),
        sa.CheckConstraint(_in("format", ("json", "yaml")), name="format"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(sa.ForeignKey("api_version.id"), index=True)
    number: Mapped[int] = mapped_column()
    raw: Mapped[bytes] = mapped_column(sa.LargeBinary, deferred=True)
    size: Mapped[int] = mapped_column()
    sha256: Mapped[str] = mapped_column(sa.String(64))
    format: Mapped[str] = mapped_column(sa.String(8))
    declared_version: Mapped[str | None] = mapped_column(sa.String(40))
    openapi_version: Mapped[str | None] = mapped_column(sa.String(8))
    valid: Mapped[bool] = mapped_column()
    findings: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    #: the bearer scheme's ``x-token-encryption`` mapping in these bytes (``None``: none)
    token_profile: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    uploaded_by: Mapped[str] = mapped_column(sa.String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    api_version: Mapped[ApiVersion] = relationship(back_populates="revisions")

    def __repr__(self) -> str:
        return f"<SpecRevision {self.version_id}#{self.number} {self.sha256[:12]}>"


class SpecUpload(db.Model):  # type: ignore[name-defined,misc]
    """One upload that made a revision current.

    Every new revision has one; uploading the bytes of an earlier revision again adds another
    (a revert), so the current revision is always the one of the newest upload.
    """

    __tablename__ = "spec_upload"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(sa.ForeignKey("api_version.id"), index=True)
    revision_id: Mapped[int] = mapped_column(sa.ForeignKey("spec_revision.id"))
    uploaded_by: Mapped[str] = mapped_column(sa.String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    api_version: Mapped[ApiVersion] = relationship(back_populates="uploads")
    revision: Mapped[SpecRevision] = relationship()


class CheckRun(db.Model):  # type: ignore[name-defined,misc]
    """One gate evaluation: the pack (name and SHA-256) applied to a revision's findings.

    Recorded for every gated transition attempt, passed or blocked.  ``revision_id`` is
    ``None`` when the version had no spec yet (the gate then sees missing evidence).
    """

    __tablename__ = "check_run"
    __table_args__ = (sa.CheckConstraint(_in("target_stage", STAGES), name="target_stage"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(sa.ForeignKey("api_version.id"), index=True)
    revision_id: Mapped[int | None] = mapped_column(sa.ForeignKey("spec_revision.id"))
    target_stage: Mapped[str] = mapped_column(sa.String(20))
    passed: Mapped[bool] = mapped_column()
    pack: Mapped[str] = mapped_column(sa.String(200))
    pack_sha256: Mapped[str] = mapped_column(sa.String(64))
    findings: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    api_version: Mapped[ApiVersion] = relationship(back_populates="check_runs")
    revision: Mapped[SpecRevision | None] = relationship()


class Transition(db.Model):  # type: ignore[name-defined,misc]
    """A stage change of a version: who, when, why, and the check run that allowed it."""

    __tablename__ = "transition"
    __table_args__ = (
        sa.CheckConstraint(_in("from_stage", STAGES), name="from_stage"),
        sa.CheckConstraint(_in("to_stage", STAGES), name="to_stage"),
        sa.CheckConstraint(_in("kind", tuple(k.value for k in Kind)), name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(sa.ForeignKey("api_version.id"), index=True)
    from_stage: Mapped[str] = mapped_column(sa.String(20))
    to_stage: Mapped[str] = mapped_column(sa.String(20))
    kind: Mapped[str] = mapped_column(sa.String(20))
    actor: Mapped[str] = mapped_column(sa.String(100))
    reason: Mapped[str | None] = mapped_column(sa.Text)
    check_run_id: Mapped[int | None] = mapped_column(sa.ForeignKey("check_run.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    api_version: Mapped[ApiVersion] = relationship(
        back_populates="transitions", foreign_keys=[version_id]
    )
    check_run: Mapped[CheckRun | None] = relationship()


#: records that are written once and never changed or removed
APPEND_ONLY: tuple[type, ...] = (SpecRevision, SpecUpload, CheckRun, Transition)


class AppendOnlyError(RuntimeError):
    """An attempt to update or delete an append-only record (a programming error)."""


def _refuse_change(mapper: Any, connection: Any, target: Any) -> None:
    raise AppendOnlyError(f"{type(target).__name__} records are append-only")


for _model in APPEND_ONLY:
    event.listen(_model, "before_update", _refuse_change)
    event.listen(_model, "before_delete", _refuse_change)


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_change(state: Any) -> None:
    """Also refuse ORM bulk ``update()``/``delete()`` statements aimed at append-only models."""
    if not (state.is_update or state.is_delete):
        return
    for mapper in state.all_mappers:
        if mapper.class_ in APPEND_ONLY:
            raise AppendOnlyError(f"{mapper.class_.__name__} records are append-only")


# ------------------------------------------------------------------ keys and evidence (issue 3)
#: states of a managed encryption key
KEY_STATES: tuple[str, ...] = ("current", "grace", "retired")
#: kinds of :class:`KeyEvent`
KEY_EVENT_KINDS: tuple[str, ...] = ("generated", "rotated", "retired", "expired")


class ManagedKey(db.Model):  # type: ignore[name-defined,misc]
    """An encryption key pair Stagegate generated for a version (``use: enc``).

    ``public_jwk`` holds public members only.  The private JWK exists only as
    ``sealed_private``: AES-256-GCM under the key-encryption key (:mod:`lifecycle.crypto_store`)
    with ``"<version_id>:<kid>"`` as associated data.  ``state``: ``current`` (new tokens are
    encrypted to it; at most one per version), ``grace`` (still decrypts until
    ``grace_until``), ``retired``.
    """

    __tablename__ = "managed_key"
    __table_args__ = (
        sa.UniqueConstraint("version_id", "kid", name="uq_managed_key_version_id_kid"),
        sa.CheckConstraint(_in("state", KEY_STATES), name="state"),
        sa.Index("uq_managed_key_one_current", "version_id", unique=True,
                 sqlite_where=sa.text("state = 'current'"),
                 postgresql_where=sa.text("state = 'current'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(sa.ForeignKey("api_version.id"), index=True)
    kid: Mapped[str] = mapped_column(sa.String(128))
    alg: Mapped[str] = mapped_column(sa.String(32))
    kty: Mapped[str] = mapped_column(sa.String(8))
    crv: Mapped[str | None] = mapped_column(sa.String(16))
    size: Mapped[int | None] = mapped_column()
    public_jwk: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    sealed_private: Mapped[bytes] = mapped_column(sa.LargeBinary, deferred=True)
    state: Mapped[str] = mapped_column(sa.String(10), default="current")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    grace_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    api_version: Mapped[ApiVersion] = relationship()

    def usable_at(self, moment: datetime) -> bool:
        """True when the key may decrypt at ``moment`` (current, or in its grace period)."""
        if self.state == "current":
            return True
        return self.state == "grace" and self.grace_until is not None \
            and moment < self.grace_until

    def status_at(self, moment: datetime) -> str:
        """``current``, ``grace`` or ``retired`` as of ``moment`` (an expired grace period
        reads ``retired`` even before its event is recorded)."""
        if self.state == "grace" and not self.usable_at(moment):
            return "retired"
        return self.state

    def __repr__(self) -> str:
        return f"<ManagedKey {self.version_id} {self.kid[:12]} {self.state}>"


class KeyEvent(db.Model):  # type: ignore[name-defined,misc]
    """Something that happened to a managed key (append-only): ``generated``, ``rotated``
    (replaced as current; ``details.grace_until``), ``retired`` (grace 0) or ``expired``
    (grace period over)."""

    __tablename__ = "key_event"
    __table_args__ = (sa.CheckConstraint(_in("kind", KEY_EVENT_KINDS), name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(sa.ForeignKey("api_version.id"), index=True)
    key_id: Mapped[int] = mapped_column(sa.ForeignKey("managed_key.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(12))
    actor: Mapped[str] = mapped_column(sa.String(100))
    details: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    key: Mapped[ManagedKey] = relationship()


class JwksEvidence(db.Model):  # type: ignore[name-defined,misc]
    """An issuer signing JWKS submitted for a version (append-only; the newest counts).

    ``jwks`` keeps public members only (private members of a submission are dropped before
    storing; the KEY-JWKS-HYGIENE finding says they were there).  ``sha256`` is of the
    submitted bytes.  ``findings`` are :func:`policies.keys.check_jwks` findings as dicts.
    """

    __tablename__ = "jwks_evidence"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(sa.ForeignKey("api_version.id"), index=True)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    jwks: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    keys: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    findings: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    passed: Mapped[bool] = mapped_column()
    submitted_by: Mapped[str] = mapped_column(sa.String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TokenEvidence(db.Model):  # type: ignore[name-defined,misc]
    """The analysis of one sample access token (append-only) — never the token itself.

    ``fingerprint`` is the SHA-256 of the token bytes (unique per version: a resubmission is
    recognised).  Headers are the decoded protected headers; ``claims`` has identifying
    values redacted; ``profile`` is the ``x-token-encryption`` profile it was checked
    against; ``findings`` are :class:`policies.findings.Finding` dicts.
    """

    __tablename__ = "token_evidence"
    __table_args__ = (
        sa.UniqueConstraint("version_id", "fingerprint",
                            name="uq_token_evidence_version_id_fingerprint"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(sa.ForeignKey("api_version.id"), index=True)
    fingerprint: Mapped[str] = mapped_column(sa.String(64))
    outer_header: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    inner_header: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    claims: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    lifetime: Mapped[int | None] = mapped_column()
    findings: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    not_evaluated: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    profile: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    passed: Mapped[bool] = mapped_column()
    decryption_kid: Mapped[str | None] = mapped_column(sa.String(128))
    submitted_by: Mapped[str] = mapped_column(sa.String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReplayEntry(db.Model):  # type: ignore[name-defined,misc]
    """A token id seen in a sample token: ``key`` = SHA-256 of issuer and ``jti``
    (:func:`policies.tokens.replay_key`), kept until ``expires_at`` (Unix seconds)."""

    __tablename__ = "replay_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(64), unique=True)
    expires_at: Mapped[int] = mapped_column(sa.BigInteger, index=True)


APPEND_ONLY = (*APPEND_ONLY, KeyEvent, JwksEvidence, TokenEvidence)
for _model in (KeyEvent, JwksEvidence, TokenEvidence):
    event.listen(_model, "before_update", _refuse_change)
    event.listen(_model, "before_delete", _refuse_change)


# ------------------------------------------------------- audit trail and gate records (issue 4)
class AuditEntry(db.Model):  # type: ignore[name-defined,misc]
    """One entry of the tamper-evident audit trail (append-only; see :mod:`lifecycle.audit`).

    ``seq`` counts from 1 without gaps; ``prev_hash`` is the ``hash`` of entry ``seq - 1``
    (64 zeros for the first); ``hash`` is the SHA-256 (hex) of the canonical JSON of
    ``seq, at, actor, action, subject, data, prev_hash`` (``docs/audit.md``).
    """

    __tablename__ = "audit_entry"
    __table_args__ = (sa.CheckConstraint("seq >= 1", name="seq_positive"),)

    seq: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(sa.String(320), index=True)
    action: Mapped[str] = mapped_column(sa.String(64), index=True)
    subject: Mapped[str] = mapped_column(sa.String(255), index=True)
    data: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64), unique=True)

    def __repr__(self) -> str:
        return f"<AuditEntry {self.seq} {self.action} {self.subject}>"


class AuditHead(db.Model):  # type: ignore[name-defined,misc]
    """The chain head: the single row ``id = 1`` holding the last ``seq`` and ``hash``.

    Appending locks it (``SELECT … FOR UPDATE``) so concurrent writers queue instead of
    forking the chain; :func:`lifecycle.audit.verify` compares it with the last entry, which
    reveals deleted tail entries.
    """

    __tablename__ = "audit_head"
    __table_args__ = (sa.CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(sa.BigInteger)
    hash: Mapped[str] = mapped_column(sa.String(64))


class SigningKey(db.Model):  # type: ignore[name-defined,misc]
    """Stagegate's own ES256 key that signs gate records (``use: sig``, ``alg: ES256``).

    ``kid`` is the RFC 7638 thumbprint; ``public_jwk`` holds public members only; the private
    JWK exists only as ``sealed_private`` (AES-256-GCM under the KEK,
    :mod:`lifecycle.crypto_store`).  ``purpose`` is unique while the key is the active one
    (``active`` true), so two processes cannot both create a first key.
    """

    __tablename__ = "signing_key"
    __table_args__ = (
        sa.Index("uq_signing_key_one_active", "purpose", unique=True,
                 sqlite_where=sa.text("active"), postgresql_where=sa.text("active")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kid: Mapped[str] = mapped_column(sa.String(128), unique=True)
    purpose: Mapped[str] = mapped_column(sa.String(32))
    alg: Mapped[str] = mapped_column(sa.String(16))
    public_jwk: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    sealed_private: Mapped[bytes] = mapped_column(sa.LargeBinary, deferred=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class GateRecord(db.Model):  # type: ignore[name-defined,misc]
    """The signed record of one gate decision (append-only): ``jws`` is the compact JWS
    exactly as signed and as every download returns it (``docs/audit.md``)."""

    __tablename__ = "gate_record"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    check_run_id: Mapped[int] = mapped_column(sa.ForeignKey("check_run.id"), unique=True)
    version_id: Mapped[int] = mapped_column(sa.ForeignKey("api_version.id"), index=True)
    kid: Mapped[str] = mapped_column(sa.String(128))
    decision: Mapped[str] = mapped_column(sa.String(10))
    target_stage: Mapped[str] = mapped_column(sa.String(20))
    jws: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    check_run: Mapped[CheckRun] = relationship()


APPEND_ONLY = (*APPEND_ONLY, AuditEntry, GateRecord)
for _model in (AuditEntry, GateRecord):
    event.listen(_model, "before_update", _refuse_change)
    event.listen(_model, "before_delete", _refuse_change)


# ------------------------------------------------- four-eyes approval and waivers (issue 4)
#: states of a :class:`PromotionRequest`
REQUEST_STATES: tuple[str, ...] = ("pending", "approved", "rejected", "superseded", "blocked")
#: what an :class:`Approval` decided
APPROVAL_DECISIONS: tuple[str, ...] = ("approve", "reject")


class PromotionRequest(db.Model):  # type: ignore[name-defined,misc]
    """A request to move a version into a stage that needs approvals (``lifecycle.approvals``).

    ``state``: ``pending`` (waiting for approvals; at most one per version), ``approved``
    (the approvals were reached and the transition happened: ``transition_id``),
    ``rejected``, ``superseded`` (a newer request, or the version moved meanwhile) or
    ``blocked`` (the approvals were reached but the gate failed at that moment).
    ``check_run_id`` is the gate evaluated when it was requested; ``required_approvals`` the
    pack's count at that time.
    """

    __tablename__ = "promotion_request"
    __table_args__ = (
        sa.CheckConstraint(_in("state", REQUEST_STATES), name="state"),
        sa.CheckConstraint(_in("from_stage", STAGES), name="from_stage"),
        sa.CheckConstraint(_in("to_stage", STAGES), name="to_stage"),
        sa.CheckConstraint("required_approvals >= 1", name="required_positive"),
        sa.Index("uq_promotion_request_one_pending", "version_id", unique=True,
                 sqlite_where=sa.text("state = 'pending'"),
                 postgresql_where=sa.text("state = 'pending'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(sa.ForeignKey("api_version.id"), index=True)
    from_stage: Mapped[str] = mapped_column(sa.String(20))
    to_stage: Mapped[str] = mapped_column(sa.String(20))
    reason: Mapped[str | None] = mapped_column(sa.Text)
    requested_by: Mapped[str] = mapped_column(sa.String(320))
    state: Mapped[str] = mapped_column(sa.String(12), default="pending")
    required_approvals: Mapped[int] = mapped_column(default=1)
    check_run_id: Mapped[int] = mapped_column(sa.ForeignKey("check_run.id"))
    transition_id: Mapped[int | None] = mapped_column(sa.ForeignKey("transition.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    api_version: Mapped[ApiVersion] = relationship()
    check_run: Mapped[CheckRun] = relationship(foreign_keys=[check_run_id])
    transition: Mapped[Transition | None] = relationship()
    decisions: Mapped[list[Approval]] = relationship(
        back_populates="request", order_by="Approval.id"
    )

    @property
    def approvals(self) -> list[Approval]:
        """The approvals given (not the rejections), oldest first."""
        return [d for d in self.decisions if d.decision == "approve"]

    def __repr__(self) -> str:
        return f"<PromotionRequest {self.id} {self.to_stage} {self.state}>"


class Approval(db.Model):  # type: ignore[name-defined,misc]
    """One approver's decision on a :class:`PromotionRequest` (append-only): ``approve`` or
    ``reject``, with a comment.  One decision per approver and request."""

    __tablename__ = "approval"
    __table_args__ = (
        sa.UniqueConstraint("request_id", "approver", name="uq_approval_request_id_approver"),
        sa.CheckConstraint(_in("decision", APPROVAL_DECISIONS), name="decision"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(sa.ForeignKey("promotion_request.id"), index=True)
    approver: Mapped[str] = mapped_column(sa.String(320))
    decision: Mapped[str] = mapped_column(sa.String(8))
    comment: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    request: Mapped[PromotionRequest] = relationship(back_populates="decisions")


class Waiver(db.Model):  # type: ignore[name-defined,misc]
    """A time-boxed waiver of one failing rule for one version (``lifecycle.waivers``).

    In force from ``created_at`` until ``expires_at`` (exclusive) unless ``revoked_at`` is
    set.  Only ``revoked_at``/``revoked_by``/``revoke_reason`` ever change (once).
    """

    __tablename__ = "waiver"
    __table_args__ = (sa.CheckConstraint("expires_at > created_at", name="expires_after_grant"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(sa.ForeignKey("api_version.id"), index=True)
    rule_id: Mapped[str] = mapped_column(sa.String(64))
    severity: Mapped[str] = mapped_column(sa.String(10))
    reason: Mapped[str] = mapped_column(sa.Text)
    granted_by: Mapped[str] = mapped_column(sa.String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by: Mapped[str | None] = mapped_column(sa.String(320))
    revoke_reason: Mapped[str | None] = mapped_column(sa.Text)

    api_version: Mapped[ApiVersion] = relationship()

    def status_at(self, moment: datetime) -> str:
        """``active``, ``expired`` or ``revoked`` as of ``moment``."""
        if self.revoked_at is not None and self.revoked_at <= moment:
            return "revoked"
        if moment >= self.expires_at:
            return "expired"
        return "active"

    def __repr__(self) -> str:
        return f"<Waiver {self.id} {self.rule_id} until {self.expires_at:%Y-%m-%d}>"


APPEND_ONLY = (*APPEND_ONLY, Approval)
event.listen(Approval, "before_update", _refuse_change)
event.listen(Approval, "before_delete", _refuse_change)

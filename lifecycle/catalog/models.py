"""Catalog models: ``Api`` 1—n ``ApiVersion`` 1—n ``SpecRevision`` / ``SpecUpload`` /
``CheckRun`` / ``Transition``.

Every time is timezone-aware UTC (:class:`~lifecycle.core.db.UTCDateTime`).  ``SpecRevision``,
``SpecUpload``, ``CheckRun`` and ``Transition`` are records of what happened: append-only
(:class:`~lifecycle.core.db.AppendOnly`).
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lifecycle.accounts.models import Team
from lifecycle.catalog.stages import STAGES, Kind
from lifecycle.core.db import AppendOnly, UTCDateTime, utcnow
from lifecycle.core.db import in_ as _in
from lifecycle.core.extensions import db

#: API slug (DESIGN.md)
API_NAME_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
#: version string: semver-like, no spaces or slashes (it is a URL path segment)
VERSION_RE = re.compile(r"[0-9A-Za-z][0-9A-Za-z.+-]{0,39}")


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
    """One version of an API and its current lifecycle ``stage`` (see
    :mod:`lifecycle.catalog.stages`)."""

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


class SpecRevision(AppendOnly, db.Model):  # type: ignore[name-defined,misc]
    """An uploaded OpenAPI document: the exact bytes and the analysis of exactly those bytes.

    ``findings`` is a list of :meth:`policies.findings.Finding.to_dict` dicts.  Identical
    bytes never make a second revision of one version (unique ``sha256`` per version).

    The bytes are :attr:`raw`.  A revision is stored whole, or as a **difference** from an
    earlier revision of its version (:attr:`delta_of`): the bytes it shares with that one at
    the start (``delta_prefix``) and at the end (``delta_suffix``) are not stored again, only
    the middle (``stored``).  At most :data:`MAX_DELTA_DEPTH` differences lie between a
    revision and one stored whole, and :attr:`raw` checks the SHA-256 of what it rebuilds.
    """

    __tablename__ = "spec_revision"
    __table_args__ = (
        sa.UniqueConstraint("version_id", "number", name="uq_spec_revision_version_id_number"),
        sa.UniqueConstraint("version_id", "sha256", name="uq_spec_revision_version_id_sha256"),
        sa.CheckConstraint("number >= 1", name="number_positive"),
        sa.CheckConstraint(_in("format", ("json", "yaml")), name="format"),
        sa.CheckConstraint(
            "(delta_of_id IS NULL AND delta_prefix IS NULL AND delta_suffix IS NULL"
            " AND delta_depth = 0) OR (delta_of_id IS NOT NULL AND delta_prefix >= 0"
            " AND delta_suffix >= 0 AND delta_depth >= 1)", name="delta_whole"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(sa.ForeignKey("api_version.id"), index=True)
    number: Mapped[int] = mapped_column()
    #: the bytes (stored whole), or the middle that differs from :attr:`delta_of`'s bytes
    stored: Mapped[bytes] = mapped_column("raw", sa.LargeBinary, deferred=True)
    delta_of_id: Mapped[int | None] = mapped_column(sa.ForeignKey("spec_revision.id"))
    delta_prefix: Mapped[int | None] = mapped_column()
    delta_suffix: Mapped[int | None] = mapped_column()
    delta_depth: Mapped[int] = mapped_column(default=0, server_default="0")
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
    delta_of: Mapped[SpecRevision | None] = relationship(remote_side="SpecRevision.id")

    @property
    def raw(self) -> bytes:
        """The exact uploaded bytes (rebuilt from :attr:`delta_of` for a difference).

        :raises StoredBytesCorrupt: what was rebuilt does not have the recorded SHA-256.
        """
        chain: list[SpecRevision] = []
        whole: SpecRevision = self
        while whole.delta_of is not None:  # at most MAX_DELTA_DEPTH steps
            chain.append(whole)
            whole = whole.delta_of
        raw = bytes(whole.stored)
        for step in reversed(chain):
            prefix, suffix = step.delta_prefix or 0, step.delta_suffix or 0
            raw = raw[:prefix] + bytes(step.stored) + raw[len(raw) - suffix:]
        # one check of the bytes asked for (not one per step): it covers every step
        if chain and hashlib.sha256(raw).hexdigest() != self.sha256:
            raise StoredBytesCorrupt(
                f"Revision {self.number} of version id {self.version_id} does not rebuild "
                "to its recorded SHA-256; restore the database from a backup.")
        return raw

    def __repr__(self) -> str:
        return f"<SpecRevision {self.version_id}#{self.number} {self.sha256[:12]}>"


#: the most differences between a revision and one stored whole (reading a revision reads
#: at most this many rows more); the next one is stored whole
MAX_DELTA_DEPTH = 16


class StoredBytesCorrupt(RuntimeError):
    """A revision's bytes, rebuilt from the database, do not match its SHA-256."""


class SpecUpload(AppendOnly, db.Model):  # type: ignore[name-defined,misc]
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


class CheckRun(AppendOnly, db.Model):  # type: ignore[name-defined,misc]
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


class Transition(AppendOnly, db.Model):  # type: ignore[name-defined,misc]
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


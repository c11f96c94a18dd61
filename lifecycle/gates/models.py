"""Gate models: waivers of findings (time-limited, revocable)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lifecycle.catalog.models import ApiVersion
from lifecycle.core.db import UTCDateTime, utcnow
from lifecycle.core.extensions import db


class Waiver(db.Model):  # type: ignore[name-defined,misc]
    """A time-boxed waiver of one failing rule for one version (``lifecycle.gates.waivers``).

    In force from ``created_at`` until ``expires_at`` (exclusive) unless ``revoked_at`` is
    set.  ``ended_at`` is ``NULL`` while the waiver may still be in force; it is set when the
    waiver is revoked, or when a new grant of the same rule finds it expired (in that grant's
    transaction).  A partial unique index on ``(version_id, rule_id) WHERE ended_at IS NULL``
    holds "one waiver in force per rule" under concurrency.  Only ``ended_at`` and
    ``revoked_at``/``revoked_by``/``revoke_reason`` ever change (once).
    """

    __tablename__ = "waiver"
    __table_args__ = (
        sa.CheckConstraint("expires_at > created_at", name="expires_after_grant"),
        sa.Index("uq_waiver_one_open_per_rule", "version_id", "rule_id", unique=True,
                 sqlite_where=sa.text("ended_at IS NULL"),
                 postgresql_where=sa.text("ended_at IS NULL")),
    )

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
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

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



class VersionSummary(db.Model):  # type: ignore[name-defined,misc]
    """The stored compliance summary of one version: what the gate into its next stage says
    now, as last computed by :func:`lifecycle.gates.summary.refresh` (the board and the REST
    list read it instead of evaluating every gate per view).

    :ivar target_stage: the next stage (``None``: retired, no gate).
    :ivar passed: the gate's verdict (``None`` without a target).
    :ivar revision_id: the current spec revision (``None``: nothing uploaded yet).
    :ivar blocking: blocking findings in all; ``blocking_failed`` of them ``fail``/``error``,
        ``blocking_missing`` ``missing-evidence``.
    :ivar failing_rules: distinct rules with a blocking ``fail``/``error`` finding (a rule
        failing at ten places counts once).
    :ivar missing_evidence: the evidence kinds whose absence blocks (``spec``, ``token``,
        ``jwks``, ``gateway``), sorted and space-separated; ``""`` when none is missing.
    :ivar pack / pack_sha256: the policy pack it was judged by (a pack change makes it stale).
    :ivar computed_at: the clock time it was judged at.
    :ivar valid_until: the earliest time the verdict may change by the clock alone (a waiver
        expiring, token evidence ageing out, a key's grace ending); ``None``: never.
    :ivar proven_until: until when the current gateway configuration counts as *enforced and
        proven* (static checks pass, the newest recent proof of it passed: its
        ``finished_at`` + the evidence age limit); ``None``: not proven.  The board shows the
        badge while it is in the future (no refresh needed when it passes).
    """

    __tablename__ = "version_summary"
    __table_args__ = (
        sa.CheckConstraint("blocking >= 0 AND blocking_failed >= 0 AND blocking_missing >= 0",
                           name="counts_non_negative"),
        sa.CheckConstraint("failing_rules >= 0", name="failing_rules_non_negative"),
    )

    version_id: Mapped[int] = mapped_column(sa.ForeignKey("api_version.id"), primary_key=True)
    target_stage: Mapped[str | None] = mapped_column(sa.String(20))
    passed: Mapped[bool | None] = mapped_column()
    revision_id: Mapped[int | None] = mapped_column(sa.ForeignKey("spec_revision.id"))
    blocking: Mapped[int] = mapped_column(sa.Integer, default=0)
    blocking_failed: Mapped[int] = mapped_column(sa.Integer, default=0)
    blocking_missing: Mapped[int] = mapped_column(sa.Integer, default=0)
    failing_rules: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    missing_evidence: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")
    pack: Mapped[str] = mapped_column(sa.String(200))
    pack_sha256: Mapped[str] = mapped_column(sa.String(64))
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    proven_until: Mapped[datetime | None] = mapped_column(UTCDateTime)

"""Evidence models: managed encryption keys and their events, issuer JWKS and sample-token
analyses (append-only), and the replay cache of token ids."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lifecycle.catalog.models import ApiVersion
from lifecycle.core.db import AppendOnly, UTCDateTime, utcnow
from lifecycle.core.db import in_ as _in
from lifecycle.core.extensions import db

#: states of a managed encryption key
KEY_STATES: tuple[str, ...] = ("current", "grace", "retired")
#: kinds of :class:`KeyEvent`
KEY_EVENT_KINDS: tuple[str, ...] = ("generated", "rotated", "retired", "expired")


class ManagedKey(db.Model):  # type: ignore[name-defined,misc]
    """An encryption key pair Stagegate generated for a version (``use: enc``).

    ``public_jwk`` holds public members only.  The private JWK exists only as
    ``sealed_private``: AES-256-GCM under the key-encryption key
    (:mod:`lifecycle.core.crypto_store`)
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


class KeyEvent(AppendOnly, db.Model):  # type: ignore[name-defined,misc]
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


class JwksEvidence(AppendOnly, db.Model):  # type: ignore[name-defined,misc]
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


class TokenEvidence(AppendOnly, db.Model):  # type: ignore[name-defined,misc]
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


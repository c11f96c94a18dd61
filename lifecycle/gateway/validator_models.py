"""Gateway tables of the token validator service: its decision events and its replay state.

Both are written by the token validator service (:mod:`lifecycle.gateway.stores`) with Core
statements, never through the ORM session of a web request.  Neither ever holds a token:
a decision keeps the token's fingerprint (the first 16 hex digits of its SHA-256) and the
hashed ``jti``; the replay state keeps :func:`policies.tokens.replay_key` values only.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from lifecycle.core.db import AppendOnly, UTCDateTime
from lifecycle.core.extensions import db

#: longest stored text of a decision (version, client address, sub, client_id), characters
MAX_TEXT = 256
#: longest stored ``kid`` / rule id
MAX_KID = 128
MAX_RULE = 64

#: a 64-bit id on PostgreSQL (decisions are many), SQLite's rowid alias elsewhere
_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class DecisionEvent(AppendOnly, db.Model):  # type: ignore[name-defined,misc]
    """One decision of the token validator (an nginx ``auth_request`` subrequest), append-only.

    ``allowed`` is the answer (204 / 401), ``rule_id`` the deny reason (``None`` for an
    allow).  Identity columns (``jti_hash``, ``sub``, ``client_id``, ``kid``, ``iat``,
    ``exp``) are set only for an allow: they come from a verified token.  ``fingerprint`` is
    set whenever a token was sent; ``iat``/``exp`` are Unix seconds.  Never the token.
    """

    __tablename__ = "gateway_decision"
    __table_args__ = (
        sa.Index("ix_gateway_decision_version_at", "version", "at"),
    )

    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    version: Mapped[str] = mapped_column(sa.String(MAX_TEXT))
    allowed: Mapped[bool] = mapped_column()
    rule_id: Mapped[str | None] = mapped_column(sa.String(MAX_RULE))
    fingerprint: Mapped[str | None] = mapped_column(sa.String(16), index=True)
    jti_hash: Mapped[str | None] = mapped_column(sa.String(64))
    sub: Mapped[str | None] = mapped_column(sa.String(MAX_TEXT))
    client_id: Mapped[str | None] = mapped_column(sa.String(MAX_TEXT))
    kid: Mapped[str | None] = mapped_column(sa.String(MAX_KID))
    iat: Mapped[int | None] = mapped_column(sa.BigInteger)
    exp: Mapped[int | None] = mapped_column(sa.BigInteger)
    client_address: Mapped[str | None] = mapped_column(sa.String(MAX_TEXT))

    def __repr__(self) -> str:
        return f"<DecisionEvent {self.version} {'allow' if self.allowed else self.rule_id}>"


class ReplayMark(db.Model):  # type: ignore[name-defined,misc]
    """A single-use token id the validator has let through: ``key`` =
    :func:`policies.tokens.replay_key` (SHA-256 hex of ``iss`` NUL ``jti``), remembered until
    ``expires_at`` (Unix seconds, the token's ``exp``).  Shared by every validator process
    (separate from the sample-token replay cache ``replay_entry``)."""

    __tablename__ = "gateway_replay"

    key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    expires_at: Mapped[int] = mapped_column(sa.BigInteger, index=True)

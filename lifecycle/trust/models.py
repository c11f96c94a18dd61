"""Trust models: the signing keys of gate records and the signed gate records (append-only)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lifecycle.catalog.models import CheckRun
from lifecycle.core.db import AppendOnly, UTCDateTime, utcnow
from lifecycle.core.extensions import db


class SigningKey(db.Model):  # type: ignore[name-defined,misc]
    """Stagegate's own ES256 key that signs gate records (``use: sig``, ``alg: ES256``).

    ``kid`` is the RFC 7638 thumbprint; ``public_jwk`` holds public members only; the private
    JWK exists only as ``sealed_private`` (AES-256-GCM under the KEK,
    :mod:`lifecycle.core.crypto_store`).  ``purpose`` is unique while the key is the active one
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


class GateRecord(AppendOnly, db.Model):  # type: ignore[name-defined,misc]
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


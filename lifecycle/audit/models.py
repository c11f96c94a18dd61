"""Audit trail models: the hash-chained entries and the chain head."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from lifecycle.core.db import AppendOnly, UTCDateTime
from lifecycle.core.extensions import db


class AuditEntry(AppendOnly, db.Model):  # type: ignore[name-defined,misc]
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


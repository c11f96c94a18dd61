"""Gateway evidence models: per-version gateway settings, the version's gateway
configurations (append-only; the newest is current) and proof runs (append-only).

Nothing here holds a key or a token: settings name file paths on the gateway host, a
configuration is nginx text, a proof keeps ``nginx -V``, the configuration's SHA-256 and the
attack table (status codes and booleans).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from lifecycle.core.db import AppendOnly, UTCDateTime
from lifecycle.core.db import in_ as _in
from lifecycle.core.extensions import db
from lifecycle.gateway.validator_models import DecisionEvent, ReplayMark

#: gateway targets Stagegate renders for
TARGETS: tuple[str, ...] = ("nginx", "nginx-plus")
#: where a configuration came from
CONFIG_SOURCES: tuple[str, ...] = ("generated", "uploaded")


class GatewaySettingsRow(db.Model):  # type: ignore[name-defined,misc]
    """The deployment settings of one version's gateway (one row per version; updated in
    place — the audit trail keeps each change).

    :ivar server_name: the API host name (``api.example.com``).
    :ivar upstream: backend origin ``http(s)://host[:port]``.
    :ivar certificate: / :ivar certificate_key: absolute PEM paths on the gateway host.
    :ivar validator: the validator's unix socket path or ``host:port``.
    :ivar target: ``nginx`` (open source + validator) or ``nginx-plus``.
    :ivar deprecated_at: / :ivar sunset_at: RFC 9745 / RFC 8594 times, or ``None``.
    :ivar successor_url: / :ivar deprecation_policy_url: ``https`` links, or ``None``.
    """

    __tablename__ = "gateway_settings"
    __table_args__ = (sa.CheckConstraint(_in("target", TARGETS), name="target"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(sa.ForeignKey("api_version.id"), unique=True)
    server_name: Mapped[str] = mapped_column(sa.String(253))
    upstream: Mapped[str] = mapped_column(sa.String(300))
    certificate: Mapped[str] = mapped_column(sa.String(300))
    certificate_key: Mapped[str] = mapped_column(sa.String(300))
    validator: Mapped[str] = mapped_column(sa.String(300))
    target: Mapped[str] = mapped_column(sa.String(16), default="nginx")
    deprecated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sunset_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    successor_url: Mapped[str | None] = mapped_column(sa.String(500))
    deprecation_policy_url: Mapped[str | None] = mapped_column(sa.String(500))
    updated_by: Mapped[str] = mapped_column(sa.String(100))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class GatewayConfig(AppendOnly, db.Model):  # type: ignore[name-defined,misc]
    """One gateway configuration of a version (generated or uploaded; the newest is the
    current one).

    :ivar bundle: the files as canonical JSON bytes ``{"name": "text", …}`` (UTF-8).
    :ivar entry: the main file's name in the bundle.
    :ivar sha256: :func:`policies.gateway.bundle_sha256` over the bundle (what a proof names).
    :ivar findings: :func:`policies.gateway.check_nginx` findings (``Finding.to_dict``, with
        file and line).
    """

    __tablename__ = "gateway_config"
    __table_args__ = (sa.CheckConstraint(_in("source", CONFIG_SOURCES), name="source"),
                      sa.CheckConstraint(_in("target", TARGETS), name="target"))

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(sa.ForeignKey("api_version.id"), index=True)
    source: Mapped[str] = mapped_column(sa.String(10))
    target: Mapped[str] = mapped_column(sa.String(16))
    entry: Mapped[str] = mapped_column(sa.String(200))
    bundle: Mapped[bytes] = mapped_column(sa.LargeBinary, deferred=True)
    size: Mapped[int] = mapped_column(sa.Integer)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    findings: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON)
    passed: Mapped[bool] = mapped_column(sa.Boolean)
    created_by: Mapped[str] = mapped_column(sa.String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class GatewayProof(AppendOnly, db.Model):  # type: ignore[name-defined,misc]
    """One proof run of one configuration (:class:`lifecycle.gateway.proof.ProofResult`).

    :ivar config_sha256: the proven bundle's SHA-256 (compared with the current
        configuration's: any change invalidates the proof).
    :ivar cases: the attack table (``CaseResult`` as dicts; never a token).
    """

    __tablename__ = "gateway_proof"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(sa.ForeignKey("api_version.id"), index=True)
    config_id: Mapped[int | None] = mapped_column(sa.ForeignKey("gateway_config.id"))
    config_sha256: Mapped[str] = mapped_column(sa.String(64))
    nginx_version: Mapped[str] = mapped_column(sa.Text)
    passed: Mapped[bool] = mapped_column(sa.Boolean)
    error: Mapped[str | None] = mapped_column(sa.Text)
    cases: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON)
    decisions: Mapped[int] = mapped_column(sa.Integer, default=0)
    log_leaks: Mapped[list[str]] = mapped_column(sa.JSON)
    job_id: Mapped[str | None] = mapped_column(sa.String(32))
    created_by: Mapped[str] = mapped_column(sa.String(100))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime)

#: every gateway table (the validator service's live in :mod:`.validator_models`)
__all__ = ["DecisionEvent", "GatewayConfig", "GatewayProof", "GatewaySettingsRow", "ReplayMark"]

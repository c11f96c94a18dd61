"""The gateway evidence provider (kind ``gateway``), listed in
:func:`lifecycle.app.evidence_providers`."""

from __future__ import annotations

from datetime import datetime

from lifecycle.catalog.models import ApiVersion
from lifecycle.gateway.services import gateway_findings, proof_valid_until, proven_until
from policies.findings import Finding
from policies.rules import Evidence


class GatewayProvider:
    """Evidence kind ``gateway``: the current configuration's ``check_nginx`` findings
    (file:line) and ``GW-PROOF`` (a passing, recent proof of exactly that configuration), or
    ``missing-evidence`` saying what to do (fail closed)."""

    kinds: frozenset[str] = frozenset({Evidence.GATEWAY})

    def findings(self, version: ApiVersion, target: str, now: datetime) -> list[Finding]:
        return gateway_findings(version, now)

    def valid_until(self, version: ApiVersion, target: str, now: datetime) -> datetime | None:
        """When ``GW-PROOF`` changes by the clock alone: the proof ageing out."""
        return proof_valid_until(version, now)

    def proven_until(self, version: ApiVersion, now: datetime) -> datetime | None:
        """Until when the gateway is *enforced and proven* (the board's badge), or ``None``."""
        return proven_until(version, now)

"""The evidence providers of this package: the issuer's signing JWKS and sample tokens."""

from __future__ import annotations

from datetime import datetime

from lifecycle.catalog.models import ApiVersion
from lifecycle.evidence.services import jwks_findings, token_findings, token_valid_until
from policies.findings import Finding
from policies.rules import Evidence


class JwksProvider:
    """Evidence kind ``jwks``: KEY findings of the newest issuer JWKS (with key separation and
    key-URL checks), or ``missing-evidence`` saying what to supply."""

    kinds: frozenset[str] = frozenset({Evidence.JWKS})

    def findings(self, version: ApiVersion, target: str, now: datetime) -> list[Finding]:
        return jwks_findings(version)


class TokenProvider:
    """Evidence kind ``token``: the findings of the best recent sample-token analysis, or
    ``missing-evidence`` saying what to supply."""

    kinds: frozenset[str] = frozenset({Evidence.TOKEN})

    def findings(self, version: ApiVersion, target: str, now: datetime) -> list[Finding]:
        return token_findings(version, now)

    def valid_until(self, version: ApiVersion, target: str, now: datetime) -> datetime | None:
        """When a sample-token analysis ages out or a managed key's grace ends (the token
        findings may change then without any upload)."""
        return token_valid_until(version, now)

"""The spec evidence provider: the current revision's stored findings (nothing is re-parsed),
or one ``missing-evidence`` finding per spec rule before any upload (fail closed)."""

from __future__ import annotations

from datetime import datetime

from lifecycle.catalog.models import ApiVersion
from policies.findings import Finding, Status
from policies.rules import Evidence, all_rules


def missing_spec_findings() -> list[Finding]:
    """One ``missing-evidence`` finding per spec rule: what a gate sees before any upload."""
    return [
        Finding(rule_id=rule.id, severity=rule.severity, status=Status.MISSING_EVIDENCE,
                message="No OpenAPI document has been uploaded for this version.")
        for rule in all_rules() if rule.evidence == Evidence.SPEC
    ]


class SpecProvider:
    """Evidence kind ``spec``: the findings stored with the version's current revision."""

    kinds: frozenset[str] = frozenset({Evidence.SPEC})

    def findings(self, version: ApiVersion, target: str, now: datetime) -> list[Finding]:
        revision = version.current_revision
        if revision is None:
            return missing_spec_findings()
        return [Finding.from_dict(d) for d in revision.findings]

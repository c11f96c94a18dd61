"""Plain-JSON shapes of the models and gate decisions returned by the REST API.

Times are ISO 8601 with ``+00:00``.  URLs are absolute paths under ``/api/v1``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import url_for

from lifecycle.catalog import services, stages
from lifecycle.catalog.models import Api, ApiVersion, CheckRun, SpecRevision, Transition
from lifecycle.review.board import CardRow
from policies.findings import Finding
from policies.gate import GateDecision
from policies.rules import get_rule, has_rule


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def finding_dict(finding: Finding) -> dict[str, Any]:
    """A finding with its rule's explanation: ``rule``, ``title``, ``severity``, ``status``,
    ``message``, ``pointer``, ``line``, ``column``, ``file`` (a configuration bundle's file, else
    ``None``), ``remediation`` and ``sources``
    (``[{"label", "url"}]``)."""
    rule = get_rule(finding.rule_id) if has_rule(finding.rule_id) else None
    return {
        "rule": finding.rule_id,
        "title": rule.title if rule else None,
        "severity": str(finding.severity),
        "status": str(finding.status),
        "message": finding.message,
        "pointer": finding.pointer,
        "line": finding.line,
        "column": finding.column,
        "file": finding.file,
        "remediation": rule.remediation if rule else None,
        "sources": [{"label": s.label, "url": s.url} for s in rule.sources] if rule else [],
    }


def version_summary(obj: ApiVersion) -> dict[str, Any]:
    """Short form of a version, as listed under its API."""
    return {
        "version": obj.version,
        "stage": obj.stage,
        "url": url_for("api.get_version", name=obj.api.name, version=obj.version),
    }


def card_dict(card: CardRow) -> dict[str, Any]:
    """A version as the board lists it, with its stored compliance summary: ``badge``
    (``pass``, ``blocked``, ``none``, ``production``, ``final``, ``pending``), ``attention``
    (``blocked``, ``approval``, ``expiring`` or ``null``), blocking counts, ``valid_until``,
    ``gateway_proven`` (the "enforced and proven" badge)."""
    return {
        "api": card.api,
        "title": card.title,
        "team": card.team,
        "version": card.version,
        "stage": card.stage,
        "next_stage": card.next_stage,
        "badge": card.badge,
        "attention": card.attention,
        "blocking": card.blocking,
        "blocking_failed": card.blocking_failed,
        "blocking_missing": card.blocking_missing,
        "failing_rules": card.failing_rules,
        "missing_evidence": list(card.missing_evidence),
        "awaiting_approval": card.awaiting_approval,
        "valid_until": _time(card.valid_until),
        "gateway_proven": card.proven,
        "url": url_for("api.get_version", name=card.api, version=card.version),
    }


def api_dict(api: Api) -> dict[str, Any]:
    """An API with the short form of each of its versions."""
    return {
        "name": api.name,
        "title": api.title,
        "description": api.description,
        "team": api.team,
        "created_at": _time(api.created_at),
        "url": url_for("api.get_api", name=api.name),
        "versions": [version_summary(v) for v in api.versions],
    }


def revision_dict(rev: SpecRevision) -> dict[str, Any]:
    """A spec revision's metadata and finding counts (not the bytes)."""
    counts: dict[str, int] = {}
    for f in rev.findings:
        counts[f.get("status", "?")] = counts.get(f.get("status", "?"), 0) + 1
    return {
        "number": rev.number,
        "sha256": rev.sha256,
        "size": rev.size,
        "format": rev.format,
        "declared_version": rev.declared_version,
        "openapi_version": rev.openapi_version,
        "valid": rev.valid,
        "uploaded_by": rev.uploaded_by,
        "created_at": _time(rev.created_at),
        "finding_counts": counts,
    }


def version_dict(obj: ApiVersion) -> dict[str, Any]:
    """A version with its stage, the next stage and its revisions."""
    latest = obj.current_revision
    return {
        "api": obj.api.name,
        "version": obj.version,
        "stage": obj.stage,
        "next_stage": stages.next_stage(obj.stage),
        "created_at": _time(obj.created_at),
        "updated_at": _time(obj.updated_at),
        "url": url_for("api.get_version", name=obj.api.name, version=obj.version),
        "current_revision": revision_dict(latest) if latest else None,
        "revisions": [revision_dict(r) for r in obj.revisions],
    }


def check_run_dict(run: CheckRun | None) -> dict[str, Any] | None:
    """A recorded gate evaluation (without its findings)."""
    if run is None:
        return None
    return {
        "id": run.id,
        "target": run.target_stage,
        "passed": run.passed,
        "pack": run.pack,
        "pack_sha256": run.pack_sha256,
        "revision": run.revision.number if run.revision else None,
        "created_at": _time(run.created_at),
    }


def transition_dict(tr: Transition) -> dict[str, Any]:
    """A transition with the check run that allowed it (``null`` when not gated)."""
    return {
        "id": tr.id,
        "from": tr.from_stage,
        "to": tr.to_stage,
        "kind": tr.kind,
        "actor": tr.actor,
        "reason": tr.reason,
        "created_at": _time(tr.created_at),
        "check_run": check_run_dict(tr.check_run),
    }


def compliance_dict(obj: ApiVersion, decision: GateDecision | None) -> dict[str, Any]:
    """The gate status for the next stage (``target`` ``null`` once retired)."""
    latest = obj.current_revision
    base: dict[str, Any] = {
        "api": obj.api.name,
        "version": obj.version,
        "stage": obj.stage,
        "revision": latest.number if latest else None,
    }
    if decision is None:
        return {**base, "target": None, "passed": None, "pack": None, "pack_sha256": None,
                "blocking": [], "findings": []}
    return {
        **base,
        "target": decision.target,
        "passed": decision.passed,
        "pack": decision.pack,
        "pack_sha256": decision.pack_sha256,
        "blocking": [finding_dict(f) for f in decision.blocking],
        "findings": [finding_dict(f) for f in decision.findings],
    }


def history_dict(obj: ApiVersion) -> list[dict[str, Any]]:
    """The version's revisions, reverts and transitions in time order, each with ``type``
    (``revision``, ``revert``, ``transition``) and ``at``."""
    out = []
    for event in services.history(obj):
        if event.kind == "revision":
            body = revision_dict(event.item)
        elif event.kind == "revert":
            body = {**revision_dict(event.item.revision), "uploaded_by": event.item.uploaded_by}
        else:
            body = transition_dict(event.item)
        out.append({"type": event.kind, "at": _time(event.at), **body})
    return out

"""The REST entrypoint's error answers: every domain error (:mod:`lifecycle.core.errors`) and
unreadable upload becomes ``{"error": CODE, "message": TEXT, "details": ...}`` with the
error's HTTP status — here and nowhere else."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from lifecycle.api.serialize import finding_dict
from lifecycle.core.errors import ApiError, DomainError, GateFailed
from specs import SpecLoadError

__all__ = ["ApiError", "domain_error_json", "error_response", "gate_details",
           "spec_error_json"]


def error_response(status: int, code: str, message: str, details: Any = None,
                   title: str | None = None) -> tuple[Response, int]:
    """The JSON error answer ``{"error", "message", "details"}`` with ``status``
    (``title`` is for pages and ignored)."""
    return jsonify(error=code, message=message, details=details), status


def gate_details(exc: GateFailed) -> dict[str, Any]:
    """The ``details`` of a 409 ``gate_failed``: target, blocking findings and their rules."""
    decision = exc.decision
    return {
        "target": decision.target,
        "pack": decision.pack,
        "rules": sorted({f.rule_id for f in decision.blocking}),
        "blocking": [finding_dict(f) for f in decision.blocking],
        "check_run": exc.check_run_id,
    }


def domain_error_json(exc: DomainError) -> tuple[Response, int]:
    """The JSON answer of a domain error (gate failures list their blocking findings)."""
    details = gate_details(exc) if isinstance(exc, GateFailed) else exc.details
    return error_response(exc.status, exc.code, exc.message, details)


def spec_error_json(exc: SpecLoadError) -> tuple[Response, int]:
    """The JSON answer of an unreadable upload (413 ``too_large``, else 422
    ``spec_unreadable``)."""
    return error_response(413 if exc.error == "too_large" else 422, exc.error, exc.message,
                          exc.to_dict())

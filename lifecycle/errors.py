"""App-wide error handlers: JSON under ``/api/``, an HTML page (or htmx fragment) elsewhere.

Every error answer of the REST API has the shape
``{"error": CODE, "message": TEXT, "details": ...}``.  Domain errors raised by
:mod:`lifecycle.services` that a view does not handle itself are translated here too, so a
view may simply let them propagate.  No handler ever shows a traceback.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from jinja2 import TemplateNotFound
from markupsafe import escape
from werkzeug.exceptions import HTTPException, InternalServerError, RequestEntityTooLarge

from lifecycle.extensions import db, htmx
from lifecycle.services import (
    Conflict,
    GateFailed,
    NotFound,
    ValidationFailed,
)
from lifecycle.stages import InvalidTransition
from specs import SpecLoadError

#: machine-readable codes of plain HTTP errors
HTTP_CODES: dict[int, str] = {
    400: "bad_request",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "too_many_requests",
    500: "internal_error",
}


class ApiError(Exception):
    """An error a REST view raises directly: ``status``, ``code``, ``message``, ``details``."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


def wants_json() -> bool:
    """Whether the current request is answered in JSON (the REST API lives under /api/)."""
    return request.path == "/api" or request.path.startswith("/api/")


def wants_fragment() -> bool:
    """An htmx request that swaps a fragment (not boosted, not a history restore)."""
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def error_response(
    status: int, code: str, message: str, details: Any = None, title: str | None = None
) -> tuple[Response, int] | tuple[str, int, dict[str, str]]:
    """The error answer for the current request.

    JSON ``{"error", "message", "details"}`` under ``/api/``; otherwise the web UI's
    ``error.html`` (full page) or ``_partials/error.html`` (htmx fragment) when those
    templates exist, else a minimal escaped HTML text.
    """
    if wants_json():
        return jsonify(error=code, message=message, details=details), status
    title = title or code.replace("_", " ").capitalize()
    fragment = wants_fragment()
    context = {"status": status, "code": code, "title": title, "message": message,
               "details": details, "fragment": fragment}
    headers = {"Vary": "HX-Request", "Content-Type": "text/html; charset=utf-8"}
    for name in (("_partials/error.html", "error.html") if fragment else ("error.html",)):
        try:
            return render_template(name, **context), status, headers
        except TemplateNotFound:
            continue
    body = (
        f'<div class="error" role="alert"><h1>{escape(title)}</h1><p>{escape(message)}</p></div>'
    )
    if not fragment:
        body = (
            f"<!doctype html><html lang=en><meta charset=utf-8><title>{escape(title)}</title>"
            f"{body}</html>"
        )
    return body, status, headers


def gate_details(exc: GateFailed) -> dict[str, Any]:
    """The ``details`` of a 409 ``gate_failed``: target, blocking findings and their rules."""
    from lifecycle.api.serialize import finding_dict

    decision = exc.decision
    return {
        "target": decision.target,
        "pack": decision.pack,
        "rules": sorted({f.rule_id for f in decision.blocking}),
        "blocking": [finding_dict(f) for f in decision.blocking],
        "check_run": exc.check_run_id,
    }


def register(app: Flask) -> None:
    """Register the handlers on ``app`` (called by :func:`lifecycle.create_app`)."""

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Any:
        return error_response(exc.status, exc.code, exc.message, exc.details)

    @app.errorhandler(NotFound)
    def _not_found(exc: NotFound) -> Any:
        return error_response(404, "not_found", exc.message)

    @app.errorhandler(Conflict)
    def _conflict(exc: Conflict) -> Any:
        return error_response(409, "conflict", exc.message)

    @app.errorhandler(ValidationFailed)
    def _invalid(exc: ValidationFailed) -> Any:
        return error_response(422, "validation_failed", "Some values are not acceptable.",
                              {"fields": exc.errors})

    @app.errorhandler(InvalidTransition)
    def _invalid_transition(exc: InvalidTransition) -> Any:
        return error_response(422, "invalid_transition", exc.message,
                              {"from": exc.from_stage, "to": exc.to_stage})

    @app.errorhandler(GateFailed)
    def _gate_failed(exc: GateFailed) -> Any:
        return error_response(409, "gate_failed", exc.message, gate_details(exc))

    @app.errorhandler(SpecLoadError)
    def _unreadable(exc: SpecLoadError) -> Any:
        if exc.code == "too_large":
            return error_response(413, "too_large", exc.message, exc.to_dict())
        return error_response(422, "spec_unreadable", exc.message, exc.to_dict())

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(exc: RequestEntityTooLarge) -> Any:
        limit = current_app.config.get("SPEC_MAX_BYTES")
        return error_response(
            413, "too_large",
            f"The request body is too large; documents may have at most {limit} bytes.",
            {"max_bytes": limit},
        )

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError) -> Any:
        return error_response(400, "csrf_failed",
                              "The form expired or was not sent from this site; reload the "
                              "page and try again.", title="Form expired")

    @app.errorhandler(InternalServerError)
    def _internal(exc: InternalServerError) -> Any:
        db.session.rollback()
        original = getattr(exc, "original_exception", None)
        if original is not None:
            current_app.logger.error("Unhandled error on %s", request.path, exc_info=original)
        return error_response(500, "internal_error",
                              "Something went wrong on our side; nothing was changed.",
                              title="Server error")

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Any:
        status = exc.code or 500
        code = HTTP_CODES.get(status, f"http_{status}")
        response = error_response(status, code, exc.description or exc.name,
                                  title=exc.name)
        allowed = getattr(exc, "valid_methods", None)
        if status == 405 and allowed:
            body, st, *rest = response
            headers = dict(rest[0]) if rest else {}
            headers["Allow"] = ", ".join(allowed)
            return body, st, headers
        return response

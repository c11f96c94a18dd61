"""The web entrypoint's error answers: an HTML page (or htmx fragment) — and, for URLs under
``/api/`` no REST view matched (404, 405, 413, …), the REST API's JSON shape
``{"error": CODE, "message": TEXT, "details": ...}``.

:func:`domain_error_page` is the one place domain errors (:mod:`lifecycle.core.errors`) become
pages; :func:`register` installs the handlers of plain HTTP errors.  No handler ever shows a
traceback.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from jinja2 import TemplateNotFound
from markupsafe import escape
from werkzeug.exceptions import HTTPException, InternalServerError, RequestEntityTooLarge

from lifecycle.core.errors import DomainError
from lifecycle.core.extensions import db, htmx
from specs import SpecLoadError
from specs.wording import file_size

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


def domain_error_page(exc: DomainError) -> Any:
    """The page (or fragment) of a domain error a web view let propagate: its status, code,
    message and details (:mod:`lifecycle.core.errors`)."""
    return error_response(exc.status, exc.code, exc.message, exc.details, title=exc.title)


def spec_error_page(exc: SpecLoadError) -> Any:
    """The page of an unreadable upload (413 when too large, else 422)."""
    return error_response(413 if exc.error == "too_large" else 422, exc.error, exc.message,
                          exc.to_dict())


def register(app: Flask) -> None:
    """Register the handlers of plain HTTP errors on ``app`` (called by ``create_app``)."""

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(exc: RequestEntityTooLarge) -> Any:
        limit = current_app.config.get("SPEC_MAX_BYTES")
        return error_response(
            413, "too_large",
            f"The request body is too large; documents may have at most {limit} bytes"
            + (f" ({file_size(limit)})." if isinstance(limit, int) else "."),
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

"""REST views of the audit trail (registered on the ``api`` blueprint).

- ``GET /api/v1/audit`` — entries newest first (``order=asc`` for oldest first), filtered by
  ``actor``, ``action`` (exact, or a prefix ending in ``.`` such as ``transition.``),
  ``subject`` (e.g. ``payments@1.0.0``), ``since`` (inclusive) / ``until`` (exclusive)
  ISO 8601 times; ``limit`` 1–500 (default 100); ``cursor`` = the ``next_cursor`` of the
  previous page.  Answers ``{"entries": [...], "next_cursor": str|null, "head": {"seq",
  "hash"}}``.
- ``GET /api/v1/audit.jsonl`` — the same filters (plus ``after=SEQ``), every match in chain
  order as JSON Lines, as a download.

Entry shape and hash: ``docs/audit.md``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request, stream_with_context

from lifecycle import audit
from lifecycle.accounts.authz import requires
from lifecycle.api.errors import ApiError

MAX_LIMIT = 500
DEFAULT_LIMIT = 100


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(422, "validation_failed", "Some values are not acceptable.",
                    {"fields": {field: message}})


def _int_arg(name: str, low: int, high: int | None = None) -> int | None:
    text = request.args.get(name)
    if text is None or text == "":
        return None
    # str.isdigit accepts '²' and Arabic-Indic digits, which int() then refuses or reads
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        raise _invalid(name, "Must be a whole number.")
    value = int(text)
    if value < low or (high is not None and value > high):
        raise _invalid(name, f"Must be from {low} to {high}." if high else f"At least {low}.")
    return value


def _time_arg(name: str) -> Any:
    text = request.args.get(name)
    if not text:
        return None
    try:
        return audit.parse_time(text[:64])
    except ValueError:
        raise _invalid(name, "Use an ISO 8601 date or time, e.g. 2026-12-08T10:00:00Z.") \
            from None


def _query(**extra: Any) -> audit.AuditQuery:
    def text(name: str) -> str | None:
        return (request.args.get(name) or "").strip()[:320] or None

    return audit.AuditQuery(actor=text("actor"), action=text("action"),
                            subject=text("subject"), since=_time_arg("since"),
                            until=_time_arg("until"), **extra)


@requires("audit.read")
def list_audit() -> Any:
    """One page of audit entries, newest first unless ``order=asc``."""
    order = request.args.get("order", "desc")
    if order not in ("asc", "desc"):
        raise _invalid("order", "Use asc or desc.")
    limit = _int_arg("limit", 1, MAX_LIMIT) or DEFAULT_LIMIT
    cursor = _int_arg("cursor", 0)
    newest_first = order == "desc"
    page = audit.search(_query(**({"before": cursor} if newest_first else {"after": cursor})
                               if cursor is not None else {}),
                        limit=limit + 1, newest_first=newest_first)
    more = len(page) > limit
    page = page[:limit]
    seq, digest = audit.head()
    return jsonify(entries=page,
                   next_cursor=str(page[-1]["seq"]) if more else None,
                   head={"seq": seq, "hash": digest})


@requires("audit.read")
def export_audit() -> Any:
    """Every matching entry in chain order, as a JSON Lines download."""
    query = _query(after=_int_arg("after", 0))
    response = Response(stream_with_context(audit.export_lines(query)),
                        mimetype="application/jsonl")
    response.headers["Content-Disposition"] = 'attachment; filename="stagegate-audit.jsonl"'
    return response


def register(bp: Blueprint) -> None:
    """Add this module's views to ``bp`` (the package builds its blueprints per app;
    see ``create_app``)."""
    bp.add_url_rule("/audit", view_func=list_audit, methods=["GET"])
    bp.add_url_rule("/audit.jsonl", view_func=export_audit, methods=["GET"])

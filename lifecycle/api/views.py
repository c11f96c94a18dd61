"""REST views: parse the request, call one service, return JSON.

Domain errors propagate to :mod:`lifecycle.web.errors`, which answers
``{"error", "message", "details"}`` with the right status.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request, url_for

from lifecycle.accounts.authz import current_actor
from lifecycle.api import jobs, serialize
from lifecycle.api.errors import ApiError
from lifecycle.catalog import services
from lifecycle.core.clock import clock
from lifecycle.gates import evaluate, moves
from lifecycle.review import board

VERSION_PATH = "/apis/<name>/versions/<version>"


def _json_object() -> dict[str, Any]:
    """The request body as a JSON object (parsed strictly and depth-limited by
    :mod:`lifecycle.core.jsonbody`).

    :raises ApiError: 415 when not sent as JSON, 400 when not valid JSON (syntax, duplicate
        member, nested deeper than ``JSON_MAX_DEPTH``) or not a JSON object.
    """
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type",
                       "Send a JSON object with Content-Type: application/json.")
    body = request.get_json(silent=False)
    if not isinstance(body, dict):
        raise ApiError(400, "bad_request", "The request body is not a JSON object.")
    return body


def _text(body: dict[str, Any], key: str, *, required: bool = False) -> str | None:
    value = body.get(key)
    if value is None:
        if required:
            raise ApiError(422, "validation_failed", "Some values are not acceptable.",
                           {"fields": {key: "This field is required."}})
        return None
    if not isinstance(value, str):
        raise ApiError(422, "validation_failed", "Some values are not acceptable.",
                       {"fields": {key: "Must be a string."}})
    return value


def _paged(body: dict[str, Any], next_url: str | None) -> Any:
    """``body`` with its ``next`` link, also as an RFC 8288 ``Link: <…>; rel="next"``."""
    response = jsonify({**body, "next": next_url})
    if next_url:
        response.headers["Link"] = f'<{next_url}>; rel="next"'
    return response


def list_apis() -> Any:
    """APIs by name with their versions, one page at a time (``limit`` 1–200, default 50;
    ``cursor`` from the ``next`` link)."""
    limit, offset = board.parse_paging(request.args.get("limit"), request.args.get("cursor"))
    apis, total = services.api_page(limit, offset)
    following = offset + limit if offset + limit < total else None
    next_url = (url_for("api.list_apis", limit=limit, cursor=following)
                if following is not None else None)
    return _paged({"apis": [serialize.api_dict(a) for a in apis], "total": total}, next_url)


def list_versions() -> Any:
    """Versions with their stored compliance summary, what needs attention first
    (``q``: name, title or version substring; ``stage``; ``limit``; ``cursor``)."""
    limit, offset = board.parse_paging(request.args.get("limit"), request.args.get("cursor"))
    query = request.args.get("q") or None
    if query is not None and len(query) > 100:
        raise ApiError(422, "validation_failed", "Some values are not acceptable.",
                       {"fields": {"q": "At most 100 characters."}})
    stage = request.args.get("stage") or None
    page = board.board_page(query=query, stage=stage, limit=limit, offset=offset, now=clock())
    next_url = None
    if page.next_offset is not None:
        params: dict[str, Any] = {"q": query, "stage": stage, "limit": limit,
                                  "cursor": page.next_offset}
        next_url = url_for("api.list_versions",
                           **{k: v for k, v in params.items() if v is not None})
    return _paged({"versions": [serialize.card_dict(c) for c in page.cards],
                   "counts": page.counts, "total": page.total}, next_url)


def create_api() -> Any:
    """Register an API: ``{"name", "title", "description"?, "team"?}``."""
    body = _json_object()
    api = services.create_api(
        name=_text(body, "name", required=True) or "",
        title=_text(body, "title", required=True) or "",
        description=_text(body, "description") or "",
        team=_text(body, "team"),
        actor=current_actor(),
    )
    response = jsonify(serialize.api_dict(api))
    response.headers["Location"] = url_for("api.get_api", name=api.name)
    return response, 201


def get_api(name: str) -> Any:
    """One API with its versions."""
    return jsonify(serialize.api_dict(services.get_api(name)))


def create_version(name: str) -> Any:
    """Add a version: ``{"version": "1.0.0"}``; it starts in ``design``."""
    body = _json_object()
    obj = services.create_version(name, _text(body, "version", required=True) or "",
                                  actor=current_actor())
    response = jsonify(serialize.version_dict(obj))
    response.headers["Location"] = url_for("api.get_version", name=name, version=obj.version)
    return response, 201


def get_version(name: str, version: str) -> Any:
    """One version: stage, next stage, spec revisions."""
    return jsonify(serialize.version_dict(services.get_version(name, version)))


def put_spec(name: str, version: str) -> Any:
    """Upload the OpenAPI document as the raw body (JSON or YAML, detected from content).

    201 with a new revision, 200 when identical bytes were uploaded before; with
    ``Prefer: respond-async`` (RFC 7240) 202 and a job that does the same
    (:mod:`lifecycle.api.jobs`).
    """
    if request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        raise ApiError(415, "unsupported_media_type",
                       "Send the document itself as the request body, not as a form.")
    raw = request.get_data(cache=False)
    if jobs.prefers_async():
        return jobs.put_spec_async(name, version, raw)
    revision, created = services.upload_spec(name, version, raw, uploader=current_actor())
    obj = revision.api_version
    body = {
        "created": created,
        "revision": serialize.revision_dict(revision),
        "compliance": serialize.compliance_dict(obj, evaluate.gate_status(obj)),
    }
    return jsonify(body), 201 if created else 200


def compliance(name: str, version: str) -> Any:
    """The gate for the next stage: passed, blocking findings explained."""
    obj = services.get_version(name, version)
    return jsonify(serialize.compliance_dict(obj, evaluate.gate_status(obj)))


def create_transition(name: str, version: str) -> Any:
    """Move the version: ``{"to": STAGE, "reason"?}`` (the actor is the token's user)."""
    body = _json_object()
    record = moves.transition(
        name, version,
        to=_text(body, "to", required=True) or "",
        reason=_text(body, "reason"),
        actor=current_actor(),
    )
    obj = record.api_version
    return jsonify(transition=serialize.transition_dict(record),
                   version=serialize.version_dict(obj)), 201


def history(name: str, version: str) -> Any:
    """Revisions and transitions in time order, oldest first."""
    obj = services.get_version(name, version)
    return jsonify(api=name, version=version, events=serialize.history_dict(obj))


def register(bp: Blueprint) -> None:
    """Add this module's views to ``bp`` (the package builds its blueprints per app;
    see ``create_app``)."""
    bp.add_url_rule("/apis", view_func=list_apis, methods=["GET"])
    bp.add_url_rule("/versions", view_func=list_versions, methods=["GET"])
    bp.add_url_rule("/apis", view_func=create_api, methods=["POST"])
    bp.add_url_rule("/apis/<name>", view_func=get_api, methods=["GET"])
    bp.add_url_rule("/apis/<name>/versions", view_func=create_version, methods=["POST"])
    bp.add_url_rule(VERSION_PATH, view_func=get_version, methods=["GET"])
    bp.add_url_rule(VERSION_PATH + "/spec", view_func=put_spec, methods=["PUT"])
    bp.add_url_rule(VERSION_PATH + "/compliance", view_func=compliance, methods=["GET"])
    bp.add_url_rule(VERSION_PATH + "/transitions", view_func=create_transition, methods=["POST"])
    bp.add_url_rule(VERSION_PATH + "/history", view_func=history, methods=["GET"])

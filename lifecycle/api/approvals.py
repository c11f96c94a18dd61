"""REST views of four-eyes approval and waivers (on the ``api`` blueprint).

Under ``/api/v1/apis/{name}/versions/{version}``:

- ``GET  /promotion-requests`` — the version's requests, newest first;
- ``POST /promotion-requests`` ``{"to", "reason"?}`` — 201, a pending request (the gate is
  evaluated and stored; 409 ``gate_failed`` when it blocks; 422 ``no_approval_needed``);
- ``GET  /promotion-requests/{id}``;
- ``POST /promotion-requests/{id}/approve`` ``{"comment"?}`` — 200 ``{"request",
  "transition"}`` (``transition`` ``null`` while more approvals are needed); 403
  ``self_approval`` for the requester; 409 ``conflict`` for a request that is not pending;
  409 ``gate_failed`` when the approvals were reached but the gate fails now;
- ``POST /promotion-requests/{id}/reject`` ``{"comment"}`` — 200 ``{"request"}``;
- ``GET  /waivers`` — every waiver with its ``status`` (``active``, ``expired``,
  ``revoked``) at the app clock;
- ``POST /waivers`` ``{"rule", "reason", "expires_at"}`` (or ``"days"`` instead of
  ``expires_at``) — 201; 422 ``not_waivable`` for critical rules, 422 ``validation_failed``
  for a rule that does not fail, a missing reason, an expiry in the past or beyond
  ``WAIVER_MAX_DAYS``;
- ``POST /waivers/{id}/revoke`` ``{"reason"?}`` — 200.

Requesting needs ``api.change`` on the API or the approver role; deciding and waiving need
``approve`` / ``waive`` (approvers).  A plain transition into a stage that needs approvals
answers 409 ``approval_required`` (handler registered here).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, current_app, jsonify, request, url_for
from flask_login import current_user

from lifecycle.accounts import authz
from lifecycle.accounts.authz import current_actor, requires
from lifecycle.api.errors import ApiError
from lifecycle.api.serialize import transition_dict
from lifecycle.api.views import VERSION_PATH, _json_object, _text
from lifecycle.catalog import services
from lifecycle.core.clock import clock
from lifecycle.gates import waivers
from lifecycle.gates.models import Waiver
from lifecycle.review import approvals
from lifecycle.review.models import Approval, PromotionRequest

REQUESTS = VERSION_PATH + "/promotion-requests"
WAIVERS = VERSION_PATH + "/waivers"


# ------------------------------------------------------------------------------ shapes
def _time(value: Any) -> str | None:
    return value.isoformat() if value else None


def decision_dict(d: Approval) -> dict[str, Any]:
    """One approver's decision: ``approver``, ``decision``, ``comment``, ``at``."""
    return {"approver": d.approver, "decision": d.decision, "comment": d.comment,
            "at": _time(d.created_at)}


def request_dict(req: PromotionRequest, name: str, version: str) -> dict[str, Any]:
    """A promotion request with its decisions, the check at request time and the
    transition it led to (``null`` until approved)."""
    return {
        "id": req.id,
        "from": req.from_stage,
        "to": req.to_stage,
        "reason": req.reason,
        "requested_by": req.requested_by,
        "state": req.state,
        "required_approvals": req.required_approvals,
        "approvals": len(req.approvals),
        "decisions": [decision_dict(d) for d in req.decisions],
        "check_run": req.check_run_id,
        "transition": transition_dict(req.transition) if req.transition else None,
        "created_at": _time(req.created_at),
        "closed_at": _time(req.closed_at),
        "url": url_for("api.get_promotion_request", name=name, version=version,
                       request_id=req.id),
    }


def waiver_dict(w: Waiver, name: str, version: str) -> dict[str, Any]:
    """A waiver and its ``status`` at the app clock."""
    return {
        "id": w.id,
        "rule": w.rule_id,
        "severity": w.severity,
        "reason": w.reason,
        "granted_by": w.granted_by,
        "created_at": _time(w.created_at),
        "expires_at": _time(w.expires_at),
        "status": w.status_at(clock()),
        "revoked_at": _time(w.revoked_at),
        "revoked_by": w.revoked_by,
        "revoke_reason": w.revoke_reason,
        "revoke_url": url_for("api.revoke_waiver", name=name, version=version,
                              waiver_id=w.id),
    }


def refuse_request() -> ApiError:
    """The 403 for someone who may not ask for a promotion (announced like every refusal)."""

    authz.access_denied.send(current_app._get_current_object(),  # type: ignore[attr-defined]
                             endpoint=request.endpoint, reason="forbidden")
    return ApiError(403, "forbidden", "You are not allowed to do this.")


# ------------------------------------------------------------------------------ requests
@requires("read")
def list_promotion_requests(name: str, version: str) -> Any:
    """The version's promotion requests, newest first."""
    obj = services.get_version(name, version)
    return jsonify(requests=[request_dict(r, name, version)
                             for r in approvals.list_requests(obj)],
                   required_approvals=approvals.required_approvals("deployment"))


@requires("read")  # and, below, api.change on the API or the approver role
def create_promotion_request(name: str, version: str) -> Any:
    """Ask for a promotion that needs approval: ``{"to": STAGE, "reason"?}``."""
    obj = services.get_version(name, version)
    if not approvals.may_request(current_user, obj.api):
        raise refuse_request()
    body = _json_object()
    to = _text(body, "to")
    if not to:
        raise ApiError(422, "validation_failed", "Some values are not acceptable.",
                       {"fields": {"to": "This field is required."}})
    req = approvals.request_promotion(name, version, to, _text(body, "reason"),
                                     actor=current_actor())
    response = jsonify(request_dict(req, name, version))
    response.headers["Location"] = url_for("api.get_promotion_request", name=name,
                                           version=version, request_id=req.id)
    return response, 201


@requires("read")
def get_promotion_request(name: str, version: str, request_id: int) -> Any:
    """One promotion request."""
    obj = services.get_version(name, version)
    return jsonify(request_dict(approvals.get_request(obj, request_id), name, version))


@requires("approve")
def approve_promotion_request(name: str, version: str, request_id: int) -> Any:
    """Approve: ``{"comment"?}``; the version moves when enough approvals are in."""
    body = _json_object()
    req, record = approvals.approve(name, version, request_id, current_actor(),
                                    _text(body, "comment"))
    return jsonify(request=request_dict(req, name, version),
                   transition=transition_dict(record) if record else None)


@requires("approve")
def reject_promotion_request(name: str, version: str, request_id: int) -> Any:
    """Reject: ``{"comment"}`` (required)."""
    body = _json_object()
    req = approvals.reject(name, version, request_id, current_actor(), _text(body, "comment"))
    return jsonify(request=request_dict(req, name, version))


# ------------------------------------------------------------------------------ waivers
@requires("read")
def list_waivers(name: str, version: str) -> Any:
    """Every waiver of the version, newest first, with its status now."""
    obj = services.get_version(name, version)
    return jsonify(waivers=[waiver_dict(w, name, version) for w in waivers.list_waivers(obj)],
                   max_days=waivers.max_days())


@requires("waive")
def create_waiver(name: str, version: str) -> Any:
    """Waive a failing rule: ``{"rule", "reason", "expires_at"}`` or ``{…, "days"}``."""
    body = _json_object()
    expires: Any = _text(body, "expires_at")
    days = body.get("days")
    if expires is None and days is not None:
        if not isinstance(days, int) or isinstance(days, bool) or days < 1:
            raise ApiError(422, "validation_failed", "Some values are not acceptable.",
                           {"fields": {"days": "A whole number of days, at least 1."}})
        # clamped just past the longest waiver before timedelta(days=...), which overflows
        # past 999,999,999 days: waivers.grant then refuses it with its own message
        expires = clock() + timedelta(days=min(days, waivers.max_days() + 1))
    if expires is None:
        raise ApiError(422, "validation_failed", "Some values are not acceptable.",
                       {"fields": {"expires_at": "This field is required (or give days)."}})
    waiver = waivers.grant(name, version, _text(body, "rule") or "", _text(body, "reason") or "",
                           expires, current_actor())
    return jsonify(waiver_dict(waiver, name, version)), 201


@requires("waive")
def revoke_waiver(name: str, version: str, waiver_id: int) -> Any:
    """End a waiver now: ``{"reason"?}``."""
    body = _json_object() if request.content_length else {}
    waiver = waivers.revoke(name, version, waiver_id, current_actor(), _text(body, "reason"))
    return jsonify(waiver_dict(waiver, name, version))


def register(bp: Blueprint) -> None:
    """Add this module's views to ``bp`` (the package builds its blueprints per app;
    see ``create_app``)."""
    bp.add_url_rule(REQUESTS, view_func=list_promotion_requests, methods=["GET"])
    bp.add_url_rule(REQUESTS, view_func=create_promotion_request, methods=["POST"])
    bp.add_url_rule(
        REQUESTS + "/<int:request_id>", view_func=get_promotion_request, methods=["GET"]
    )
    bp.add_url_rule(
        REQUESTS + "/<int:request_id>/approve",
        view_func=approve_promotion_request,
        methods=["POST"],
    )
    bp.add_url_rule(
        REQUESTS + "/<int:request_id>/reject", view_func=reject_promotion_request, methods=["POST"]
    )
    bp.add_url_rule(WAIVERS, view_func=list_waivers, methods=["GET"])
    bp.add_url_rule(WAIVERS, view_func=create_waiver, methods=["POST"])
    bp.add_url_rule(WAIVERS + "/<int:waiver_id>/revoke", view_func=revoke_waiver, methods=["POST"])

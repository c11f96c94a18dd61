"""Views of the "Approval" and "Waivers" panels of the version page (on the ``web`` blueprint).

Under ``/apis/<name>/versions/<version>``:

- ``POST /promotion-requests`` — request the promotion into the next stage (reason);
- ``POST /promotion-requests/<id>/approve`` — approve (comment optional);
- ``POST /promotion-requests/<id>/reject`` — reject (comment required);
- ``POST /waivers`` — waive a failing rule (rule, reason, expiry date);
- ``POST /waivers/<id>/revoke`` — end a waiver now.

Each view parses its form (CSRF-protected, Flask-WTF), calls one service
(:mod:`lifecycle.review.approvals`, :mod:`lifecycle.gates.waivers`) and answers like the rest of
the UI: for
htmx the version fragment, otherwise a 303 back to the version page; the outcome is a flash
message.  Refusals re-render with 403 (own request), 409 (gate failed, conflict) or 422
(invalid form or input), never 500.

The panels are built by :func:`lifecycle.web.version_page.review_panel`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, current_app, flash, request
from flask_login import current_user
from flask_wtf import FlaskForm

from lifecycle.accounts import authz
from lifecycle.catalog import services
from lifecycle.core import errors
from lifecycle.core.errors import (
    Conflict,
    DomainError,
    GateFailed,
    InvalidTransition,
    ValidationFailed,
)
from lifecycle.gates import waivers
from lifecycle.review import approvals
from lifecycle.web.errors import error_response
from lifecycle.web.forms import (
    ApproveForm,
    RejectForm,
    RequestPromotionForm,
    RevokeWaiverForm,
    WaiveForm,
)
from lifecycle.web.version_page import Page, gate_refusal, render_version
from lifecycle.web.views import _done
from specs.wording import plural

VERSION = "/apis/<name>/versions/<version>"


# ------------------------------------------------------------------------------ forms
# ------------------------------------------------------------------------------ panel
# ------------------------------------------------------------------------------ answers
def _refused(name: str, version: str, exc: DomainError) -> Page:
    """The version page (or fragment) with why the action was refused (a refused gate: one
    sentence and a link to the findings, not the rule ids)."""
    if isinstance(exc, GateFailed):
        flash(gate_refusal(services.get_version(name, version), exc.decision), "error")
        return render_version(name, version, 409, decision=exc.decision)
    flash(exc.message, "error")
    if isinstance(exc, errors.SelfApproval):
        return render_version(name, version, 403)
    if isinstance(exc, (ValidationFailed, InvalidTransition, errors.NoApprovalNeeded,
                        errors.NotWaivable)):
        return render_version(name, version, 422)
    if isinstance(exc, Conflict):
        return render_version(name, version, 409)
    raise exc


def _invalid(name: str, version: str, form: FlaskForm) -> Page:
    for messages in form.errors.values():
        for message in messages:
            flash(str(message), "error")
    return render_version(name, version, 422)


def _run(name: str, version: str, action: Callable[[], Any],
         success: str | Callable[[Any], str]) -> Page:
    try:
        outcome = action()
    except (ValidationFailed, InvalidTransition, Conflict, GateFailed,
            errors.SelfApproval, errors.NoApprovalNeeded, errors.NotWaivable) as exc:
        return _refused(name, version, exc)
    flash(success if not callable(success) else success(outcome), "success")
    return _done(name, version)


# ------------------------------------------------------------------------------ views
@authz.requires("read")  # and, below, api.change on the API or the approver role
def request_promotion(name: str, version: str) -> Page:
    """Request the promotion into the next stage."""

    obj = services.get_version(name, version)
    if not approvals.may_request(current_user, obj.api):
        authz.access_denied.send(current_app._get_current_object(),  # type: ignore[attr-defined]
                                 endpoint=request.endpoint, reason="forbidden")
        return error_response(403, "forbidden", "You are not allowed to do this.",
                              title="Not allowed")
    form = RequestPromotionForm()
    if not form.validate_on_submit():
        return _invalid(name, version, form)
    return _run(name, version,
                lambda: approvals.request_promotion(name, version, form.to.data,
                                                    form.reason.data, actor=authz.current_actor()),
                lambda req: f"Promotion to {req.to_stage} requested; it needs "
                            f"{plural(req.required_approvals, 'approval')} by someone else.")


@authz.requires("approve")
def approve_request(name: str, version: str, request_id: int) -> Page:
    """Approve a pending request (the version moves when enough approvals are in)."""
    form = ApproveForm()
    if not form.validate_on_submit():
        return _invalid(name, version, form)

    def message(outcome: Any) -> str:
        req, record = outcome
        if record is not None:
            return f"Approved; the version was promoted to {record.to_stage}."
        return f"Approved ({len(req.approvals)} of {req.required_approvals})."

    return _run(name, version,
                lambda: approvals.approve(name, version, request_id, authz.current_actor(),
                                          form.comment.data),
                message)


@authz.requires("approve")
def reject_request(name: str, version: str, request_id: int) -> Page:
    """Reject a pending request."""
    form = RejectForm()
    if not form.validate_on_submit():
        return _invalid(name, version, form)
    return _run(name, version,
                lambda: approvals.reject(name, version, request_id, authz.current_actor(),
                                         form.comment.data),
                "Request rejected.")


@authz.requires("waive")
def waive(name: str, version: str) -> Page:
    """Waive one failing rule until a date."""
    form = WaiveForm()
    if not form.validate_on_submit():
        return _invalid(name, version, form)
    return _run(name, version,
                lambda: waivers.grant(name, version, form.rule.data, form.reason.data,
                                      form.expires.data.isoformat(), authz.current_actor()),
                lambda w: f"{w.rule_id} waived until {waivers.format_until(w.expires_at)}.")


@authz.requires("waive")
def revoke_waiver(name: str, version: str, waiver_id: int) -> Page:
    """End a waiver now."""
    form = RevokeWaiverForm()
    if not form.validate_on_submit():
        return _invalid(name, version, form)
    return _run(name, version,
                lambda: waivers.revoke(name, version, waiver_id, authz.current_actor(),
                                       form.reason.data),
                lambda w: f"Waiver of {w.rule_id} revoked; the rule blocks again.")


def register(bp: Blueprint) -> None:
    """Add this module's views to ``bp`` (the package builds its blueprints per app;
    see ``create_app``)."""
    bp.add_url_rule(VERSION + "/promotion-requests", view_func=request_promotion, methods=["POST"])
    bp.add_url_rule(
        VERSION + "/promotion-requests/<int:request_id>/approve",
        view_func=approve_request,
        methods=["POST"],
    )
    bp.add_url_rule(
        VERSION + "/promotion-requests/<int:request_id>/reject",
        view_func=reject_request,
        methods=["POST"],
    )
    bp.add_url_rule(VERSION + "/waivers", view_func=waive, methods=["POST"])
    bp.add_url_rule(
        VERSION + "/waivers/<int:waiver_id>/revoke", view_func=revoke_waiver, methods=["POST"]
    )

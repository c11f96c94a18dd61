"""Views of the "Approval" and "Waivers" panels of the version page (on the ``web`` blueprint).

Under ``/apis/<name>/versions/<version>``:

- ``POST /promotion-requests`` — request the promotion into the next stage (reason);
- ``POST /promotion-requests/<id>/approve`` — approve (comment optional);
- ``POST /promotion-requests/<id>/reject`` — reject (comment required);
- ``POST /waivers`` — waive a failing rule (rule, reason, expiry date);
- ``POST /waivers/<id>/revoke`` — end a waiver now.

Each view parses its form (CSRF-protected, Flask-WTF), calls one service
(:mod:`lifecycle.approvals`, :mod:`lifecycle.waivers`) and answers like the rest of the UI: for
htmx the version fragment, otherwise a 303 back to the version page; the outcome is a flash
message.  Refusals re-render with 403 (own request), 409 (gate failed, conflict) or 422
(invalid form or input), never 500.

The panels are built by the template global :func:`review_panel`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from flask import current_app, flash, request
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from lifecycle import approvals, authz, stages, waivers
from lifecycle.errors import error_response
from lifecycle.keys import clock
from lifecycle.models import ApiVersion, PromotionRequest, Waiver
from lifecycle.services import (
    Conflict,
    DomainError,
    GateFailed,
    InvalidTransition,
    ValidationFailed,
)
from lifecycle.web.views import Page, _done, _render_version, bp
from policies.gate import waivable

VERSION = "/apis/<name>/versions/<version>"
#: closed requests listed under the pending one
MAX_LISTED_REQUESTS = 5


# ------------------------------------------------------------------------------ forms
class _Prefixed(FlaskForm):
    form_prefix = ""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("prefix", self.form_prefix)
        super().__init__(*args, **kwargs)


class RequestPromotionForm(_Prefixed):
    """Ask for a promotion that needs approvals; ``to`` is the stage the page offered."""

    form_prefix = "request"

    to = HiddenField(validators=[DataRequired()])
    reason = TextAreaField("Reason (for the approvers)", validators=[Optional(),
                                                                     Length(max=2000)])


class ApproveForm(_Prefixed):
    """Approve a request; the comment is optional."""

    form_prefix = "approve"

    comment = TextAreaField("Comment", validators=[Optional(), Length(max=2000)])


class RejectForm(_Prefixed):
    """Reject a request; the comment is required."""

    form_prefix = "reject"

    comment = TextAreaField("Why not", validators=[
        DataRequired(message="Say why the request is rejected."), Length(max=2000)])


class WaiveForm(_Prefixed):
    """Waive one failing rule until a date (00:00 UTC of that day)."""

    form_prefix = "waive"

    rule = HiddenField(validators=[DataRequired()])
    reason = TextAreaField("Why it is acceptable for now", validators=[
        DataRequired(message="Say why the rule may be waived."), Length(max=2000)])
    expires = DateField("Waived until (UTC)", validators=[
        DataRequired(message="Pick the date the waiver ends.")])


class RevokeWaiverForm(_Prefixed):
    """End a waiver now (reason optional)."""

    form_prefix = "revoke-waiver"

    reason = TextAreaField("Reason", validators=[Optional(), Length(max=2000)])


# ------------------------------------------------------------------------------ panel
@dataclass
class ReviewPanel:
    """What the approval and waiver panels show for a version."""

    version: ApiVersion
    next_stage: str | None
    required: int
    pending: PromotionRequest | None
    closed: list[PromotionRequest]
    waivers: list[tuple[Waiver, str]]
    #: ``(rule_id, title, severity)`` of blocking findings a waiver may excuse
    waivable: list[tuple[str, str, str]]
    #: rule ids of blocking ``fail`` findings that are critical
    critical: list[str]
    may_request: bool
    may_decide: bool
    is_requester: bool
    decided: bool
    waive_max: str
    waive_default: str
    forms: dict[str, Any] = field(default_factory=dict)


@bp.app_template_global()
def approvals_required(stage: str | None) -> int:
    """How many approvals the configured pack asks for entering ``stage`` (0 = none)."""
    return approvals.required_approvals(stage) if stage else 0


@bp.app_template_global()
def review_panel(version_obj: ApiVersion, gate: Any = None) -> ReviewPanel:
    """The :class:`ReviewPanel` of a version; ``gate`` is the page's gate panel (its
    blocking findings offer the "Waive…" forms)."""
    next_stage = stages.next_stage(version_obj.stage)
    required = approvals_required(next_stage)
    requests = approvals.list_requests(version_obj)
    pending = next((r for r in requests if r.state == "pending"), None)
    me = authz.actor()
    now = clock()
    blocking = list(getattr(gate, "blocking", None) or [])
    seen: set[str] = set()
    can_waive, crit = [], []
    for f in blocking:
        if f.rule_id in seen:
            continue
        seen.add(f.rule_id)
        if f.status == "fail" and f.severity == "critical":
            crit.append(f.rule_id)
        elif _waivable(f):
            can_waive.append((f.rule_id, f.title, f.severity))
    limit = waivers.max_days()
    return ReviewPanel(
        version=version_obj, next_stage=next_stage, required=required, pending=pending,
        closed=[r for r in requests if r.state != "pending"][:MAX_LISTED_REQUESTS],
        waivers=[(w, w.status_at(now)) for w in waivers.list_waivers(version_obj)],
        waivable=can_waive, critical=crit,
        may_request=approvals.may_request(current_user, version_obj.api),
        may_decide=authz.can(current_user, "approve"),
        is_requester=bool(pending) and approvals.same_person(pending.requested_by, me),
        decided=bool(pending) and any(approvals.same_person(d.approver, me)
                                      for d in pending.decisions),
        waive_max=(now + timedelta(days=limit)).date().isoformat(),
        waive_default=(now + timedelta(days=min(30, limit))).date().isoformat(),
        forms={"request": RequestPromotionForm(formdata=None, to=next_stage),
               "approve": ApproveForm(formdata=None), "reject": RejectForm(formdata=None),
               "waive": {rule: WaiveForm(formdata=None, rule=rule) for rule, _, _ in can_waive},
               "revoke": RevokeWaiverForm(formdata=None)},
    )


def _waivable(finding_view: Any) -> bool:
    from policies.findings import Finding, Status
    from policies.rules import Severity

    try:
        finding = Finding(finding_view.rule_id, Severity(finding_view.severity),
                          Status(finding_view.status), "")
    except ValueError:
        return False
    return waivable(finding)


# ------------------------------------------------------------------------------ answers
def _refused(name: str, version: str, exc: DomainError) -> Page:
    """The version page (or fragment) with why the action was refused."""
    flash(exc.message, "error")
    if isinstance(exc, GateFailed):
        return _render_version(name, version, 409, decision=exc.decision)
    if isinstance(exc, approvals.SelfApproval):
        return _render_version(name, version, 403)
    if isinstance(exc, (ValidationFailed, InvalidTransition, approvals.NoApprovalNeeded,
                        waivers.NotWaivable)):
        return _render_version(name, version, 422)
    if isinstance(exc, Conflict):
        return _render_version(name, version, 409)
    raise exc


def _invalid(name: str, version: str, form: FlaskForm) -> Page:
    for errors in form.errors.values():
        for message in errors:
            flash(str(message), "error")
    return _render_version(name, version, 422)


def _run(name: str, version: str, action: Callable[[], Any],
         success: str | Callable[[Any], str]) -> Page:
    try:
        outcome = action()
    except (ValidationFailed, InvalidTransition, Conflict, GateFailed,
            approvals.SelfApproval, approvals.NoApprovalNeeded, waivers.NotWaivable) as exc:
        return _refused(name, version, exc)
    flash(success if not callable(success) else success(outcome), "success")
    return _done(name, version)


# ------------------------------------------------------------------------------ views
@bp.post(VERSION + "/promotion-requests")
@authz.requires("read")  # and, below, api.change on the API or the approver role
def request_promotion(name: str, version: str) -> Page:
    """Request the promotion into the next stage."""
    from lifecycle import services

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
                                                    form.reason.data, authz.actor()),
                lambda req: f"Promotion to {req.to_stage} requested; it needs "
                            f"{req.required_approvals} approval(s) by someone else.")


@bp.post(VERSION + "/promotion-requests/<int:request_id>/approve")
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
                lambda: approvals.approve(name, version, request_id, authz.actor(),
                                          form.comment.data),
                message)


@bp.post(VERSION + "/promotion-requests/<int:request_id>/reject")
@authz.requires("approve")
def reject_request(name: str, version: str, request_id: int) -> Page:
    """Reject a pending request."""
    form = RejectForm()
    if not form.validate_on_submit():
        return _invalid(name, version, form)
    return _run(name, version,
                lambda: approvals.reject(name, version, request_id, authz.actor(),
                                         form.comment.data),
                "Request rejected.")


@bp.post(VERSION + "/waivers")
@authz.requires("waive")
def waive(name: str, version: str) -> Page:
    """Waive one failing rule until a date."""
    form = WaiveForm()
    if not form.validate_on_submit():
        return _invalid(name, version, form)
    return _run(name, version,
                lambda: waivers.grant(name, version, form.rule.data, form.reason.data,
                                      form.expires.data.isoformat(), authz.actor()),
                lambda w: f"{w.rule_id} waived until {waivers.format_until(w.expires_at)}.")


@bp.post(VERSION + "/waivers/<int:waiver_id>/revoke")
@authz.requires("waive")
def revoke_waiver(name: str, version: str, waiver_id: int) -> Page:
    """End a waiver now."""
    form = RevokeWaiverForm()
    if not form.validate_on_submit():
        return _invalid(name, version, form)
    return _run(name, version,
                lambda: waivers.revoke(name, version, waiver_id, authz.actor(),
                                       form.reason.data),
                lambda w: f"Waiver of {w.rule_id} revoked; the rule blocks again.")

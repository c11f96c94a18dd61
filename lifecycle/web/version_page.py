"""The version page, assembled in one place (:func:`render_version`): the gate, the
approval and waiver panels (:func:`review_panel`), the evidence area (:func:`evidence_panel`)
and the Gateway panel (:func:`gateway_panel`) are built here and handed to the templates,
which fetch nothing themselves."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import g, render_template, request, session, url_for
from flask_login import current_user
from markupsafe import Markup
from werkzeug.wrappers import Response as BaseResponse

from lifecycle.accounts import authz
from lifecycle.catalog import services, stages
from lifecycle.catalog.models import ApiVersion
from lifecycle.catalog.token_profile import profile_of
from lifecycle.core.clock import clock
from lifecycle.evidence import keys
from lifecycle.evidence import services as evidence
from lifecycle.gates import evaluate, waivers
from lifecycle.gates.models import Waiver
from lifecycle.gateway import services as gateway
from lifecycle.review import approvals
from lifecycle.review.models import PromotionRequest
from lifecycle.web import presenters
from lifecycle.web.errors import wants_fragment
from lifecycle.web.forms import (
    ApproveForm,
    DemoteForm,
    GatewaySettingsForm,
    GenerateGatewayForm,
    GenerateKeyForm,
    JwksForm,
    PromoteForm,
    RejectForm,
    RequestPromotionForm,
    RetireForm,
    RevokeWaiverForm,
    RotateKeyForm,
    RunProofForm,
    TokenForm,
    UploadGatewayForm,
    UploadSpecForm,
    WaiveForm,
)
from lifecycle.web.jobs import (
    REFRESH_SECONDS,
    JobView,
    ProofJobView,
    version_job,
    version_proof_job,
)
from lifecycle.web.presenters import Notice
from policies.findings import Finding, Status
from policies.gate import waivable
from policies.rules import Severity, get_rule

#: what a view answers
Page = (str | tuple[str, int] | tuple[str, int, dict[str, str]] | BaseResponse
        | tuple[BaseResponse, int])
#: session key of the notice carried across a redirect (never holds a token)
NOTICE_KEY = "evidence_notice"
#: most earlier analyses listed under the selected one
MAX_LISTED_ANALYSES = 20
#: closed requests listed under the pending one
MAX_LISTED_REQUESTS = 5


# ------------------------------------------------------------------------------ evidence
@dataclass
class EvidenceState:
    """What an evidence view hands to :func:`evidence_panel`: its forms (re-rendered with
    their errors), the notices of its panels and the analysis it produced."""

    forms: dict[str, Any] = field(default_factory=dict)
    notices: dict[str, Notice] = field(default_factory=dict)
    selected_id: int | None = None


def _version_key(obj: ApiVersion) -> str:
    return f"{obj.api.name}/{obj.version}"


_CARRIED = "stagegate.carried_notice"


def _carried_notice(obj: ApiVersion) -> Notice | None:
    """The notice a redirect carried for this version (taken from the session once per
    request; every panel of the page may ask)."""
    if _CARRIED not in g:
        g.setdefault(_CARRIED, _take_notice(obj))
    notice = g.get(_CARRIED)
    return notice if isinstance(notice, Notice) else None


def _take_notice(obj: ApiVersion) -> Notice | None:
    data = session.get(NOTICE_KEY)
    if not isinstance(data, dict) or data.get("version") != _version_key(obj):
        return None
    session.pop(NOTICE_KEY, None)
    try:
        return Notice(str(data["panel"]), str(data["kind"]), str(data["text"]))
    except KeyError:
        return None


def evidence_panel(obj: ApiVersion, state: EvidenceState,
                   now: datetime) -> presenters.EvidencePanel:
    """Everything the evidence area of ``obj``'s page shows (reads only).

    The analysis shown is the one this request produced, else the one named by the
    ``analysis`` query parameter, else the newest.
    """
    managed = keys.list_keys(obj)
    jwks_record = evidence.latest_jwks(obj)
    key_failing, key_passing = presenters.split_findings(evidence.jwks_findings(obj),
                                                         get_rule)
    analyses = evidence.list_token_evidence(obj)
    wanted = state.selected_id or request.args.get("analysis", type=int)
    selected = next((a for a in analyses if a.id == wanted), analyses[0] if analyses else None)
    notices = dict(state.notices)
    carried = _carried_notice(obj)
    if carried is not None:
        notices.setdefault(carried.panel, carried)
    forms = {
        "generate": GenerateKeyForm(formdata=None),
        "rotate": RotateKeyForm(formdata=None),
        "jwks": JwksForm(formdata=None),
        "token": TokenForm(formdata=None),
        **state.forms,
    }
    return presenters.EvidencePanel(
        version=obj,
        keys=presenters.key_rows(managed, now),
        has_current=any(k.state == "current" for k in managed),
        declared_alg=profile_of(obj).alg,
        jwks_url=url_for("api.version_jwks", name=obj.api.name, version=obj.version,
                         _external=True),
        max_grace_days=keys.max_grace_seconds() / 86400,
        read_only=obj.stage == "retirement",
        jwks=jwks_record,
        jwks_keys=presenters.jwks_key_rows(jwks_record.keys if jwks_record else []),
        key_failing=key_failing,
        key_passing=key_passing,
        analyses=analyses[:MAX_LISTED_ANALYSES],
        selected=presenters.token_analysis_view(selected, get_rule) if selected else None,
        forms=forms,
        notices=notices,
    )


# ------------------------------------------------------------------------------ gateway
@dataclass
class GatewayState:
    """What a Gateway view hands to :func:`gateway_panel`: its forms (re-rendered with their
    errors), its notice, and the proof job it queued."""

    forms: dict[str, Any] = field(default_factory=dict)
    notices: dict[str, Notice] = field(default_factory=dict)
    job: ProofJobView | None = None


#: settings shown in the read-only list: (attribute, label)
_SETTING_LABELS = (("server_name", "Server name"), ("upstream", "Upstream"),
                   ("certificate", "Certificate"), ("certificate_key", "Certificate key"),
                   ("validator", "Validator"), ("target", "Target"),
                   ("deprecated_at", "Deprecated at"), ("sunset_at", "Sunset at"),
                   ("successor_url", "Successor version"),
                   ("deprecation_policy_url", "Deprecation policy"))


def _settings_items(row: Any) -> list[tuple[str, str]]:
    items = []
    for attr, label in _SETTING_LABELS:
        value = getattr(row, attr)
        if value is None or value == "":
            continue
        items.append((label, value.isoformat() if isinstance(value, datetime) else str(value)))
    return items


def _settings_form(row: Any) -> GatewaySettingsForm:
    """The settings form filled with the stored settings (or empty)."""
    if row is None:
        return GatewaySettingsForm(formdata=None)
    data = {k: (v.isoformat().replace("+00:00", "Z") if isinstance(v, datetime) else v)
            for k, v in ((k, getattr(row, k)) for k in GatewaySettingsForm.SETTINGS)}
    return GatewaySettingsForm(formdata=None, data=data)


def gateway_panel(obj: ApiVersion, state: GatewayState, now: datetime) -> presenters.GatewayPanel:
    """Everything the Gateway panel of ``obj``'s page shows (reads only): the settings, the
    current configuration with its findings in context, ``GW-PROOF``, the newest proofs (the
    ``gwproof`` query parameter selects one, else the newest), what is missing before a
    button can work, and the proof job of this request or of the ``gwjob`` parameter."""
    row = gateway.settings_of(obj)
    config = gateway.current_config(obj)
    sha = config.sha256 if config is not None else None
    failing: list[presenters.FindingView] = []
    passing: list[presenters.FindingView] = []
    proof_finding = None
    if config is not None:
        failing, passing = presenters.config_finding_views(
            gateway.config_findings(config), gateway.config_files(config), get_rule)
        proof_finding = presenters.finding_view(gateway.proof_finding(obj, config, now),
                                                get_rule, None)
    proofs = [presenters.proof_view(p, sha)
              for p in gateway.list_proofs(obj, limit=presenters.MAX_LISTED_PROOFS)]
    wanted = request.args.get("gwproof", type=int)
    selected = next((p for p in proofs if p.id == wanted), proofs[0] if proofs else None)
    profile = profile_of(obj)
    needs_generate = []
    if row is None:
        needs_generate.append("Save the gateway settings first.")
    if obj.current_revision is None or not profile.alg:
        needs_generate.append("Upload a spec whose bearer scheme declares "
                              "`x-token-encryption` (the token profile the gateway enforces).")
    needs_proof = []
    if config is None:
        needs_proof.append("Generate or upload a gateway configuration first.")
    if not profile.alg or not profile.signing_alg:
        needs_proof.append("The current spec must declare `x-token-encryption` with `alg` and "
                           "`signing-alg`: the proof builds its attack tokens from it.")
    notices = dict(state.notices)
    carried = _carried_notice(obj)
    if carried is not None and carried.panel == "gateway":
        notices.setdefault("gateway", carried)
    forms = {"settings": _settings_form(row),
             "generate": GenerateGatewayForm(formdata=None, target=row.target if row else "nginx"),
             "upload": UploadGatewayForm(formdata=None),
             "prove": RunProofForm(formdata=None),
             **state.forms}
    return presenters.GatewayPanel(
        version=obj, settings=row, settings_items=_settings_items(row) if row else [],
        config=config,
        download_url=url_for("web.gateway_config", name=obj.api.name, version=obj.version)
        if config is not None else None,
        failing=failing, passing=passing, proof_finding=proof_finding,
        # what services.proven_until says, from what is already read
        proven=config is not None and config.passed and proof_finding is not None
        and proof_finding.status == "pass",
        proofs=proofs, selected=selected, needs_for_generate=needs_generate,
        needs_for_proof=needs_proof, read_only=obj.stage == "retirement", forms=forms,
        notices=notices,
        job=state.job or version_proof_job(obj.api.name, obj.version,
                                           request.args.get("gwjob")),
    )


# ------------------------------------------------------------------------------ review
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


def approvals_required(stage: str | None) -> int:
    """How many approvals the configured pack asks for entering ``stage`` (0 = none)."""
    return approvals.required_approvals(stage) if stage else 0


def review_panel(version_obj: ApiVersion, gate: Any, now: datetime) -> ReviewPanel:
    """The :class:`ReviewPanel` of a version; ``gate`` is the page's gate panel (its
    blocking findings offer the "Waive…" forms)."""
    next_stage = stages.next_stage(version_obj.stage)
    required = approvals_required(next_stage)
    requests = approvals.list_requests(version_obj)
    pending = next((r for r in requests if r.state == "pending"), None)
    me = authz.actor()
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
        is_requester=pending is not None and approvals.same_person(pending.requested_by, me),
        decided=pending is not None and any(approvals.same_person(d.approver, me)
                                            for d in pending.decisions),
        waive_max=(now + timedelta(days=limit)).date().isoformat(),
        waive_default=(now + timedelta(days=min(30, limit))).date().isoformat(),
        forms={"request": RequestPromotionForm(formdata=None, to=next_stage),
               "approve": ApproveForm(formdata=None), "reject": RejectForm(formdata=None),
               "waive": {rule: WaiveForm(formdata=None, rule=rule) for rule, _, _ in can_waive},
               "revoke": RevokeWaiverForm(formdata=None)},
    )


def _waivable(finding_view: Any) -> bool:
    try:
        finding = Finding(finding_view.rule_id, Severity(finding_view.severity),
                          Status(finding_view.status), "")
    except ValueError:
        return False
    return waivable(finding)


# ------------------------------------------------------------------------------ refusals
def gate_refusal(version_obj: ApiVersion, decision: Any) -> Markup:
    """The flash message of a move or request the gate refused: one sentence saying what
    blocks (missing evidence named, failing rules counted) and a link to the findings on the
    page (``#gate``) — never the list of rule ids."""
    summary = presenters.gate_panel(version_obj, decision, get_rule).summary
    return Markup('{} <a href="#gate">See what blocks it</a>.').format(summary)


# ------------------------------------------------------------------------------ page
def render_version(
    name: str,
    version: str,
    status: int = 200,
    *,
    decision: Any = None,
    upload_form: UploadSpecForm | None = None,
    demote_form: DemoteForm | None = None,
    retire_form: RetireForm | None = None,
    load_error: dict[str, Any] | None = None,
    evidence_state: EvidenceState | None = None,
    job: JobView | None = None,
    gateway_state: GatewayState | None = None,
) -> Page:
    """The version workspace (fragment for htmx, full page otherwise) — the one place the
    version page is assembled: the view decides, the template renders what it is given.

    :param decision: a gate decision to show instead of a fresh one (a refused promotion).
    :param evidence_state: forms, notices and the selected analysis of an evidence action.
    :param job: the background check to show in the upload panel (default: the ``job`` query
        parameter's, when it is a check of this version).
    :param gateway_state: forms, notice and proof job of a Gateway action.
    """
    obj = services.get_version(name, version)
    next_stage = stages.next_stage(obj.stage)
    if decision is None or decision.target != next_stage:
        decision = evaluate.gate_status(obj)
    if demote_form is None:
        demote_form = DemoteForm(formdata=None)
    demote_form.to.choices = [
        (s, presenters.STAGE_LABELS[s]) for s in reversed(stages.previous_stages(obj.stage))
    ]
    now = clock()
    gate = presenters.gate_panel(obj, decision, get_rule)
    context = {
        "version": obj,
        "timeline": presenters.timeline(obj.stage),
        "transitions": list(obj.transitions),
        "gate": gate,
        "findings": presenters.finding_list(gate, request.args.get("severity"),
                                            request.args.get("rule")),
        "revisions": list(reversed(obj.revisions)),
        "next_stage": next_stage,
        "promote_form": PromoteForm(formdata=None, to=next_stage),
        "demote_form": demote_form,
        "retire_form": retire_form or RetireForm(formdata=None),
        "upload_form": upload_form or UploadSpecForm(formdata=None),
        "load_error": load_error,
        "review": review_panel(obj, gate, now),
        "evidence": evidence_panel(obj, evidence_state or EvidenceState(), now),
        "gw": gateway_panel(obj, gateway_state or GatewayState(), now),
        "job": job or version_job(name, version, request.args.get("job")),
        "job_refresh": REFRESH_SECONDS,
    }
    template = "web/_partials/version.html" if wants_fragment() else "web/version.html"
    return render_template(template, **context), status

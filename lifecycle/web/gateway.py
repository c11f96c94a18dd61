"""Views of the Gateway panel of the version page (on the ``web`` blueprint).

Under ``/apis/<name>/versions/<version>/gateway``:

- ``POST /settings`` — save the gateway settings (:func:`gateway.put_settings`);
- ``POST /generate`` — render the configuration for ``nginx`` or ``nginx-plus`` from the
  settings and store it (:func:`gateway.generate_config`);
- ``POST /upload`` — store an uploaded ``nginx.conf`` (:func:`gateway.upload_config`);
- ``GET /config`` — download the current configuration: the same bytes as the REST
  ``GET /api/v1/…/gateway/config`` (:func:`gateway.config_download`);
- ``POST /proofs`` — queue a proof job (:func:`gateway.submit_proof`); the panel then shows
  the job fragment (``web.job_status``, polled by htmx; a meta refresh without JavaScript).

The same service functions as the REST views in :mod:`lifecycle.api.gateway` (one code path).
Each view parses its form, calls one service and answers like the evidence views: for htmx
the version fragment (the forms swap ``#gateway`` and, out of band, ``#gate``), otherwise a
303 back to the version page at ``#gateway`` (post-redirect-get; the outcome carried in the
session).  Refusals re-render with 422 (invalid form or values, shown on the fields) or 409
(a proof the service refuses, saying what to add), never 500.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, redirect, session, url_for

from lifecycle.accounts.authz import current_actor, requires
from lifecycle.catalog import services
from lifecycle.core.clock import clock
from lifecycle.core.errors import Conflict, NotFound, ValidationFailed
from lifecycle.gateway import services as gateway
from lifecycle.web.errors import wants_fragment
from lifecycle.web.forms import (
    GatewaySettingsForm,
    GenerateGatewayForm,
    RunProofForm,
    UploadGatewayForm,
)
from lifecycle.web.jobs import proof_job_view
from lifecycle.web.presenters import Notice
from lifecycle.web.version_page import NOTICE_KEY, GatewayState, Page, render_version

GATEWAY = "/apis/<name>/versions/<version>/gateway"
PANEL = "gateway"


# ------------------------------------------------------------------------------ answers
def _done(name: str, version: str, notice: Notice, job_id: str | None = None) -> Page:
    """After a successful action: the fragment for htmx, else 303 to the panel."""
    if wants_fragment():
        return render_version(name, version, gateway_state=GatewayState(
            notices={PANEL: notice}))
    session[NOTICE_KEY] = {**notice.to_dict(), "version": f"{name}/{version}"}
    return redirect(url_for("web.version_page", name=name, version=version, gwjob=job_id,
                            _anchor=PANEL), 303)


def _refused(name: str, version: str, status: int, text: str | None = None,
             **forms: Any) -> Page:
    """The version page (or fragment) with the refusal shown in the panel."""
    state = GatewayState(forms=dict(forms))
    if text:
        state.notices[PANEL] = Notice(PANEL, "error", text)
    return render_version(name, version, status, gateway_state=state)


def _field_of(form: Any, message: str) -> Any:
    """The form field a ``settings`` error of :class:`~lifecycle.gateway.render.SettingsError`
    is about: the field whose value it quotes, else whose name it starts with, else ``None``."""
    for field in form:
        data = getattr(field, "data", None)
        if isinstance(data, str) and data.strip() and repr(data.strip()) in message:
            return field
    for field in form:
        if message.startswith(field.short_name):
            return field
    return None


def _show_errors(form: Any, exc: ValidationFailed) -> str | None:
    """Put a service's field errors on the form's fields; what fits no field is returned."""
    rest = []
    for key, message in exc.errors.items():
        field = getattr(form, key, None) if key != "settings" else _field_of(form, message)
        if field is None or not hasattr(field, "errors"):
            rest.append(message)
            continue
        field.errors = [*field.errors, message]
    return " ".join(rest) or None


# ------------------------------------------------------------------------------ settings
@requires("api.change")
def save_settings(name: str, version: str) -> Page:
    """Create or replace the version's gateway settings."""
    services.get_version(name, version)  # 404 before anything else
    form = GatewaySettingsForm()
    if not form.validate_on_submit():
        return _refused(name, version, 422, "Some settings are missing or too long; see the "
                                            "fields below.", settings=form)
    try:
        gateway.put_settings(name, version, form.values(), current_actor(), clock())
    except ValidationFailed as exc:
        rest = _show_errors(form, exc)
        return _refused(name, version, 422, rest or "Some settings are not acceptable; see "
                                                    "the fields below.", settings=form)
    return _done(name, version, Notice(PANEL, "success", "Gateway settings saved. Generate "
                                                         "the configuration to use them."))


# ------------------------------------------------------------------------------ configuration
def _stored(config: Any, created: bool, what: str) -> Notice:
    if not created:
        return Notice(PANEL, "info", "Identical to the current configuration; nothing new "
                                     "stored.")
    count = len(config.findings or [])
    verdict = "it passes the static checks" if config.passed else \
        f"{count} static finding{'' if count == 1 else 's'}, see below"
    return Notice(PANEL, "success" if config.passed else "info",
                  f"{what} (sha256 {config.sha256[:12]}…): {verdict}. Run a proof to show that "
                  "nginx enforces it.")


@requires("api.change")
def generate(name: str, version: str) -> Page:
    """Render the configuration from the settings and the current spec, and store it."""
    services.get_version(name, version)
    form = GenerateGatewayForm()
    if not form.validate_on_submit():
        return _refused(name, version, 422, "Choose nginx or nginx-plus.", generate=form)
    try:
        config, created = gateway.generate_config(name, version, form.target.data,
                                                  current_actor(), clock())
    except ValidationFailed as exc:
        return _refused(name, version, 422, " ".join(exc.errors.values()), generate=form)
    return _done(name, version, _stored(config, created,
                                        f"Configuration generated for {config.target}"))


@requires("api.change")
def upload(name: str, version: str) -> Page:
    """Store an uploaded ``nginx.conf`` with its static findings (file:line)."""
    services.get_version(name, version)
    form = UploadGatewayForm()
    if not form.validate_on_submit():
        return _refused(name, version, 422, upload=form)
    try:
        config, created = gateway.upload_config(name, version, {"nginx.conf": form.raw()},
                                                "nginx.conf", current_actor(), clock(),
                                                form.target.data)
    except ValidationFailed as exc:
        form.config_file.errors = [*form.config_file.errors, *exc.errors.values()]
        return _refused(name, version, 422, upload=form)
    return _done(name, version, _stored(config, created, "Configuration uploaded"))


@requires("read")
def download(name: str, version: str) -> Response:
    """The current configuration as a download (the same bytes as the REST download)."""
    obj = services.get_version(name, version)
    config = gateway.current_config(obj)
    if config is None:
        raise NotFound("This version has no gateway configuration yet.")
    body, mimetype, filename = gateway.config_download(obj, config)
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["ETag"] = f'"{config.sha256}"'
    return response


# ------------------------------------------------------------------------------ proofs
@requires("api.change")
def run_proof(name: str, version: str) -> Page:
    """Queue a proof job of the current configuration and show its progress."""
    services.get_version(name, version)
    form = RunProofForm()
    if not form.validate_on_submit():
        return _refused(name, version, 422, "The form was incomplete; reload the page.")
    try:
        job = gateway.submit_proof(name, version, current_actor(), clock())
    except Conflict as exc:
        return _refused(name, version, 409, exc.message)
    notice = Notice(PANEL, "info", "Proof queued: nginx, the validator and a stub upstream "
                                   "start, then every attack case runs.")
    if wants_fragment():
        return render_version(name, version, gateway_state=GatewayState(
            notices={PANEL: notice}, job=proof_job_view(job)))
    return _done(name, version, notice, job.id)


def register(bp: Blueprint) -> None:
    """Add this module's views to ``bp``."""
    bp.add_url_rule(GATEWAY + "/settings", endpoint="gateway_settings",
                    view_func=save_settings, methods=["POST"])
    bp.add_url_rule(GATEWAY + "/generate", endpoint="gateway_generate", view_func=generate,
                    methods=["POST"])
    bp.add_url_rule(GATEWAY + "/upload", endpoint="gateway_upload", view_func=upload,
                    methods=["POST"])
    bp.add_url_rule(GATEWAY + "/config", endpoint="gateway_config", view_func=download,
                    methods=["GET"])
    bp.add_url_rule(GATEWAY + "/proofs", endpoint="gateway_proof", view_func=run_proof,
                    methods=["POST"])

"""Views of the web UI.  Each parses a form, calls one service, and renders or redirects.

Fragment or full page: the one helper :func:`lifecycle.web.errors.wants_fragment` (htmx, not
boosted, not a history restore); every answer carries ``Vary: HX-Request``.

Status codes of form answers (htmx swaps them; see the ``htmx-config`` meta tag in
``base.html``): 200 success (htmx) / 303 redirect (plain form), 422 invalid form or
unreadable document, 409 gate failed or conflict.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from markupsafe import Markup, escape
from werkzeug.wrappers import Response as BaseResponse
from wtforms.widgets import TextInput

from lifecycle.accounts import authz
from lifecycle.accounts.authz import can_here, current_actor
from lifecycle.accounts.models import Team
from lifecycle.catalog import services, stages, tasks
from lifecycle.core.clock import clock
from lifecycle.core.errors import (
    Conflict,
    GateFailed,
    InvalidTransition,
    NotFound,
    ValidationFailed,
)
from lifecycle.core.extensions import db
from lifecycle.gates import moves
from lifecycle.review import board
from lifecycle.web import presenters
from lifecycle.web.errors import wants_fragment
from lifecycle.web.forms import (
    CreateApiForm,
    CreateVersionForm,
    DemoteForm,
    PromoteForm,
    RetireForm,
    SearchForm,
    TeamCreateApiForm,
    UploadSpecForm,
)
from lifecycle.web.jobs import job_view
from lifecycle.web.version_page import Page, gate_refusal, render_version
from policies.rules import all_rules
from specs import SpecLoadError
from specs.document import excerpt_window
from specs.wording import file_size, plural, readable_pointer

#: headings of the rule catalog, by the evidence kind the rules read
EVIDENCE_LABELS = {
    "spec": "OpenAPI document",
    "token": "Sample access tokens",
    "jwks": "Keys (JWKS)",
    "gateway": "Gateway configuration",
}


def _vary(response: Response) -> Response:
    """Caches must key pages on ``HX-Request`` (fragment vs full page), htmx docs "Caching"."""
    response.vary.add("HX-Request")
    return response


def _stage_context() -> dict[str, Any]:
    return {"stage_labels": presenters.STAGE_LABELS}


def _isotime(value: datetime | None) -> str:
    """ISO 8601 for ``<time datetime>``."""
    return value.isoformat(timespec="seconds") if value else ""


def _shorttime(value: datetime | None) -> str:
    """A date for people, in UTC: ``29 Nov 2026, 18:31 UTC`` (English month abbreviations
    whatever the server's locale).  Templates put it in ``<time datetime="{{ v | isotime }}">``
    so the exact ISO 8601 instant stays machine-readable."""
    if not value:
        return ""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return f"{value.day} {_MONTHS[value.month - 1]} {value.year}, {value:%H:%M} UTC"


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _prose(text: str | None) -> Markup:
    """Rule and finding text as HTML: blank-line paragraphs, indented or multi-line blocks as
    ``<pre>``, `backticks` as ``<code>``.  Everything is escaped first."""
    blocks = []
    for block in (text or "").strip().split("\n\n"):
        if "\n" in block or block.startswith("  "):
            blocks.append(Markup('<pre class="snippet" tabindex="0" role="region" '
                                 'aria-label="Example"><code>{}</code></pre>').format(block))
            continue
        parts = str(escape(block)).split("`")
        html = "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))
        blocks.append(Markup(f"<span class=\"para\">{html}</span>"))
    return Markup("").join(blocks)


# ------------------------------------------------------------------------------ board
def _search_form() -> SearchForm:
    form = SearchForm(request.args)
    form.stage.choices = [("", "All stages")] + [
        (s, presenters.STAGE_LABELS[s]) for s in stages.STAGES
    ]
    return form


#: more APIs than this in the board's new-version form: a text field instead of a list
MAX_API_PICKER = 100


def _version_form() -> CreateVersionForm:
    """The board's New version form: a list of the APIs the user may change, or — beyond
    :data:`MAX_API_PICKER` of them — a text field for the API's name (the page stays small;
    the authorization check and the service judge the typed name)."""
    form = CreateVersionForm()
    rows: list[board.ApiChoice] = []
    if can_here("api.change"):  # a developer (of some team) or an admin
        team_ids = None if can_here("admin") else list(current_user.team_ids)
        rows = board.api_choices(team_ids, MAX_API_PICKER + 1, clock())
    choices = [(a.name, f"{a.title} ({a.name})") for a in rows
               if can_here("api.change", api=a)]
    if len(choices) > MAX_API_PICKER:
        form.api.widget = TextInput()
        form.api.validate_choice = False
        form.api.render_kw = {"placeholder": "API name, e.g. payments", "autocomplete": "off",
                              "value": form.api.data or ""}
        form.api.choices = [("", "")]  # not empty: the form is offered
    else:
        form.api.choices = choices
    return form


def _api_form(**kwargs: Any) -> CreateApiForm:
    """The New API form for the current user: admins type any team (existing ones are
    suggested by a ``<datalist>``, a new name creates the team); developers pick one of
    their teams from a ``<select>``."""

    if can_here("admin"):
        form = CreateApiForm(**kwargs)
        form.team_names = list(db.session.execute(
            db.select(Team.name).order_by(Team.name)).scalars())
        form.team.render_kw = {"list": "team-names", "autocomplete": "off"}
        return form
    team_form = TeamCreateApiForm(**kwargs)
    team_form.team.choices = [(n, n) for n in sorted(t.name for t in current_user.teams)]
    team_form.team_names = []
    return team_form


def _board_url(**params: Any) -> str:
    """The board's URL with the current filter and ``params`` (``None`` values dropped)."""
    args: dict[str, Any] = {"q": request.args.get("q") or None,
                            "stage": request.args.get("stage") or None,
                            "limit": request.args.get("limit") or None}
    args.update(params)
    return url_for("web.board", **{k: v for k, v in args.items() if v not in (None, "")})


def _render_board(
    api_form: CreateApiForm | None = None,
    version_form: CreateVersionForm | None = None,
    status: int = 200,
) -> Page:
    search = _search_form()
    search.validate()  # an unknown stage or overlong query is ignored, not an error
    query = (search.q.data or "").strip() if not search.q.errors else ""
    stage = search.stage.data if search.stage.data and not search.stage.errors else None
    try:
        limit, offset = board.parse_paging(request.args.get("limit"), request.args.get("cursor"))
    except ValidationFailed:
        limit, offset = board.DEFAULT_LIMIT, 0  # a mangled link shows the first page
    page = board.board_page(query=query or None, stage=stage, limit=limit, offset=offset,
                            now=clock())
    context = {
        "columns": presenters.board_columns(page.cards, page.counts),
        "page": page,
        "next_url": _board_url(cursor=str(page.next_offset))
        if page.next_offset is not None else None,
        "prev_url": _board_url(cursor=str(page.prev_offset) if page.prev_offset else None)
        if page.prev_offset is not None else None,
        "filtered": bool(query or stage),
        "total": page.total,
        "query": query,
        "stage_filter": presenters.STAGE_LABELS.get(stage or "", ""),
    }
    if wants_fragment():
        return render_template("web/_partials/board.html", **context), status
    return render_template(
        "web/board.html",
        search=search,
        api_form=api_form or _api_form(formdata=None),
        version_form=version_form or _version_form(),
        **context,
    ), status


def board_view() -> Page:
    """The pipeline: API versions in their stage columns, what needs attention first, one
    page at a time (``limit``, ``cursor``), filterable by name and stage."""
    return _render_board()


def _apply_errors(form: Any, exc: ValidationFailed) -> None:
    """Show a service's field errors on the matching form fields (else on the first field)."""
    for name, message in exc.errors.items():
        target = getattr(form, name, None) or next(iter(form))
        target.errors = [*target.errors, message]


def create_api() -> Page:
    """Register an API, then go to its page."""
    form = _api_form()
    if form.validate_on_submit():
        try:
            api = services.create_api(
                form.name.data, form.title.data, form.description.data or "", form.team.data,
                actor=current_actor(),
            )
        except ValidationFailed as exc:
            _apply_errors(form, exc)
        except Conflict as exc:
            form.name.errors = [*form.name.errors, exc.message]
        else:
            flash(f"API “{api.title}” registered. Add its first version.", "success")
            return redirect(url_for("web.api_page", name=api.name), 303)
    return _render_board(api_form=form, status=422)


@authz.on_refusal("web.create_api")
def _create_api_refused(message: str) -> Page:
    """A team the user may not use: the board again, 403, what was typed kept and the
    reason on the team field (instead of a bare error page)."""
    form = _api_form()
    form.team.errors = [message]
    return _render_board(api_form=form, status=403)


def _create_version(form: CreateVersionForm) -> BaseResponse | None:
    """Run the create-version form; the redirect on success, ``None`` with errors set."""
    if not form.validate_on_submit():
        return None
    try:
        obj = services.create_version(form.api.data, form.version.data,
                                          actor=current_actor())
    except ValidationFailed as exc:
        _apply_errors(form, exc)
    except NotFound as exc:  # a typed API name (text field) that does not exist
        form.api.errors = [*form.api.errors, exc.message]
    except Conflict as exc:
        form.version.errors = [*form.version.errors, exc.message]
    else:
        flash(f"Version {obj.version} created in {presenters.STAGE_LABELS[obj.stage]}.", "success")
        return redirect(url_for("web.version_page", name=obj.api.name, version=obj.version), 303)
    return None


def create_version() -> Page:
    """Add a version to the API chosen in the board's form."""
    form = _version_form()
    return _create_version(form) or _render_board(version_form=form, status=422)


# ------------------------------------------------------------------------------ API page
def _render_api(name: str, form: CreateVersionForm | None = None, status: int = 200) -> Page:
    api = services.get_api(name)
    if form is None:
        form = CreateVersionForm(formdata=None)
    return render_template(
        "web/api.html", api=api, versions=api.versions, version_form=form
    ), status


def api_page(name: str) -> Page:
    """An API and its versions."""
    return _render_api(name)


def create_api_version(name: str) -> Page:
    """Add a version from the API page."""
    services.get_api(name)  # 404 before anything else
    form = CreateVersionForm()
    form.api.choices = [(name, name)]
    form.api.data = name
    return _create_version(form) or _render_api(name, form, status=422)


# ------------------------------------------------------------------------------ version page
def _load_error_view(exc: SpecLoadError, raw: bytes) -> dict[str, Any]:
    text = raw.decode("utf-8", errors="replace")
    excerpt = excerpt_window(text, exc.line, exc.column, context=presenters.EXCERPT_CONTEXT,
                             width=presenters.EXCERPT_WIDTH) if exc.line else []
    return {"message": exc.message, "code": exc.code, "line": exc.line, "column": exc.column,
            "excerpt": excerpt}


def _done(name: str, version: str) -> Page:
    """After a successful change: the fresh fragment for htmx, else redirect (PRG, 303)."""
    if wants_fragment():
        return render_version(name, version)
    return redirect(url_for("web.version_page", name=name, version=version), 303)


def version_page(name: str, version: str) -> Page:
    """Stage timeline, gate status, revisions, upload and stage moves of one version."""
    return render_version(name, version)


def _runs_in_background(raw: bytes) -> bool:
    """Whether an upload of ``raw`` is checked by a job: larger than ``SPEC_ASYNC_BYTES``
    (default 1 MiB; ``None`` never)."""
    threshold = current_app.config.get("SPEC_ASYNC_BYTES")
    return threshold is not None and len(raw) > int(threshold)


def _upload_in_background(name: str, version: str, raw: bytes, form: UploadSpecForm) -> Page:
    """Queue a large upload's check as a job and show its status (htmx: the fragment, which
    polls; plain form: 303 to the version page showing the job)."""
    try:
        job = tasks.submit_upload(name, version, raw, uploader=current_actor(), now=clock())
    except SpecLoadError as exc:  # over the size limit: refused before anything is queued
        return render_version(name, version, 422, upload_form=form,
                              load_error=_load_error_view(exc, raw))
    except Conflict as exc:
        flash(exc.message, "error")
        return render_version(name, version, 409, upload_form=form)
    if wants_fragment():
        return render_version(name, version, job=job_view(job))
    return redirect(url_for("web.version_page", name=name, version=version, job=job.id), 303)


def upload(name: str, version: str) -> Page:
    """Store an uploaded (picked, dropped or pasted) document as the next revision; one
    larger than ``SPEC_ASYNC_BYTES`` is checked in the background (a ``spec.check`` job)."""
    form = UploadSpecForm()
    if not form.validate_on_submit():
        return render_version(name, version, 422, upload_form=form)
    raw = form.raw()
    if _runs_in_background(raw):
        return _upload_in_background(name, version, raw, form)
    try:
        revision, created = services.upload_spec(name, version, raw, uploader=current_actor())
    except SpecLoadError as exc:
        return render_version(name, version, 422, upload_form=form,
                               load_error=_load_error_view(exc, raw))
    except Conflict as exc:
        flash(exc.message, "error")
        return render_version(name, version, 409, upload_form=form)
    if created:
        flash(f"Revision {revision.number} stored and checked.", "success")
    else:
        flash(f"Identical to revision {revision.number} (now the current revision); "
              "nothing new stored.", "info")
    return _done(name, version)


def _move(name: str, version: str, to: str, reason: str | None, **forms: Any) -> Page:
    """Run one transition and answer: done, or the page with why it was refused."""
    try:
        record = moves.transition(name, version, to, reason=reason, actor=current_actor())
    except GateFailed as exc:
        flash(gate_refusal(services.get_version(name, version), exc.decision), "error")
        return render_version(name, version, 409, decision=exc.decision, **forms)
    except InvalidTransition as exc:
        flash(exc.message, "error")
        return render_version(name, version, 422, **forms)
    except Conflict as exc:
        flash(exc.message, "error")
        return render_version(name, version, 409, **forms)
    flash(_moved_message(record), "success")
    return _done(name, version)


def _moved_message(record: Any) -> str:
    label = presenters.STAGE_LABELS[record.to_stage]
    if record.kind == "promotion":
        return f"Promoted to {label}."
    if record.kind == "demotion":
        return f"Moved back to {label}."
    if record.from_stage == stages.DEPLOYMENT:
        return "Retired."
    return f"Abandoned in {presenters.STAGE_LABELS[record.from_stage]}; its lifecycle has ended."


def promote(name: str, version: str) -> Page:
    """Promote one stage, if the gate of that stage passes."""
    form = PromoteForm()
    if not form.validate_on_submit():
        flash("The promotion form was incomplete; reload the page.", "error")
        return render_version(name, version, 422)
    return _move(name, version, form.to.data, None)


def demote(name: str, version: str) -> Page:
    """Move back to an earlier stage with a mandatory reason."""
    obj = services.get_version(name, version)
    form = DemoteForm()
    form.to.choices = [(s, s) for s in stages.previous_stages(obj.stage)]
    if not form.validate_on_submit():
        return render_version(name, version, 422, demote_form=form)
    return _move(name, version, form.to.data, form.reason.data, demote_form=form)


def retire(name: str, version: str) -> Page:
    """Retire (gated, from deployment) or abandon (earlier stages) with a reason."""
    form = RetireForm()
    if not form.validate_on_submit():
        return render_version(name, version, 422, retire_form=form)
    return _move(name, version, stages.RETIREMENT, form.reason.data, retire_form=form)


# ------------------------------------------------------------------------------ rules
def rules() -> Page:
    """The rule catalog: id, severity, evidence, description, remediation, sources."""
    return render_template("web/rules.html", rules=all_rules(), evidence_labels=EVIDENCE_LABELS)


def register(bp: Blueprint) -> None:
    """Add this module's views to ``bp`` (the package builds its blueprints per app;
    see ``create_app``)."""
    bp.after_request(_vary)
    bp.app_context_processor(_stage_context)
    bp.app_template_filter("isotime")(_isotime)
    bp.app_template_filter("shorttime")(_shorttime)
    bp.app_template_filter("prose")(_prose)
    bp.app_template_filter("plural")(plural)
    bp.app_template_filter("pointer")(readable_pointer)
    bp.app_template_filter("filesize")(file_size)
    bp.add_url_rule("/", endpoint="board", view_func=board_view, methods=["GET"])
    bp.add_url_rule("/apis", view_func=create_api, methods=["POST"])
    bp.add_url_rule("/versions", view_func=create_version, methods=["POST"])
    bp.add_url_rule("/apis/<name>", view_func=api_page, methods=["GET"])
    bp.add_url_rule("/apis/<name>/versions", view_func=create_api_version, methods=["POST"])
    bp.add_url_rule("/apis/<name>/versions/<version>", view_func=version_page, methods=["GET"])
    bp.add_url_rule("/apis/<name>/versions/<version>/spec", view_func=upload, methods=["POST"])
    bp.add_url_rule("/apis/<name>/versions/<version>/promote", view_func=promote, methods=["POST"])
    bp.add_url_rule("/apis/<name>/versions/<version>/demote", view_func=demote, methods=["POST"])
    bp.add_url_rule("/apis/<name>/versions/<version>/retire", view_func=retire, methods=["POST"])
    bp.add_url_rule("/rules", view_func=rules, methods=["GET"])

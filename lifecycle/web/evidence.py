"""Views of the "Encryption evidence" area of the version page (on the ``web`` blueprint).

Under ``/apis/<name>/versions/<version>``:

- ``POST /keys`` — generate the version's first managed encryption key (declared ``alg``);
- ``POST /keys/rotate`` — rotate it; the old key decrypts for the grace period given;
- ``POST /evidence/jwks`` — the issuer's signing JWKS, uploaded or pasted (never fetched);
- ``POST /evidence/tokens`` — analyse a pasted sample access token.

Each view parses its form, calls one service (:mod:`lifecycle.keys`,
:mod:`lifecycle.evidence`) and answers like the rest of the UI: for htmx the version fragment
(the evidence forms swap ``#evidence`` and, out of band, ``#gate``), otherwise a 303 back to
the version page (post-redirect-get).  Refusals re-render with 422 (invalid form or input),
409 (conflict) or 503 (the key store cannot be used), never 500.  The outcome of an action
is a :class:`~lifecycle.web.presenters.Notice` in its panel, carried across the redirect in
the session.

The raw sample token is never written back: not in the re-rendered form (the token form is
always rendered empty), not in a notice or error, not in the redirect URL (which names the
stored analysis by its id).

The version page template builds the area with :func:`evidence_panel` (a template global of
this blueprint); these views hand their forms and notices to it through ``g``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import g, redirect, request, session, url_for

from lifecycle import evidence, keys, services
from lifecycle.authz import actor
from lifecycle.errors import wants_fragment
from lifecycle.models import ApiVersion
from lifecycle.services import Conflict, DomainError, NotFound, ValidationFailed
from lifecycle.token_profile import profile_of
from lifecycle.web import presenters
from lifecycle.web.forms import GenerateKeyForm, JwksForm, RotateKeyForm, TokenForm
from lifecycle.web.presenters import Notice
from lifecycle.web.views import Page, _render_version, bp
from policies.rules import get_rule

VERSION = "/apis/<name>/versions/<version>"
#: panel → the element id a redirect scrolls to
ANCHORS = {"keys": "keys", "jwks": "issuer-jwks", "tokens": "token-analysis"}
#: session key of the notice carried across a redirect (never holds a token)
NOTICE_KEY = "evidence_notice"
#: most earlier analyses listed under the selected one
MAX_LISTED_ANALYSES = 20


@dataclass
class _State:
    """What this request's evidence view hands to :func:`evidence_panel`."""

    forms: dict[str, Any] = field(default_factory=dict)
    notices: dict[str, Notice] = field(default_factory=dict)
    selected_id: int | None = None


def _state() -> _State:
    if "evidence_state" not in g:
        g.evidence_state = _State()
    state: _State = g.evidence_state
    return state


def _version_key(obj: ApiVersion) -> str:
    return f"{obj.api.name}/{obj.version}"


def _carried_notice(obj: ApiVersion) -> Notice | None:
    """The notice a redirect carried for this version (read once)."""
    data = session.get(NOTICE_KEY)
    if not isinstance(data, dict) or data.get("version") != _version_key(obj):
        return None
    session.pop(NOTICE_KEY, None)
    try:
        return Notice(str(data["panel"]), str(data["kind"]), str(data["text"]))
    except KeyError:
        return None


@bp.context_processor
def _evidence_context() -> dict[str, Any]:
    return {"evidence_panel": evidence_panel}


def evidence_panel(obj: ApiVersion) -> presenters.EvidencePanel:
    """Everything the evidence area of ``obj``'s page shows (reads only).

    The analysis shown is the one this request produced, else the one named by the
    ``analysis`` query parameter, else the newest.
    """
    state = _state()
    now = keys.clock()
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


# ------------------------------------------------------------------------------ answers
def _done(name: str, version: str, notice: Notice, selected: int | None = None) -> Page:
    """After a successful action: the fragment for htmx, else 303 to the version page."""
    if wants_fragment():
        state = _state()
        state.notices[notice.panel] = notice
        state.selected_id = selected
        return _render_version(name, version)
    session[NOTICE_KEY] = {**notice.to_dict(), "version": f"{name}/{version}"}
    return redirect(url_for("web.version_page", name=name, version=version, analysis=selected,
                            _anchor=ANCHORS[notice.panel]), 303)


def _refused(name: str, version: str, status: int, notice: Notice | None = None,
             **forms: Any) -> Page:
    """The version page (or fragment) with the refusal shown in its panel."""
    state = _state()
    if notice is not None:
        state.notices[notice.panel] = notice
    state.forms.update(forms)
    return _render_version(name, version, status)


def _status(exc: DomainError) -> int:
    if isinstance(exc, keys.KeyStoreUnavailable):
        return 503
    if isinstance(exc, ValidationFailed):
        return 422
    return 409


def _text(exc: DomainError) -> str:
    if isinstance(exc, ValidationFailed):
        return " ".join(exc.errors.values())
    return exc.message


# ------------------------------------------------------------------------------ keys
@bp.post(VERSION + "/keys")
def generate_key(name: str, version: str) -> Page:
    """Generate the version's first managed encryption key for the declared ``alg``."""
    services.get_version(name, version)  # 404 before anything else
    form = GenerateKeyForm()
    if not form.validate_on_submit():
        return _refused(name, version, 422, Notice("keys", "error", "The form was incomplete; "
                                                                    "reload the page."))
    try:
        key = keys.generate_key(name, version, actor=actor())
    except (ValidationFailed, Conflict, keys.KeyStoreUnavailable) as exc:
        return _refused(name, version, _status(exc), Notice("keys", "error", _text(exc)))
    return _done(name, version, Notice(
        "keys", "success", f"Key {key.kid[:12]}… generated ({key.alg}). Give the issuer the "
                           "public JWKS URL below."))


@bp.post(VERSION + "/keys/rotate")
def rotate_key(name: str, version: str) -> Page:
    """Rotate the managed key; the old one decrypts for the grace period given."""
    services.get_version(name, version)
    form = RotateKeyForm()
    if form.validate_on_submit():
        seconds, limit = form.grace_seconds(), keys.max_grace_seconds()
        if seconds > limit:
            form.grace.errors = [f"At most {limit / 86400:g} days ({limit // 3600} hours)."]
        else:
            try:
                key = keys.rotate_key(name, version, seconds, actor=actor())
            except ValidationFailed as exc:
                form.grace.errors = [_text(exc)]
            except (NotFound, Conflict, keys.KeyStoreUnavailable) as exc:
                return _refused(name, version, _status(exc), Notice("keys", "error", _text(exc)),
                                rotate=form)
            else:
                old = "retired at once" if not seconds else \
                    f"decrypts for {form.grace.data} more {form.unit.data}"
                return _done(name, version, Notice(
                    "keys", "success", f"Rotated: key {key.kid[:12]}… is current; the previous "
                                       f"key {old}."))
    return _refused(name, version, 422, rotate=form)


# ------------------------------------------------------------------------------ evidence
@bp.post(VERSION + "/evidence/jwks")
def submit_jwks(name: str, version: str) -> Page:
    """Store the issuer's signing JWKS (uploaded file or pasted JSON) with its findings."""
    services.get_version(name, version)
    form = JwksForm()
    shown = JwksForm(formdata=None)  # never echo a pasted set: it may hold private members
    if not form.validate_on_submit():
        shown.jwks_text.errors = [*form.jwks_file.errors, *form.jwks_text.errors]
        return _refused(name, version, 422, jwks=shown)
    try:
        record, created = evidence.submit_jwks(name, version, form.raw(), actor=actor())
    except ValidationFailed as exc:
        shown.jwks_text.errors = [_text(exc)]
        return _refused(name, version, 422, jwks=shown)
    if not created:
        return _done(name, version, Notice("jwks", "info", "Identical to the stored JWKS; "
                                                           "nothing new stored."))
    count = len(record.keys)
    verdict = "it passes the key rules" if record.passed else "see the failing key rules"
    return _done(name, version, Notice(
        "jwks", "success" if record.passed else "info",
        f"Issuer JWKS stored: {count} key{'' if count == 1 else 's'}; {verdict}."))


@bp.post(VERSION + "/evidence/tokens")
def analyse_token(name: str, version: str) -> Page:
    """Analyse a pasted sample access token; only the analysis is stored and shown."""
    services.get_version(name, version)
    form = TokenForm()
    shown = TokenForm(formdata=None)  # the token is never written back into the page
    if not form.validate_on_submit():
        shown.token.errors = list(form.token.errors)
        return _refused(name, version, 422, token=shown)
    try:
        record, created = evidence.analyse_token(name, version, form.token.data, actor=actor())
    except ValidationFailed as exc:
        shown.token.errors = [_text(exc)]
        return _refused(name, version, 422, token=shown)
    except keys.KeyStoreUnavailable as exc:
        return _refused(name, version, 503, Notice("tokens", "error", exc.message), token=shown)
    finally:
        form.token.data = None
    if not created:
        text = (f"Already analysed at {record.created_at:%Y-%m-%d %H:%M} UTC (fingerprint "
                f"{record.fingerprint[:16]}…); not counted again.")
        return _done(name, version, Notice("tokens", "info", text), record.id)
    failing = len({f["rule_id"] for f in record.findings
                   if f.get("status") not in presenters.QUIET_STATUSES})
    text = "Token analysed: it passes every token rule." if record.passed else \
        f"Token analysed: {failing} rule{' fails' if failing == 1 else 's fail'}."
    return _done(name, version, Notice("tokens", "success" if record.passed else "info", text),
                 record.id)

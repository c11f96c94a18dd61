"""Views of the "Encryption evidence" area of the version page (on the ``web`` blueprint).

Under ``/apis/<name>/versions/<version>``:

- ``POST /keys`` — generate the version's first managed encryption key (declared ``alg``);
- ``POST /keys/rotate`` — rotate it; the old key decrypts for the grace period given;
- ``POST /evidence/jwks`` — the issuer's signing JWKS, uploaded or pasted (never fetched);
- ``POST /evidence/tokens`` — analyse a pasted sample access token.

Each view parses its form, calls one service (:mod:`lifecycle.evidence.keys`,
:mod:`lifecycle.evidence`) and answers like the rest of the UI: for htmx the version fragment
(the evidence forms swap ``#evidence`` and, out of band, ``#gate``), otherwise a 303 back to
the version page (post-redirect-get).  Refusals re-render with 422 (invalid form or input),
409 (conflict) or 503 (the key store cannot be used), never 500.  The outcome of an action
is a :class:`~lifecycle.web.presenters.Notice` in its panel, carried across the redirect in
the session.

The raw sample token is never written back: not in the re-rendered form (the token form is
always rendered empty), not in a notice or error, not in the redirect URL (which names the
stored analysis by its id).

The area is built by :func:`lifecycle.web.version_page.evidence_panel`; these views hand it
their forms and notices explicitly (:class:`~lifecycle.web.version_page.EvidenceState`).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, session, url_for

from lifecycle.accounts.authz import current_actor
from lifecycle.catalog import services
from lifecycle.core import errors
from lifecycle.core.errors import Conflict, DomainError, NotFound, ValidationFailed
from lifecycle.evidence import keys
from lifecycle.evidence import services as evidence
from lifecycle.web import presenters
from lifecycle.web.errors import wants_fragment
from lifecycle.web.forms import GenerateKeyForm, JwksForm, RotateKeyForm, TokenForm
from lifecycle.web.presenters import Notice
from lifecycle.web.version_page import NOTICE_KEY, EvidenceState, Page, render_version

VERSION = "/apis/<name>/versions/<version>"
#: panel → the element id a redirect scrolls to
ANCHORS = {"keys": "keys", "jwks": "issuer-jwks", "tokens": "token-analysis"}


# ------------------------------------------------------------------------------ answers
def _done(name: str, version: str, notice: Notice, selected: int | None = None) -> Page:
    """After a successful action: the fragment for htmx, else 303 to the version page."""
    if wants_fragment():
        state = EvidenceState(notices={notice.panel: notice}, selected_id=selected)
        return render_version(name, version, evidence_state=state)
    session[NOTICE_KEY] = {**notice.to_dict(), "version": f"{name}/{version}"}
    return redirect(url_for("web.version_page", name=name, version=version, analysis=selected,
                            _anchor=ANCHORS[notice.panel]), 303)


def _refused(name: str, version: str, status: int, notice: Notice | None = None,
             **forms: Any) -> Page:
    """The version page (or fragment) with the refusal shown in its panel."""
    state = EvidenceState(forms=dict(forms))
    if notice is not None:
        state.notices[notice.panel] = notice
    return render_version(name, version, status, evidence_state=state)


def _status(exc: DomainError) -> int:
    if isinstance(exc, errors.KeyStoreUnavailable):
        return 503
    if isinstance(exc, ValidationFailed):
        return 422
    return 409


def _text(exc: DomainError) -> str:
    if isinstance(exc, ValidationFailed):
        return " ".join(exc.errors.values())
    return exc.message


# ------------------------------------------------------------------------------ keys
def generate_key(name: str, version: str) -> Page:
    """Generate the version's first managed encryption key for the declared ``alg``."""
    services.get_version(name, version)  # 404 before anything else
    form = GenerateKeyForm()
    if not form.validate_on_submit():
        return _refused(name, version, 422, Notice("keys", "error", "The form was incomplete; "
                                                                    "reload the page."))
    try:
        key = keys.generate_key(name, version, actor=current_actor())
    except (ValidationFailed, Conflict, errors.KeyStoreUnavailable) as exc:
        return _refused(name, version, _status(exc), Notice("keys", "error", _text(exc)))
    return _done(name, version, Notice(
        "keys", "success", f"Key {key.kid[:12]}… generated ({key.alg}). Give the issuer the "
                           "public JWKS URL below."))


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
                key = keys.rotate_key(name, version, seconds, actor=current_actor())
            except ValidationFailed as exc:
                form.grace.errors = [_text(exc)]
            except (NotFound, Conflict, errors.KeyStoreUnavailable) as exc:
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
def submit_jwks(name: str, version: str) -> Page:
    """Store the issuer's signing JWKS (uploaded file or pasted JSON) with its findings."""
    services.get_version(name, version)
    form = JwksForm()
    shown = JwksForm(formdata=None)  # never echo a pasted set: it may hold private members
    if not form.validate_on_submit():
        shown.jwks_text.errors = [*form.jwks_file.errors, *form.jwks_text.errors]
        return _refused(name, version, 422, jwks=shown)
    try:
        record, created = evidence.submit_jwks(name, version, form.raw(), actor=current_actor())
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


def analyse_token(name: str, version: str) -> Page:
    """Analyse a pasted sample access token; only the analysis is stored and shown."""
    services.get_version(name, version)
    form = TokenForm()
    shown = TokenForm(formdata=None)  # the token is never written back into the page
    if not form.validate_on_submit():
        shown.token.errors = list(form.token.errors)
        return _refused(name, version, 422, token=shown)
    try:
        record, created = evidence.analyse_token(name, version, form.token.data,
                                                 actor=current_actor())
    except ValidationFailed as exc:
        shown.token.errors = [_text(exc)]
        return _refused(name, version, 422, token=shown)
    except errors.KeyStoreUnavailable as exc:
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


def register(bp: Blueprint) -> None:
    """Add this module's views to ``bp`` (the package builds its blueprints per app;
    see ``create_app``)."""
    bp.add_url_rule(VERSION + "/keys", view_func=generate_key, methods=["POST"])
    bp.add_url_rule(VERSION + "/keys/rotate", view_func=rotate_key, methods=["POST"])
    bp.add_url_rule(VERSION + "/evidence/jwks", view_func=submit_jwks, methods=["POST"])
    bp.add_url_rule(VERSION + "/evidence/tokens", view_func=analyse_token, methods=["POST"])

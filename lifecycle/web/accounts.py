"""Sign-in, second factor, sign-out, and the account page (personal access tokens,
password, "log out everywhere").

Sign-in answers are identical for an unknown email, a wrong password and a deactivated
account: status 422, the same text, and one password-hash verification each
(:func:`lifecycle.accounts.services.authenticate`).  Login attempts are rate limited
(:mod:`lifecycle.web.limits`: budgets consumed before verifying, device cookies).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from werkzeug.exceptions import TooManyRequests
from werkzeug.wrappers import Response as BaseResponse

from lifecycle.accounts import apitokens, services, sessions
from lifecycle.accounts.authz import requires
from lifecycle.accounts.roles import needs_enrolment
from lifecycle.core.clock import clock
from lifecycle.core.errors import ApiError, NotFound, ValidationFailed
from lifecycle.web.account_forms import (
    EnrolForm,
    LoginForm,
    PasswordChangeForm,
    SecondFactorForm,
    TokenForm,
)
from lifecycle.web.errors import error_response
from lifecycle.web.forms import EmptyForm
from lifecycle.web.limits import remember_device

LOGIN_FAILED = "The email or password is not correct."
SECOND_FACTOR_FAILED = "That code is not correct or was used already."
#: the sentence on the sign-in (or second-factor, or password) card when a budget of
#: :mod:`lifecycle.web.limits` is spent; nothing was checked then
TOO_MANY_ATTEMPTS = ("Too many attempts in a short time, so this one was not checked. "
                     "Wait a minute, then try again.")
#: seconds to wait after a refusal (the budgets are per-minute fixed windows at the least)
RETRY_AFTER = "60"
NO_STORE = {"Cache-Control": "no-store"}

Page = str | tuple[str, int] | tuple[str, int, dict[str, str]] | BaseResponse


def safe_next(target: str | None) -> str | None:
    """``target`` when it is a path on this site (``/x``, not ``//host`` or a URL), else
    ``None`` — no open redirects."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


def _after_login(target: str | None) -> BaseResponse:
    return redirect(safe_next(target) or url_for("web.board"), 303)


@requires("public")
def login() -> Page:
    """Email and password; then the second factor when the user has one."""
    form = LoginForm()
    if request.method == "GET":
        if current_user.is_authenticated:
            return _after_login(request.args.get("next"))
        form.next.data = safe_next(request.args.get("next")) or ""
        return render_template("accounts/login.html", form=form)
    user = None
    if form.validate_on_submit():
        user = services.authenticate(form.email.data, form.password.data)
    if user is None:
        services.record_failed_login(form.email.data or "", "password")
        return render_template("accounts/login.html", form=form, error=LOGIN_FAILED), 422
    if user.totp_enrolled:
        sessions.begin_pending(user)
        return redirect(url_for("accounts.login_totp", next=safe_next(form.next.data)), 303)
    sessions.start(user)
    services.record_login(user, clock(), second_factor=None)
    return remember_device(_after_login(form.next.data), user.email)


@requires("public")
def login_totp() -> Page:
    """The second step: a TOTP code or a recovery code."""
    user = sessions.pending_user()
    if user is None:
        flash("Sign in with your email and password first.", "info")
        return redirect(url_for("accounts.login"), 303)
    form = SecondFactorForm()
    if request.method == "GET":
        form.next.data = safe_next(request.args.get("next")) or ""
        return render_template("accounts/login_totp.html", form=form)
    used = services.verify_second_factor(user, form.code.data or "") \
        if form.validate_on_submit() else None
    if used is None:
        services.record_failed_login(user.email, "second_factor")
        return render_template("accounts/login_totp.html", form=form,
                               error=SECOND_FACTOR_FAILED), 422
    sessions.start(user)
    services.record_login(user, clock(), second_factor=used)
    if used == "recovery":
        flash(f"You used a recovery code; {services.remaining_recovery_codes(user)} are left.",
              "warning")
    return remember_device(_after_login(form.next.data), user.email)


@requires("login", before_enrolment=True)
def logout() -> BaseResponse:
    """Sign out of this browser."""
    sessions.end()
    flash("You are signed out.", "info")
    return redirect(url_for("accounts.login"), 303)


# ------------------------------------------------------------------ second factor
def _render_enrol(user: Any, secret: str, form: EnrolForm, status: int = 200) -> Page:
    uri = services.provisioning_uri(user, secret)
    return render_template("accounts/totp_enrol.html", form=form, secret=secret,
                           qr=services.qr_data_uri(uri), renew_form=EmptyForm(formdata=None),
                           forced=needs_enrolment(user)), status, NO_STORE


@requires("login", before_enrolment=True)
def totp_enrol() -> Page:
    """Enrol an authenticator app: QR code (server-rendered SVG) of the pending secret, then a
    code to confirm; the recovery codes are shown once.

    The pending secret is kept sealed on the server until confirmed
    (:func:`~lifecycle.accounts.services.pending_totp_secret`): reloading shows the same one;
    only the "new code" button (:func:`totp_renew`) replaces it.
    """
    user = current_user._get_current_object()
    if user.totp_enrolled:
        flash("Your second factor is set up already.", "info")
        return redirect(url_for("accounts.account"), 303)
    form = EnrolForm()
    secret = services.pending_totp_secret(user)
    if request.method == "GET":
        return _render_enrol(user, secret, form)
    if form.validate_on_submit():
        try:
            codes = services.confirm_totp(user, secret, form.code.data)
        except ValidationFailed as exc:
            form.code.errors = [*form.code.errors, exc.errors["code"]]
        else:
            return render_template("accounts/recovery_codes.html", codes=codes), 200, NO_STORE
    return _render_enrol(user, secret, form, 422)


@requires("login", before_enrolment=True)
def totp_renew() -> Page:
    """The set-up page's "new code" button: replace the pending secret (an authenticator
    entry made from the old one stops matching), then show the set-up page again."""
    user = current_user._get_current_object()
    if user.totp_enrolled:
        flash("Your second factor is set up already.", "info")
        return redirect(url_for("accounts.account"), 303)
    if not EmptyForm().validate_on_submit():
        raise ApiError(400, "bad_request", "The form was incomplete; reload the page.")
    services.pending_totp_secret(user, renew=True)
    flash("A new key was made. Remove the old Stagegate entry from your authenticator app "
          "and scan this one.", "info")
    return redirect(url_for("accounts.totp_enrol"), 303)


# ------------------------------------------------------------------ account page
def _render_account(status: int = 200, *, token_form: TokenForm | None = None,
                    password_form: PasswordChangeForm | None = None) -> Page:
    user = current_user._get_current_object()
    return render_template(
        "accounts/account.html", user=user, tokens=apitokens.list_pats(user), now=clock(),
        token_form=token_form or TokenForm(formdata=None),
        password_form=password_form or PasswordChangeForm(formdata=None),
        recovery_left=services.remaining_recovery_codes(user),
    ), status


@requires("login")
def account() -> Page:
    """Your roles and teams, second factor, personal access tokens, password."""
    return _render_account()


@requires("login")
def create_token() -> Page:
    """Create a personal access token and show it once."""
    form = TokenForm()
    if form.validate_on_submit():
        try:
            user = current_user._get_current_object()
            token, row = apitokens.create_pat(user, form.name.data, form.expires_days.data,
                                              actor=user)
        except ValidationFailed as exc:
            for name, message in exc.errors.items():
                field = getattr(form, name, form.name)
                field.errors = [*field.errors, message]
        else:
            return render_template("accounts/token_created.html", token=token,
                                   row=row), 201, NO_STORE
    return _render_account(422, token_form=form)


@requires("login")
def revoke_token(token_id: int) -> Page:
    """Revoke one of your tokens."""

    if not EmptyForm().validate_on_submit():
        raise ApiError(400, "bad_request", "The form was incomplete; reload the page.")
    try:
        row = apitokens.revoke_pat(current_user._get_current_object(), token_id)
    except NotFound as exc:
        raise ApiError(404, "not_found", exc.message) from None
    flash(f"Token “{row.name}” revoked.", "success")
    return redirect(url_for("accounts.account"), 303)


@requires("login")
def change_password() -> Page:
    """Change your password; your other sessions end."""
    form = PasswordChangeForm()
    user = current_user._get_current_object()
    if form.validate_on_submit():
        try:
            services.change_password(user, form.current.data, form.new.data)
        except ValidationFailed as exc:
            for name, message in exc.errors.items():
                field = getattr(form, name)
                field.errors = [*field.errors, message]
        else:
            sessions.start(user)  # this browser stays signed in with the new epoch
            flash("Password changed; your other sessions have ended.", "success")
            return redirect(url_for("accounts.account"), 303)
    return _render_account(422, password_form=form)


@requires("login", before_enrolment=True)
def logout_everywhere() -> Any:
    """End every session of yours, in every browser (this one too)."""

    if not EmptyForm().validate_on_submit():
        raise ApiError(400, "bad_request", "The form was incomplete; reload the page.")
    services.logout_everywhere(current_user._get_current_object())
    sessions.end()
    flash("You are signed out everywhere.", "info")
    return redirect(url_for("accounts.login"), 303)


def too_many_attempts(exc: TooManyRequests) -> Any:
    """A rate-limited POST (:func:`lifecycle.web.limits._consume`): the card the person was
    using — sign-in, second factor or the account page — with :data:`TOO_MANY_ATTEMPTS`, status
    429 and ``Retry-After``; the error page for any other endpoint of this blueprint.  The
    email typed stays in the sign-in form; passwords and codes do not."""
    headers = {"Retry-After": RETRY_AFTER, **NO_STORE}
    if request.endpoint == "accounts.login":
        form = LoginForm()
        form.password.data = ""
        return render_template("accounts/login.html", form=form,
                               error=TOO_MANY_ATTEMPTS), 429, headers
    if request.endpoint == "accounts.login_totp" and sessions.pending_user() is not None:
        totp_form = SecondFactorForm()
        totp_form.code.data = ""
        return render_template("accounts/login_totp.html", form=totp_form,
                               error=TOO_MANY_ATTEMPTS), 429, headers
    if request.endpoint == "accounts.change_password" and current_user.is_authenticated:
        password_form = PasswordChangeForm(formdata=None)
        password_form.current.errors = [TOO_MANY_ATTEMPTS]
        response = make_response(_render_account(429, password_form=password_form))
        response.headers.update(headers)
        return response
    return error_response(429, "too_many_requests", exc.description or TOO_MANY_ATTEMPTS,
                          title="Too many attempts")


def register(bp: Blueprint) -> None:
    """Add this module's views to ``bp`` (the package builds its blueprints per app;
    see ``create_app``)."""
    bp.register_error_handler(TooManyRequests, too_many_attempts)
    bp.add_url_rule("/login", view_func=login, methods=["GET", "POST"])
    bp.add_url_rule("/login/second-factor", view_func=login_totp, methods=["GET", "POST"])
    bp.add_url_rule("/logout", view_func=logout, methods=["POST"])
    bp.add_url_rule("/account/second-factor", view_func=totp_enrol, methods=["GET", "POST"])
    bp.add_url_rule("/account/second-factor/new", view_func=totp_renew, methods=["POST"])
    bp.add_url_rule("/account", view_func=account, methods=["GET"])
    bp.add_url_rule("/account/tokens", view_func=create_token, methods=["POST"])
    bp.add_url_rule(
        "/account/tokens/<int:token_id>/revoke", view_func=revoke_token, methods=["POST"]
    )
    bp.add_url_rule("/account/password", view_func=change_password, methods=["POST"])
    bp.add_url_rule("/account/logout-everywhere", view_func=logout_everywhere, methods=["POST"])

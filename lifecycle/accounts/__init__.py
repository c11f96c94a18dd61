"""Accounts: users, teams, roles, sessions, second factor, admin pages (blueprint
``accounts``), and the ``users`` / ``tokens`` CLI groups.

:func:`init_app` wires everything onto an app, after the other blueprints are registered:
Flask-Login (session user loader), the session timeouts (:mod:`.sessions`), the security
headers (:mod:`lifecycle.security`), the authorization check (:mod:`lifecycle.authz`), the
bearer-token 401 handler (:mod:`lifecycle.apitokens`) and the rate limits
(:func:`install_limits`).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager

login_manager = LoginManager()

#: endpoints limited, and the config key holding their limit string
RATE_LIMITED = {
    "accounts.login": "LOGIN_RATE_LIMIT",
    "accounts.login_totp": "LOGIN_RATE_LIMIT",
    "api.token": "TOKEN_RATE_LIMIT",
}


def _failed(response: Any) -> bool:
    """Only refused attempts count against the limits (successes answer 303 or 200)."""
    return bool(response.status_code >= 400)


def _account_key() -> str:
    """Second limit key: the account being tried (so spreading guesses over many addresses
    does not help); falls back to the remote address."""
    email = (request.form.get("email") or "").strip().lower()[:100]
    return f"account:{email}" if email else get_remote_address()


def _pending_key() -> str:
    """Second limit key of the second-factor step: the user whose password was accepted
    (guessing codes from many addresses does not help either)."""
    from flask import session

    from lifecycle.accounts.sessions import PENDING

    pending = session.get(PENDING)
    uid = pending.get("uid") if isinstance(pending, dict) else None
    return f"second-factor:{uid}" if uid is not None else get_remote_address()


def install_limits(app: Flask) -> Limiter:
    """A Flask-Limiter instance for ``app`` (storage ``RATELIMIT_STORAGE_URI``:
    ``memory://`` by default, ``redis://host:port`` to share counters between processes)
    and the limits on the sign-in and token endpoints (POST only, refused attempts only).
    One instance per app, so apps never share counters or storage."""
    limiter = Limiter(key_func=get_remote_address, app=app,
                      storage_uri=str(app.config.get("RATELIMIT_STORAGE_URI") or "memory://"),
                      key_prefix=str(app.config.get("RATELIMIT_KEY_PREFIX", "stagegate")))
    for endpoint, setting in RATE_LIMITED.items():
        view = app.view_functions.get(endpoint)
        if view is None:
            continue
        limit = str(app.config[setting])
        wrapped = limiter.limit(limit, methods=["POST"], deduct_when=_failed)(view)
        second_key = {"accounts.login": _account_key,
                      "accounts.login_totp": _pending_key}.get(endpoint)
        if second_key is not None:
            wrapped = limiter.limit(limit, methods=["POST"], deduct_when=_failed,
                                    key_func=second_key, scope=f"{endpoint}-per-user")(wrapped)
        app.view_functions[endpoint] = wrapped
    app.extensions["stagegate_limiter"] = limiter
    return limiter


def init_app(app: Flask) -> None:
    """Wire accounts, sessions, security headers, authorization and rate limits."""
    from lifecycle import apitokens, authz, security
    from lifecycle.accounts import admin as _admin  # noqa: F401 - registers the admin views
    from lifecycle.accounts import sessions
    from lifecycle.accounts.cli import tokens_group, users_group
    from lifecycle.accounts.views import bp

    app.register_blueprint(bp)
    from lifecycle.errors import error_response
    from lifecycle.keys import KeyStoreUnavailable

    # second factors and access-token keys need the KEK; a missing one is an operator's
    # problem, answered 503 (the api blueprint has its own JSON handler for it)
    app.register_error_handler(
        KeyStoreUnavailable, lambda exc: error_response(503, "key_store_unavailable",
                                                        exc.message))
    login_manager.init_app(app)
    login_manager.user_loader(sessions.load_user)
    security.init_app(app)
    apitokens.init_app(app)
    app.before_request(sessions.check)
    authz.init_app(app)  # after sessions.check: an expired session is anonymous here
    install_limits(app)
    app.cli.add_command(users_group)
    app.cli.add_command(tokens_group)

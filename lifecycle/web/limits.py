"""Sign-in plumbing of the entrypoints: the Flask-Login manager and the rate limits of the
sign-in and token endpoints (:func:`install_limits`).  ``create_app`` wires them."""

from __future__ import annotations

from typing import Any

from flask import Flask, request, session
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager

from lifecycle.accounts.sessions import PENDING

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

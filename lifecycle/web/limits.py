"""Sign-in plumbing of the entrypoints: the Flask-Login manager and the rate limits of the
sign-in, second-factor, password-change and token endpoints (:func:`install_limits`).
``create_app`` wires them.

**Atomic budgets, consumed before verifying.**  Each ``POST`` to ``/login``,
``/login/second-factor`` and ``/account/password`` first takes one unit from every budget it
belongs to (an atomic increment of a fixed-window counter: Redis ``INCRBY``, or a per-key
lock in the in-memory storage) and is refused with 429 — without looking at the password or
code — when any budget is spent.  An attempt that succeeds gives its units back, so only
refused attempts count.  N parallel wrong passwords therefore cost at most the limit in
password verifications, whatever the number of threads (or, with Redis, of processes).

Budgets (``LOGIN_RATE_LIMIT``, default ``5 per minute;20 per hour``, each):

- per client address and endpoint;
- ``/login``: per account tried (the email, lower-cased) — so spreading guesses over many
  addresses does not help — **except** for a browser holding this account's *device cookie*
  (``sg_device``: signed, set at each complete sign-in, one year), which gets a budget of
  its own.  An attacker who guesses wrong on purpose exhausts the account's budget for
  unknown browsers only: the owner's browser still signs in with the right password (and
  second factor).  No hard lock, no delay that holds a worker (OWASP "device cookies");
- ``/login/second-factor``: per user whose password was accepted;
- ``/account/password``: per signed-in user.

Counters live in ``RATELIMIT_STORAGE_URI`` (``memory://`` by default: one process only —
``lifecycle/gunicorn_conf.py`` refuses to start several workers with it, see
:func:`check_workers`; ``redis://host:port`` shares them between processes).
"""

from __future__ import annotations

import hashlib
import os
import secrets
from typing import Any

from flask import Flask, current_app, g, request, session
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, current_user
from itsdangerous import BadSignature, URLSafeSerializer
from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter
from werkzeug.exceptions import TooManyRequests
from werkzeug.wrappers import Response

from lifecycle.accounts.sessions import PENDING

login_manager = LoginManager()

#: endpoints whose POSTs are guarded by budgets consumed before verifying, and the config
#: key holding their limit string
GUARDED = {
    "accounts.login": "LOGIN_RATE_LIMIT",
    "accounts.login_totp": "LOGIN_RATE_LIMIT",
    "accounts.change_password": "LOGIN_RATE_LIMIT",
}
#: endpoints limited by Flask-Limiter (refused attempts only)
RATE_LIMITED = {"api.token": "TOKEN_RATE_LIMIT"}
DEVICE_COOKIE = "sg_device"
DEVICE_SALT = "stagegate-device-cookie"
DEVICE_SECONDS = 365 * 24 * 3600
_CONSUMED = "stagegate_limits_consumed"
_STATE = "stagegate_guard"

ConsumedUnit = tuple[RateLimitItem, str]


class MemoryLimitsWithWorkers(RuntimeError):
    """Several worker processes would each keep their own in-memory counters (the limits
    multiplied by the number of workers)."""


def check_workers(workers: int, storage_uri: str | None) -> None:
    """Refuse a deployment whose rate limits would leak: more than one worker process with
    in-memory counters.  Called by ``lifecycle/gunicorn_conf.py`` before any worker starts and by
    ``create_app`` when ``WEB_CONCURRENCY`` says several workers.

    :raises MemoryLimitsWithWorkers: ``workers > 1`` and ``storage_uri`` is ``memory://``.
    """
    if workers > 1 and str(storage_uri or "memory://").startswith("memory://"):
        raise MemoryLimitsWithWorkers(
            f"{workers} workers with in-memory rate limits: each worker would count on its "
            "own. Set STAGEGATE_RATELIMIT_STORAGE_URI=redis://host:port, or run one worker.")


def _failed(response: Any) -> bool:
    """Only refused attempts count against the limits (successes answer 303 or 200)."""
    return bool(response.status_code >= 400)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _email() -> str:
    return (request.form.get("email") or "").strip().lower()[:320]


def _device_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(str(current_app.secret_key), salt=DEVICE_SALT)


def _device_of(email: str) -> str | None:
    """The nonce of this browser's device cookie when it was issued for ``email``."""
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw or not email:
        return None
    try:
        value = _device_serializer().loads(raw)
    except BadSignature:
        return None
    if not isinstance(value, dict) or value.get("e") != _digest(email):
        return None
    nonce = value.get("n")
    return nonce if isinstance(nonce, str) else None


def remember_device(response: Response, email: str) -> Response:
    """Set the device cookie of ``email`` on ``response`` (after a complete sign-in)."""
    value = _device_serializer().dumps({"e": _digest(email.strip().lower()),
                                        "n": secrets.token_hex(8)})
    response.set_cookie(DEVICE_COOKIE, value, max_age=DEVICE_SECONDS, path="/login",
                        httponly=True, samesite="Lax",
                        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")))
    return response


def _budget_keys(endpoint: str) -> list[str]:
    """The budgets a POST to ``endpoint`` draws on (see the module docstring)."""
    keys = [f"{endpoint}/addr/{get_remote_address()}"]
    if endpoint == "accounts.login":
        email = _email()
        if email:
            device = _device_of(email)
            keys.append(f"login/account/{_digest(email)}" if device is None
                        else f"login/device/{_digest(email)}/{device}")
    elif endpoint == "accounts.login_totp":
        pending = session.get(PENDING)
        uid = pending.get("uid") if isinstance(pending, dict) else None
        if uid is not None:
            keys.append(f"second-factor/user/{uid}")
    elif endpoint == "accounts.change_password" and current_user.is_authenticated:
        keys.append(f"password/user/{current_user.id}")
    return keys


def _consume() -> None:
    """Before a guarded POST: take one unit from each budget atomically; 429 when one is
    spent (nothing is verified then)."""
    if request.method != "POST" or request.endpoint not in GUARDED:
        return
    state = current_app.extensions[_STATE]
    prefix = str(current_app.config.get("RATELIMIT_KEY_PREFIX", "stagegate"))
    items = parse_many(str(current_app.config[GUARDED[request.endpoint]]))
    consumed: list[ConsumedUnit] = []
    allowed = True
    for key in _budget_keys(request.endpoint):
        for item in items:
            ok = state.hit(item, prefix, key)
            consumed.append((item, key))
            allowed = allowed and ok
    if not allowed:
        raise TooManyRequests("Too many attempts; wait a minute and try again.")
    g.setdefault(_CONSUMED, consumed)


def _refund(response: Response) -> Response:
    """After a guarded POST that succeeded: give its units back (only refusals count)."""
    consumed: list[ConsumedUnit] | None = g.pop(_CONSUMED, None)
    if consumed and response.status_code < 400:
        state = current_app.extensions[_STATE]
        prefix = str(current_app.config.get("RATELIMIT_KEY_PREFIX", "stagegate"))
        for item, key in consumed:
            # an atomic increment by -1 (Redis INCRBY; the memory storage's per-key lock)
            state.storage.incr(item.key_for(prefix, key), item.get_expiry(), amount=-1)
    return response


def install_limits(app: Flask) -> Limiter:
    """The budgets of the guarded endpoints (:data:`GUARDED`, consumed before verifying) and
    a Flask-Limiter instance for the token endpoint, both on ``RATELIMIT_STORAGE_URI``
    (``memory://`` by default, ``redis://host:port`` to share counters between processes).
    One storage per app, so apps never share counters.

    :raises MemoryLimitsWithWorkers: ``WEB_CONCURRENCY`` > 1 with in-memory counters.
    """
    uri = str(app.config.get("RATELIMIT_STORAGE_URI") or "memory://")
    workers = str(app.config.get("WEB_CONCURRENCY") or os.environ.get("WEB_CONCURRENCY") or "1")
    check_workers(int(workers) if workers.isdigit() else 1, uri)
    app.extensions[_STATE] = FixedWindowRateLimiter(storage_from_string(uri))
    app.before_request(_consume)
    app.after_request(_refund)
    limiter = Limiter(key_func=get_remote_address, app=app, storage_uri=uri,
                      key_prefix=str(app.config.get("RATELIMIT_KEY_PREFIX", "stagegate")))
    for endpoint, setting in RATE_LIMITED.items():
        view = app.view_functions.get(endpoint)
        if view is None:
            continue
        limit = str(app.config[setting])
        limited: Any = limiter.limit(limit, methods=["POST"], deduct_when=_failed)(view)
        app.view_functions[endpoint] = limited
    app.extensions["stagegate_limiter"] = limiter
    return limiter

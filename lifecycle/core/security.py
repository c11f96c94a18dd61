"""Security headers on every response, and the session cookie's flags.

Headers (set unless a view set its own):

- ``Content-Security-Policy``: :data:`CSP` — no inline script or style, no plugins, no
  framing, forms only to this site (the templates use none inline; htmx is configured with a
  ``<meta>`` tag and does not inject styles);
- ``X-Frame-Options: DENY``, ``X-Content-Type-Options: nosniff``,
  ``Referrer-Policy: same-origin``;
- ``Strict-Transport-Security: max-age=<HSTS_SECONDS>; includeSubDomains`` only on requests
  served over HTTPS (RFC 6797 §7.2: never over plain HTTP).

Cookie flags: ``HttpOnly``, ``SameSite=Lax``, ``Secure`` when ``SESSION_COOKIE_SECURE`` is
set, or by default when ``PREFERRED_URL_SCHEME`` is ``https``.
"""

from __future__ import annotations

from flask import Flask, Response, request
from werkzeug.middleware.proxy_fix import ProxyFix

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
HSTS_SECONDS = 31_536_000  # one year


def configure_cookies(app: Flask) -> None:
    """Set the session cookie flags (``SESSION_COOKIE_SECURE`` ``None`` means "on when
    ``PREFERRED_URL_SCHEME`` is https")."""
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    if app.config.get("SESSION_COOKIE_SECURE") is None:
        app.config["SESSION_COOKIE_SECURE"] = app.config.get("PREFERRED_URL_SCHEME") == "https"


def add_headers(response: Response) -> Response:
    """The after-request hook (see the module docstring)."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security",
                           f"max-age={HSTS_SECONDS}; includeSubDomains")
    return response


def trust_proxies(app: Flask) -> None:
    """Behind ``PROXY_COUNT`` reverse proxies (default 0), take the client address, scheme
    and host from their ``X-Forwarded-*`` headers (Werkzeug ``ProxyFix``), so HSTS, secure
    URLs and the per-address login limits see the real client.  Never set it when clients
    reach the app directly: they could forge those headers."""
    count = int(app.config.get("PROXY_COUNT") or 0)
    if count > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count,  # type: ignore[method-assign]
                                x_host=count)


def init_app(app: Flask) -> None:
    """Cookie flags and proxies now, headers on every response."""
    configure_cookies(app)
    trust_proxies(app)
    app.after_request(add_headers)

"""``POST /api/v1/token``: exchange a personal access token for an access token.

RFC 6749 §4.4 (client credentials): form body ``grant_type=client_credentials``; the PAT is
the client secret, sent with HTTP Basic (``client_id`` = ``sgp_<lookup>``, RFC 6749 §2.3.1:
both form-urlencoded, then base64) or as the ``client_secret`` form field (``client_id``
optional).  Success: ``200 {"access_token", "token_type": "Bearer", "expires_in", "scope"}``
with ``Cache-Control: no-store``.  Errors use the RFC 6749 §5.2 shape
``{"error", "error_description"}``: ``invalid_request`` (400), ``unsupported_grant_type``
(400), ``invalid_client`` (401 with ``WWW-Authenticate: Basic``).  ``GET
/api/v1/token/jwks.json`` publishes the app's public keys.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import unquote_plus

from flask import Blueprint, jsonify, request

from lifecycle.accounts import apitokens
from lifecycle.accounts.authz import requires

#: what a caller who presented a valid PAT is told when its account cannot use it yet
REFUSALS = {
    apitokens.REFUSED_SECOND_FACTOR:
        "Second factor required: this account is an approver or admin and must enrol a "
        "second factor (sign in on the web, Account → second factor) before its tokens "
        "can be exchanged.",
    apitokens.REFUSED_PASSWORD_CHANGE:
        "Password change required: an admin reset this account's password; sign in on "
        "the web (or ask the operator: stagegate users set-password) and choose a new one.",
}


def _oauth_error(status: int, error: str, description: str) -> Any:
    response = jsonify(error=error, error_description=description)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Basic realm="stagegate"'
    return response


def _basic() -> tuple[str, str] | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return ("", "")
    user, sep, password = decoded.partition(":")
    return (unquote_plus(user), unquote_plus(password)) if sep else ("", "")


@requires("public")
def token() -> Any:
    """Client-credentials grant: a PAT in, a short-lived nested-JWT access token out."""
    if request.mimetype != "application/x-www-form-urlencoded":
        return _oauth_error(400, "invalid_request",
                            "Send application/x-www-form-urlencoded (RFC 6749 §4.4.2).")
    grant = request.form.get("grant_type")
    if not grant:
        return _oauth_error(400, "invalid_request", "grant_type is required.")
    if grant != "client_credentials":
        return _oauth_error(400, "unsupported_grant_type",
                            "Only grant_type=client_credentials is supported.")
    basic = _basic()
    form_secret = request.form.get("client_secret")
    if basic is not None and form_secret is not None:
        return _oauth_error(400, "invalid_request",
                            "Use one client authentication method, not two.")
    client_id: str | None
    if basic is not None:
        client_id, secret = basic
        client_id = client_id or None
    else:
        client_id, secret = request.form.get("client_id") or None, form_secret or ""
    issued = apitokens.exchange(secret, client_id) if secret else None
    if issued is None:
        return _oauth_error(401, "invalid_client",
                            "The client credentials are not valid: the token is unknown, "
                            "revoked or expired, or its account is deactivated.")
    if isinstance(issued, apitokens.Refused):
        # the caller proved the PAT: only now may the answer say what its account lacks
        return _oauth_error(401, "invalid_client", REFUSALS[issued.reason])
    access_token, expires_in = issued
    response = jsonify(access_token=access_token, token_type="Bearer", expires_in=expires_in,
                       scope=apitokens.SCOPE)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


@requires("public")
def token_jwks() -> Any:
    """The app's public access-token keys (signing and encryption, separate pairs)."""
    response = jsonify(apitokens.public_jwks())
    response.mimetype = "application/jwk-set+json"
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


def register(bp: Blueprint) -> None:
    """Add this module's views to ``bp`` (the package builds its blueprints per app;
    see ``create_app``)."""
    bp.add_url_rule("/token", view_func=token, methods=["POST"])
    bp.add_url_rule("/token/jwks.json", view_func=token_jwks, methods=["GET"])

"""Personal access tokens (PATs) and the app's own short-lived access tokens.

**PATs** are created in the UI (account page) or with ``stagegate tokens create``, shown once,
and stored only as ``lookup`` plus the SHA-256 of the whole token: the token is
``sgp_<lookup>_<secret>`` with a 64-bit hex ``lookup`` and a 256-bit random hex ``secret``
(hashing a high-entropy secret needs no slow hash).  A PAT has a name, an expiry (1 to
``PAT_MAX_DAYS`` days) and can be revoked.

**Access tokens**: ``POST /api/v1/token`` (RFC 6749 §4.4 client credentials; the PAT is the
client secret) returns a nested JWT (RFC 7519 §5.2, RFC 9068):

- inner JWS: ``alg: ES256``, ``typ: at+jwt``, ``kid`` = RFC 7638 thumbprint of the app's
  signing key; claims ``iss`` (``TOKEN_ISSUER``), ``aud`` (``API_AUDIENCE``), ``sub`` (user
  id), ``client_id`` (``sgp_<lookup>``), ``scope``, ``iat``, ``exp`` (``iat`` +
  ``ACCESS_TOKEN_SECONDS``, at most 900), ``jti``, and the private claim ``sg_tep``: the
  user's token epoch when it was minted;
- outer JWE: ``alg: ECDH-ES+A256KW``, ``enc: A256GCM``, ``cty: JWT``, ``kid`` of the app's
  encryption key.

The signing and encryption keys are two separate P-256 key pairs (KEY-SEPARATION, RFC 8725bis
§3.1), generated on first use, their private JWKs sealed under the key-encryption key
(:mod:`lifecycle.core.crypto_store`).

**Checking**: every REST request's bearer token goes through Stagegate's own checker
(:func:`policies.tokens.check_token`) with the profile of these settings
(:func:`access_token_profile`) and must pass every rule; then its user must be active and
its PAT neither revoked nor expired (revocation takes effect at once).  No replay cache is
passed: a bearer access token is legitimately sent with many requests during its lifetime
(RFC 6750), so "this ``jti`` was seen" is no reason to refuse it; a stolen token is limited by
its lifetime (≤ 15 min), its encryption and the PAT's revocation.  A token also dies when its
user's ``token_epoch`` moves (deactivation — for good, reactivation does not revive it —, a
password change or an admin's password reset): ``sg_tep`` must equal the current epoch.
PATs survive a password change (they are separate credentials the user lists and revokes
on the account page) and are revoked when the user is deactivated.  Refusals answer 401 with
``WWW-Authenticate: Bearer`` (``error="invalid_token"`` when a token was sent, RFC 6750 §3.1)
and a generic message; the failing rule ids go to the server log only (jwt-policy.md §2.4).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, current_app, jsonify, request
from jwcrypto import jwk, jwt
from sqlalchemy.exc import IntegrityError

from lifecycle.accounts.models import AppKey, PersonalAccessToken, User
from lifecycle.accounts.roles import needs_enrolment
from lifecycle.accounts.services import audit_hook
from lifecycle.core import crypto_store
from lifecycle.core.clock import clock
from lifecycle.core.errors import KeyStoreUnavailable, NotFound, ValidationFailed
from lifecycle.core.extensions import db
from lifecycle.core.lru import LruCache
from policies.tokens import TokenProfile, check_token

PAT_PREFIX = "sgp_"
SIGNING_ALG = "ES256"
KEY_ALG = "ECDH-ES+A256KW"
CONTENT_ALG = "A256GCM"
CURVE = "P-256"
#: longest access-token lifetime accepted from the configuration (seconds)
MAX_ACCESS_TOKEN_SECONDS = 900
#: successful verifications remembered per app (least recently used evicted)
VERIFIED_CACHE_SIZE = 4096
SCOPE = "stagegate"
MAX_NAME = 100
#: private claim: the user's token epoch at minting (see the module docstring)
EPOCH_CLAIM = "sg_tep"
#: why an exchange was refused (``None``: the credentials are unknown — the only reason
#: an unauthenticated caller is told)
REFUSED_SECOND_FACTOR = "second_factor_required"
REFUSED_PASSWORD_CHANGE = "password_change_required"


class InvalidBearer(Exception):
    """The request has no usable bearer token.

    :ivar error: ``None`` when no token was sent, else ``"invalid_token"``.
    :ivar reason: for the server log only (rule ids or what was wrong).
    """

    def __init__(self, error: str | None, reason: str = "") -> None:
        super().__init__(reason or "no bearer token")
        self.error = error
        self.reason = reason


# ------------------------------------------------------------------ personal access tokens
def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _max_days() -> int:
    return int(current_app.config.get("PAT_MAX_DAYS", 365))


def create_pat(user: User, name: str, expires_days: int,
               now: datetime | None = None, *,
               actor: User | str) -> tuple[str, PersonalAccessToken]:
    """Create a PAT for ``user``; the token text is returned here and never again.

    :param name: 1–100 characters, to recognise it in the list.
    :param expires_days: whole days, 1 to ``PAT_MAX_DAYS`` (default 365).
    :param actor: who creates it, for the audit trail: the signed-in user (a :class:`User`,
        on the account page) or the operator's label (``"cli"`` for ``stagegate tokens
        create``).
    :returns: ``(token, row)``.
    :raises ValidationFailed: bad name or expiry.
    """
    name = (name or "").strip()
    limit = _max_days()
    errors = {}
    if not name or len(name) > MAX_NAME:
        errors["name"] = f"Give the token a name of 1–{MAX_NAME} characters."
    if not isinstance(expires_days, int) or isinstance(expires_days, bool) or \
            not 1 <= expires_days <= limit:
        errors["expires_days"] = f"Give whole days from 1 to {limit}."
    if errors:
        raise ValidationFailed(errors)
    moment = now or clock()
    lookup = secrets.token_hex(8)
    token = f"{PAT_PREFIX}{lookup}_{secrets.token_hex(32)}"
    row = PersonalAccessToken(user_id=user.id, name=name, lookup=lookup,
                              secret_hash=_hash(token), created_at=moment,
                              expires_at=moment + timedelta(days=expires_days))
    db.session.add(row)
    _audit("token.created", actor.email if isinstance(actor, User) else str(actor),
           f"user:{user.email}",
           {"token": row.client_id, "name": name, "expires_at": row.expires_at.isoformat()})
    db.session.commit()
    return token, row


def list_pats(user: User) -> list[PersonalAccessToken]:
    """The user's PATs, newest first."""
    stmt = (db.select(PersonalAccessToken).where(PersonalAccessToken.user_id == user.id)
            .order_by(PersonalAccessToken.id.desc()))
    return list(db.session.execute(stmt).scalars())


def revoke_pat(user: User, token_id: int, now: datetime | None = None) -> PersonalAccessToken:
    """Revoke one of ``user``'s PATs (idempotent).

    :raises NotFound: the user has no such token.
    """
    row = db.session.get(PersonalAccessToken, token_id)
    if row is None or row.user_id != user.id:
        raise NotFound("No such token.")
    if row.revoked_at is None:
        row.revoked_at = now or clock()
        _audit("token.revoked", user.email, f"user:{user.email}", {"token": row.client_id})
        db.session.commit()
    return row


def find_pat(token: str) -> PersonalAccessToken | None:
    """The PAT row whose hash matches ``token`` (any state), or ``None``."""
    if not isinstance(token, str) or not token.startswith(PAT_PREFIX) or len(token) > 200:
        return None
    parts = token[len(PAT_PREFIX):].split("_", 1)
    if len(parts) != 2:
        return None
    row = db.session.execute(db.select(PersonalAccessToken).where(
        PersonalAccessToken.lookup == parts[0])).scalar_one_or_none()
    if row is None or not hmac.compare_digest(row.secret_hash, _hash(token)):
        return None
    return row


def _audit(action: str, actor: str, subject: str, data: dict[str, Any]) -> None:

    audit_hook(action, actor, subject, data)


# ------------------------------------------------------------------ the app's keys
@dataclass(frozen=True)
class _Keys:
    signing: jwk.JWK      # private, sig
    encryption: jwk.JWK   # private, enc
    signing_public: jwk.JWK


_lock = threading.Lock()


def _aad(purpose: str, kid: str) -> bytes:
    return f"stagegate-app-key:{purpose}:{kid}".encode()


def _kek() -> bytes:
    try:
        return crypto_store.current_kek()
    except crypto_store.KeyStoreError as exc:
        raise KeyStoreUnavailable(f"Access tokens are unavailable: {exc.message}") from None


def _generate(purpose: str, kek: bytes) -> AppKey:
    use, alg = ("sig", SIGNING_ALG) if purpose == "sig" else ("enc", KEY_ALG)
    pair = jwk.JWK.generate(kty="EC", crv=CURVE, use=use, alg=alg)
    kid = pair.thumbprint()
    pair["kid"] = kid
    sealed = crypto_store.seal(pair.export_private().encode(), _aad(purpose, kid), kek)
    return AppKey(purpose=purpose, kid=kid, alg=alg,
                  public_jwk=pair.export_public(as_dict=True), sealed_private=sealed,
                  active=True, created_at=clock())


def _active(purpose: str) -> AppKey | None:
    return db.session.execute(db.select(AppKey).where(
        AppKey.purpose == purpose, AppKey.active.is_(True))).scalar_one_or_none()


def _open(row: AppKey, kek: bytes) -> jwk.JWK:
    try:
        raw = crypto_store.unseal(row.sealed_private, _aad(row.purpose, row.kid), kek)
    except crypto_store.KeyStoreError as exc:
        raise KeyStoreUnavailable(f"The access-token key {row.kid} cannot be opened: "
                                  f"{exc.message}") from None
    return jwk.JWK.from_json(raw)


def app_keys() -> _Keys:
    """The app's signing and encryption keys (created on first use; cached per app).

    :raises KeyStoreUnavailable: the key-encryption key is missing or wrong.
    """
    cache = current_app.extensions.setdefault("stagegate_token_keys", {})
    found = cache.get("keys")
    if found is not None:
        return found
    with _lock:
        rows = {p: _active(p) for p in ("sig", "enc")}
        if any(r is None for r in rows.values()):
            kek = _kek()
            for purpose, row in rows.items():
                if row is None:
                    db.session.add(_generate(purpose, kek))
            try:
                db.session.commit()
            except IntegrityError:  # another process created them first
                db.session.rollback()
            rows = {p: _active(p) for p in ("sig", "enc")}
        kek = _kek()
        sig, enc = _open(rows["sig"], kek), _open(rows["enc"], kek)  # type: ignore[arg-type]
        keys = _Keys(sig, enc, jwk.JWK(**rows["sig"].public_jwk))  # type: ignore[union-attr]
        cache["keys"] = keys
        return keys


def public_jwks() -> dict[str, Any]:
    """The app's public keys: ``{"keys": [signing JWK, encryption JWK]}``."""
    keys = app_keys()
    return {"keys": [keys.signing.export_public(as_dict=True),
                     keys.encryption.export_public(as_dict=True)]}


# ------------------------------------------------------------------ access tokens
def issuer() -> str:
    """``TOKEN_ISSUER``: the ``iss`` of access tokens."""
    return str(current_app.config["TOKEN_ISSUER"])


def audience() -> str:
    """``API_AUDIENCE`` (default ``TOKEN_ISSUER`` + ``/api/v1``): the ``aud``."""
    return str(current_app.config.get("API_AUDIENCE") or issuer().rstrip("/") + "/api/v1")


def lifetime() -> int:
    """``ACCESS_TOKEN_SECONDS`` (default 600), never above 900."""
    return max(1, min(int(current_app.config.get("ACCESS_TOKEN_SECONDS", 600)),
                      MAX_ACCESS_TOKEN_SECONDS))


def access_token_profile() -> TokenProfile:
    """The profile the app's access tokens are checked against (same shape as an API's
    ``x-token-encryption``)."""
    return TokenProfile(alg=KEY_ALG, enc=CONTENT_ALG, signing_alg=SIGNING_ALG,
                        issuer=issuer(), audience=(audience(),),
                        max_lifetime=MAX_ACCESS_TOKEN_SECONDS)


def mint(user: User, pat: PersonalAccessToken, now: datetime | None = None) -> tuple[str, int]:
    """Sign, then encrypt, an access token for ``user`` acting through ``pat``.

    :returns: ``(token, expires_in seconds)``.
    """
    keys = app_keys()
    issued = int((now or clock()).timestamp())
    span = lifetime()
    claims = {"iss": issuer(), "aud": audience(), "sub": str(user.id),
              "client_id": pat.client_id, "scope": SCOPE, "iat": issued,
              "exp": issued + span, "jti": str(uuid.uuid4()),
              EPOCH_CLAIM: int(user.token_epoch or 0)}
    inner = jwt.JWT(header={"alg": SIGNING_ALG, "typ": "at+jwt", "kid": keys.signing["kid"]},
                    claims=claims)
    inner.make_signed_token(keys.signing)
    outer = jwt.JWT(header={"alg": KEY_ALG, "enc": CONTENT_ALG, "cty": "JWT",
                            "kid": keys.encryption["kid"]},
                    claims=inner.serialize())
    outer.make_encrypted_token(jwk.JWK(**keys.encryption.export_public(as_dict=True)))
    return outer.serialize(), span


@dataclass(frozen=True)
class Refused:
    """An exchange that was refused although the PAT itself is valid: ``reason`` is
    :data:`REFUSED_SECOND_FACTOR` or :data:`REFUSED_PASSWORD_CHANGE` — said only to a
    caller who presented the correct PAT, so it reveals nothing about other accounts."""

    reason: str


def exchange(client_secret: str, client_id: str | None = None,
             now: datetime | None = None) -> tuple[str, int] | Refused | None:
    """Exchange a PAT for an access token.

    :returns: ``(token, expires_in)``; :class:`Refused` when the PAT is valid but its user
        (an approver or admin) must first enrol a second factor, or must first change a
        password an admin reset; ``None`` when the PAT is unknown, revoked, expired, names
        another ``client_id``, or its user is inactive.
    """
    moment = now or clock()
    pat = find_pat(client_secret)
    if pat is None or not pat.usable_at(moment) or \
            (client_id is not None and client_id != pat.client_id):
        return None
    user = pat.user
    if not user.active:
        return None
    if needs_enrolment(user):
        return Refused(REFUSED_SECOND_FACTOR)
    if user.must_change_password:
        return Refused(REFUSED_PASSWORD_CHANGE)
    pat.last_used_at = moment
    db.session.commit()
    return mint(user, pat, moment)


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if not header:
        return None
    if scheme.lower() != "bearer" or not value.strip():
        raise InvalidBearer("invalid_token", "Authorization is not a Bearer token")
    return value.strip()


@dataclass(frozen=True, slots=True)
class _Verified:
    """What a successful verification established: whose token, through which PAT, and
    the window (``iat - leeway`` ≤ now < ``exp``, seconds since the epoch) in which the
    cryptographic and claim checks stay true."""

    user_id: int
    pat_id: int
    epoch: int  # the user's token epoch the token was minted at (``sg_tep``)
    not_before: int
    expires: int


class VerifiedTokens:
    """Successful access-token verifications by the token's SHA-256 (issue 10).

    Bounded (:data:`VERIFIED_CACHE_SIZE`, least recently used evicted), per app and process.
    An entry is used only inside its token's validity window; what can change meanwhile —
    the PAT revoked or expired, the user deactivated — is looked up on every request
    (one primary-key query, :func:`_still_valid`), never taken from the cache.  Raw tokens
    are never kept, only their digests.
    """

    def __init__(self, size: int = VERIFIED_CACHE_SIZE) -> None:
        self._entries: LruCache[bytes, _Verified] = LruCache(size)

    def get(self, digest: bytes, now: int) -> _Verified | None:
        """The verification of the token with this SHA-256 while ``now`` (seconds since the
        epoch) is inside its validity window; else ``None``."""
        return self._entries.get(digest, lambda e: e.not_before <= now < e.expires)

    def put(self, digest: bytes, entry: _Verified) -> None:
        self._entries.put(digest, entry)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


def verified_tokens() -> VerifiedTokens:
    """The current app's :class:`VerifiedTokens`."""
    cache = current_app.extensions.get("stagegate_verified_tokens")
    if cache is None:
        with _lock:
            cache = current_app.extensions.setdefault("stagegate_verified_tokens",
                                                      VerifiedTokens())
    return cache  # type: ignore[no-any-return]


def verify(token: str, now: datetime | None = None) -> User:
    """The user an access token acts for.

    A token verified before (same SHA-256, still inside its ``iat``/``exp`` window) is not
    decrypted again: only the user's and the PAT's current state are read (one query).
    Otherwise the token is decrypted and verified once (:func:`check_token`; its verified
    claims are taken from the same pass) and remembered on success.

    :raises InvalidBearer: the token fails any checker rule, or its user or PAT is no
        longer valid.
    """
    moment = now or clock()
    instant = int(moment.timestamp())
    digest = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
    cache = verified_tokens()
    known = cache.get(digest, instant)
    if known is not None:
        return _still_valid(known.user_id, known.pat_id, known.epoch, moment)
    keys = app_keys()
    leeway = int(current_app.config.get("TOKEN_LEEWAY_SECONDS", 30))
    verified: list[dict[str, Any]] = []
    analysis = check_token(token, decryption_keys=[keys.encryption],
                           issuer_jwks=[keys.signing_public], profile=access_token_profile(),
                           now=instant, leeway=leeway, replay_cache=None,
                           on_verified=lambda claims: verified.append(dict(claims)))
    failing = analysis.failing()
    if failing or analysis.not_evaluated:
        rules = sorted({f.rule_id for f in failing}) or ["incomplete"]
        raise InvalidBearer("invalid_token", ",".join(rules))
    if len(verified) != 1:
        raise InvalidBearer("invalid_token", "claims unreadable")
    claims = verified[0]
    sub, client_id = claims.get("sub"), claims.get("client_id")
    epoch = claims.get(EPOCH_CLAIM)
    if not (isinstance(sub, str) and sub.isascii() and sub.isdigit() and len(sub) <= 18) \
            or not isinstance(client_id, str):
        raise InvalidBearer("invalid_token", "user unknown or inactive")
    if not isinstance(epoch, int) or isinstance(epoch, bool):
        raise InvalidBearer("invalid_token", "token epoch missing")
    pat = db.session.execute(db.select(PersonalAccessToken).where(
        PersonalAccessToken.lookup == client_id[len(PAT_PREFIX):]
    )).scalar_one_or_none()
    if pat is None:
        raise InvalidBearer("invalid_token", "personal access token revoked or expired")
    user = _still_valid(int(sub), pat.id, epoch, moment)
    exp, iat = claims.get("exp"), claims.get("iat")
    if isinstance(exp, int) and isinstance(iat, int):
        cache.put(digest, _Verified(user.id, pat.id, epoch, iat - leeway, exp))
    return user


def _still_valid(user_id: int, pat_id: int, epoch: int, moment: datetime) -> User:
    """The user, when they are still active, their token epoch is still ``epoch`` (no
    deactivation, password change or reset since the token was minted), no password change
    is pending, and the PAT is theirs and still usable at ``moment`` (one query for both
    rows).

    :raises InvalidBearer: otherwise.
    """
    row = db.session.execute(
        db.select(User, PersonalAccessToken)
        .join(PersonalAccessToken, PersonalAccessToken.user_id == User.id)
        .where(User.id == user_id, PersonalAccessToken.id == pat_id)
    ).one_or_none()
    if row is None:
        raise InvalidBearer("invalid_token", "personal access token revoked or expired")
    user, pat = row
    if not user.active:
        raise InvalidBearer("invalid_token", "user unknown or inactive")
    if epoch != user.token_epoch:
        raise InvalidBearer("invalid_token", "token epoch moved (deactivated or new password)")
    if user.must_change_password:
        raise InvalidBearer("invalid_token", "password change required")
    if not pat.usable_at(moment):
        raise InvalidBearer("invalid_token", "personal access token revoked or expired")
    return user  # type: ignore[no-any-return]


def authenticate_bearer() -> User:
    """The user of the current request's bearer token.

    :raises InvalidBearer: no token, or a token that is not accepted.
    """
    token = _bearer()
    if token is None:
        raise InvalidBearer(None)
    return verify(token)


def unauthorized(exc: InvalidBearer) -> Any:
    """The 401 answer (RFC 6750 §3): generic message, reason in the server log only."""
    if exc.error is None:
        challenge = 'Bearer realm="stagegate"'
        message = "Authenticate with a bearer access token (POST /api/v1/token)."
    else:
        current_app.logger.info("bearer token refused on %s: %s", request.path, exc.reason)
        challenge = f'Bearer realm="stagegate", error="{exc.error}"'
        message = "The access token is invalid or expired."
    response = jsonify(error="unauthorized" if exc.error is None else exc.error,
                       message=message, details=None)
    response.status_code = 401
    response.headers["WWW-Authenticate"] = challenge
    response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    """Register the 401 handler and the token settings' defaults."""
    app.config.setdefault("TOKEN_ISSUER", "http://127.0.0.1:5000")
    app.register_error_handler(InvalidBearer, unauthorized)

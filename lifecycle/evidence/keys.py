"""Managed encryption keys of API versions: generate, rotate with a grace period, retire.

Each version may have encryption key pairs Stagegate generated for the JWE ``alg`` its spec
declares (``x-token-encryption.alg``) or an ``alg`` given explicitly:

==========================================  ============================================
``alg``                                     key
==========================================  ============================================
``RSA-OAEP-256``, ``RSA-OAEP``              RSA, 3072 bits (or 4096 on request)
``ECDH-ES``, ``ECDH-ES+A128KW`` / ``A192KW``  EC P-256 (or P-384 / P-521 on request)
/ ``A256KW``
==========================================  ============================================

``kid`` is the RFC 7638 SHA-256 thumbprint, ``use: enc``, ``alg`` set.  The private JWK is
sealed under the key-encryption key (:mod:`lifecycle.core.crypto_store`) before it reaches the
session; it is never returned, logged or exported (public members only leave this module,
except :func:`decryption_keys`, which hands jwcrypto keys to the token checker in memory).

Rotation: the new key becomes ``current``, the old one moves to ``grace`` until
``now + grace_seconds`` (0 ≤ grace ≤ ``KEY_MAX_GRACE_SECONDS``, default 90 days), after which
it is ``retired``.  Every event is a :class:`~lifecycle.evidence.models.KeyEvent`.  Functions take a
``now`` (aware UTC; default :func:`clock`) so tests move the clock instead of sleeping.
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app
from jwcrypto import jwk

from lifecycle import audit
from lifecycle.catalog.models import ApiVersion
from lifecycle.catalog.services import get_version
from lifecycle.catalog.token_profile import profile_of
from lifecycle.core import crypto_store
from lifecycle.core.actor import Actor
from lifecycle.core.clock import aware
from lifecycle.core.db import commit_or_conflict
from lifecycle.core.errors import Conflict, KeyStoreUnavailable, NotFound, ValidationFailed
from lifecycle.core.extensions import db
from lifecycle.core.lru import LruCache
from lifecycle.evidence.models import KeyEvent, ManagedKey

#: RSA-based JWE key management → allowed RSA sizes (first is the default)
RSA_ALGS = ("RSA-OAEP-256", "RSA-OAEP")
RSA_SIZES = (3072, 4096)
#: ECDH-ES-based JWE key management → allowed curves (first is the default)
ECDH_ALGS = ("ECDH-ES", "ECDH-ES+A128KW", "ECDH-ES+A192KW", "ECDH-ES+A256KW")
EC_CURVES = ("P-256", "P-384", "P-521")
#: unsealed private keys kept per process: at most this many, each for this many seconds
KEY_CACHE_SIZE = 64
KEY_CACHE_SECONDS = 300.0
#: default longest grace period (90 days), overridable with ``KEY_MAX_GRACE_SECONDS``
MAX_GRACE_SECONDS = 90 * 24 * 3600
MAX_ACTOR = 100


def _aad(version_id: int, kid: str) -> bytes:
    return f"stagegate-managed-key:{version_id}:{kid}".encode()


def _kek() -> bytes:
    try:
        return crypto_store.current_kek()
    except crypto_store.KeyStoreError as exc:
        raise KeyStoreUnavailable(f"Managed keys are unavailable: {exc.message}") from None


def max_grace_seconds() -> int:
    """The longest grace period accepted (``KEY_MAX_GRACE_SECONDS``, default 90 days)."""
    return int(current_app.config.get("KEY_MAX_GRACE_SECONDS", MAX_GRACE_SECONDS))


# ------------------------------------------------------------------------------ reads
def list_keys(version_obj: ApiVersion) -> list[ManagedKey]:
    """Every managed key of a version, newest first."""
    stmt = (db.select(ManagedKey).where(ManagedKey.version_id == version_obj.id)
            .order_by(ManagedKey.id.desc()))
    return list(db.session.execute(stmt).scalars())


def key_events(version_obj: ApiVersion) -> list[KeyEvent]:
    """Every key event of a version, oldest first."""
    stmt = (db.select(KeyEvent).where(KeyEvent.version_id == version_obj.id)
            .order_by(KeyEvent.id))
    return list(db.session.execute(stmt).scalars())


def current_key(version_obj: ApiVersion) -> ManagedKey | None:
    """The version's current key, or ``None`` before the first generation."""
    stmt = db.select(ManagedKey).where(ManagedKey.version_id == version_obj.id,
                                       ManagedKey.state == "current")
    return db.session.execute(stmt).scalar_one_or_none()


def usable_keys(version_obj: ApiVersion, now: datetime | None = None) -> list[ManagedKey]:
    """The keys that may decrypt at ``now``: the current one and those in grace, newest
    first."""
    moment = aware(now)
    return [k for k in list_keys(version_obj) if k.usable_at(moment)]


def public_jwks(version_obj: ApiVersion, now: datetime | None = None) -> dict[str, Any]:
    """The version's public encryption JWKS at ``now``: ``{"keys": [public JWK, ...]}`` of the
    current and in-grace keys (public members plus ``kid``, ``use``, ``alg`` only)."""
    return {"keys": [dict(k.public_jwk) for k in usable_keys(version_obj, now)]}


class _UnsealedKeys:
    """A bounded, short-lived, per-process cache of unsealed private keys (issue 10).

    Unsealing and parsing an RSA-3072 key costs 150–250 ms per token analysis; the
    cryptography itself about 1 ms.  Entries are keyed by ``(version id, kid)`` and remember
    a SHA-256 of the KEK they were opened with, so after a KEK change the key is opened
    again (and fails again when it no longer opens).  At most :data:`KEY_CACHE_SIZE` keys
    (least recently used evicted), each for :data:`KEY_CACHE_SECONDS` (monotonic clock);
    a version's entries are dropped when its keys are generated, rotated or retired.
    Which keys are usable is always decided by the database (:func:`usable_keys`), never
    by the cache.
    """

    def __init__(self, size: int, seconds: float) -> None:
        self._seconds = seconds
        self._entries: LruCache[tuple[int, str], tuple[bytes, float, jwk.JWK]] = \
            LruCache(size)

    def get(self, key: tuple[int, str], stamp: bytes) -> jwk.JWK | None:
        """The cached key when it was opened from the same sealed blob under the same KEK
        less than the lifetime ago; else ``None``."""
        now = time.monotonic()
        found = self._entries.get(key, lambda e: e[0] == stamp and e[1] > now)
        return None if found is None else found[2]

    def put(self, key: tuple[int, str], stamp: bytes, value: jwk.JWK) -> None:
        self._entries.put(key, (stamp, time.monotonic() + self._seconds, value))

    def forget_version(self, version_id: int) -> None:
        """Drop every cached key of a version (its keys changed)."""
        self._entries.discard_where(lambda k: k[0] == version_id)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


unsealed_keys = _UnsealedKeys(KEY_CACHE_SIZE, KEY_CACHE_SECONDS)


def _stamp(kek: bytes) -> bytes:
    """What a cached key was opened under: a key's sealed blob never changes while the KEK
    stays the same (re-sealing means a new KEK), so the KEK's digest suffices and the
    deferred ``sealed_private`` column is not even loaded on a hit."""
    return hashlib.sha256(kek).digest()


def decryption_keys(version_obj: ApiVersion, now: datetime | None = None) -> list[jwk.JWK]:
    """The private jwcrypto keys usable at ``now`` (opened with the KEK, in memory only;
    kept in the per-process :data:`unsealed_keys` cache for a few minutes).

    :raises KeyStoreUnavailable: the KEK is missing, malformed or not the one the keys were
        sealed under.
    """
    kek = None
    out = []
    for key in usable_keys(version_obj, now):
        kek = kek or _kek()
        stamp = _stamp(kek)
        cached = unsealed_keys.get((key.version_id, key.kid), stamp)
        if cached is not None:
            out.append(cached)
            continue
        opened = open_private_key(key.version_id, key.kid, key.sealed_private, kek)
        unsealed_keys.put((key.version_id, key.kid), stamp, opened)
        out.append(opened)
    return out


def export_for_gateway(name: str, version: str, actor: Actor,
                       now: datetime | None = None) -> str:
    """The private decryption JWKS (current and in-grace keys) for an NGINX Plus gateway
    (``auth_jwt_key_file``), audited as ``key.exported_for_gateway`` (kids only, never key
    material).  Only the admin-only CLI calls this; it is never offered over REST or in the
    browser.  The caller writes the text to a file of mode 0600 and commits.

    :returns: ``{"keys": [private JWK, ...]}`` as JSON text.
    :raises NotFound: no such version.  :raises Conflict: the version has no usable key.
    :raises KeyStoreUnavailable: the keys cannot be opened.
    """
    obj = get_version(name, version)
    private = decryption_keys(obj, now)
    if not private:
        raise Conflict("This version has no current or in-grace encryption key to export.")
    kids = [k.get("kid") for k in private]
    audit.record("key.exported_for_gateway", actor.label, audit.subject_of(obj),
                 {"kids": kids, "purpose": "nginx-plus auth_jwt_key_file"})
    text = json.dumps({"keys": [json.loads(k.export(private_key=True)) for k in private]})
    del private
    return text


def open_private_key(version_id: int, kid: str, sealed: bytes, kek: bytes) -> jwk.JWK:
    """The private jwcrypto key of one managed key row (``version_id``, ``kid``,
    ``sealed_private``), opened with ``kek`` (:func:`lifecycle.core.crypto_store.current_kek`)
    in memory only.  For callers that cache opened keys themselves (the gateway validator):
    loading an RSA-3072 private key costs 150–250 ms (the key is validated).

    :raises KeyStoreUnavailable: ``kek`` is not the one the key was sealed under, or the
        blob is malformed or bound to another row.
    """
    try:
        private = crypto_store.unseal(sealed, _aad(version_id, kid), kek)
    except crypto_store.KeyStoreError as exc:
        raise KeyStoreUnavailable(f"Managed key {kid} cannot be opened: "
                                  f"{exc.message}") from None
    return jwk.JWK.from_json(private)


def key_encryption_key(app: Flask) -> bytes:
    """The KEK of ``app`` (outside a request or app context).

    :raises KeyStoreUnavailable: missing or malformed.
    """
    try:
        return crypto_store.current_kek(app)
    except crypto_store.KeyStoreError as exc:
        raise KeyStoreUnavailable(f"Managed keys are unavailable: {exc.message}") from None


# ------------------------------------------------------------------------------ changes
def _key_spec(alg: str | None, crv: str | None, size: int | None,
              declared: str | None) -> tuple[str, dict[str, Any]]:
    """``(alg, jwcrypto generate() parameters)`` or :class:`ValidationFailed`."""
    alg = (alg or declared or "").strip()
    if not alg:
        raise ValidationFailed({"alg": "The current spec declares no `x-token-encryption.alg`; "
                                       "give the JWE key management algorithm explicitly "
                                       f"({', '.join(RSA_ALGS + ECDH_ALGS)})."})
    if alg in RSA_ALGS:
        if crv is not None:
            raise ValidationFailed({"crv": f"{alg} uses an RSA key; leave out `crv`."})
        size = RSA_SIZES[0] if size is None else size
        if size not in RSA_SIZES:
            raise ValidationFailed({"size": f"RSA keys have {' or '.join(map(str, RSA_SIZES))} "
                                            "bits."})
        return alg, {"kty": "RSA", "size": size}
    if alg in ECDH_ALGS:
        if size is not None:
            raise ValidationFailed({"size": f"{alg} uses an EC key; give `crv`, not `size`."})
        crv = crv or EC_CURVES[0]
        if crv not in EC_CURVES:
            raise ValidationFailed({"crv": f"Use one of {', '.join(EC_CURVES)}."})
        return alg, {"kty": "EC", "crv": crv}
    raise ValidationFailed({"alg": f"Stagegate generates keys only for "
                                   f"{', '.join(RSA_ALGS + ECDH_ALGS)}, not {alg[:40]!r}."})


def _new_key(version_obj: ApiVersion, alg: str, params: dict[str, Any], kek: bytes,
             now: datetime) -> ManagedKey:
    pair = jwk.JWK.generate(**params, use="enc", alg=alg)
    kid = pair.thumbprint()
    pair["kid"] = kid
    public = pair.export_public(as_dict=True)
    private = pair.export_private()
    sealed = crypto_store.seal(private.encode(), _aad(version_obj.id, kid), kek)
    del private, pair
    return ManagedKey(
        version_id=version_obj.id, kid=kid, alg=alg, kty=params["kty"],
        crv=params.get("crv"), size=params.get("size"), public_jwk=public,
        sealed_private=sealed, state="current", created_at=now,
    )


def _event(key: ManagedKey, kind: str, actor: str, now: datetime,
           **details: Any) -> KeyEvent:
    return KeyEvent(version_id=key.version_id, key=key, kind=kind, actor=actor,
                    details=json.loads(json.dumps(details, default=str)), created_at=now)


def generate_key(name: str, version: str, *, alg: str | None = None, crv: str | None = None,
                 size: int | None = None, actor: Actor,
                 now: datetime | None = None) -> ManagedKey:
    """Generate the first encryption key pair of a version (it becomes ``current``).

    :param alg: JWE key management algorithm; default the spec's ``x-token-encryption.alg``.
    :param crv: EC curve for ``ECDH-ES*`` (default ``P-256``).
    :param size: RSA bits for ``RSA-OAEP*`` (default 3072).
    :raises NotFound: no such API or version.
    :raises ValidationFailed: no usable ``alg``, or a bad ``crv``/``size``.
    :raises Conflict: the version has a current key already (rotate it instead), or is
        retired.
    :raises KeyStoreUnavailable: the key-encryption key cannot be used.
    """
    obj = get_version(name, version)
    moment = aware(now)
    if obj.stage == "retirement":
        raise Conflict("The version is retired; it gets no new keys.")
    chosen, params = _key_spec(alg, crv, size, profile_of(obj).alg)
    if current_key(obj) is not None:
        raise Conflict("The version has a current key already; rotate it to replace it.")
    kek = _kek()
    key = _new_key(obj, chosen, params, kek, moment)
    db.session.add(key)
    who = actor.label[:MAX_ACTOR]
    db.session.add(_event(key, "generated", who, moment, alg=chosen, kid=key.kid))
    audit.record("key.generated", who, audit.subject_of(obj),
                 {"kid": key.kid, "alg": chosen})
    commit_or_conflict("Another request generated a key for this version at the same time; "
                       "reload.")
    unsealed_keys.forget_version(obj.id)
    return key


def rotate_key(name: str, version: str, grace_seconds: int, *, alg: str | None = None,
               crv: str | None = None, size: int | None = None, actor: Actor,
               now: datetime | None = None) -> ManagedKey:
    """Replace the current key with a new one; the old key decrypts for ``grace_seconds``
    more, then is retired (``grace_seconds == 0`` retires it at once).

    :param alg: default the spec's declared ``alg``, else the old key's.
    :returns: the new current key.
    :raises NotFound: no such API or version, or it has no key yet (generate one first).
    :raises ValidationFailed: ``grace_seconds`` is not an integer in
        ``0..KEY_MAX_GRACE_SECONDS``, or bad ``alg``/``crv``/``size``.
    :raises Conflict: a concurrent rotation won, or the version is retired.
    :raises KeyStoreUnavailable: the key-encryption key cannot be used.
    """
    obj = get_version(name, version)
    moment = aware(now)
    limit = max_grace_seconds()
    if not isinstance(grace_seconds, int) or isinstance(grace_seconds, bool) \
            or not 0 <= grace_seconds <= limit:
        raise ValidationFailed({"grace_seconds": f"Give whole seconds from 0 to {limit}."})
    if obj.stage == "retirement":
        raise Conflict("The version is retired; its keys can no longer change.")
    old = current_key(obj)
    if old is None:
        raise NotFound("The version has no current key to rotate; generate one first.")
    chosen, params = _key_spec(alg, crv, size, profile_of(obj).alg or old.alg)
    kek = _kek()
    who = actor.label[:MAX_ACTOR]
    retire_expired(obj, moment, actor=who, commit=False)
    until = moment + timedelta(seconds=grace_seconds)
    new_state = "grace" if grace_seconds else "retired"
    changed = db.session.execute(
        sa.update(ManagedKey)
        .where(ManagedKey.id == old.id, ManagedKey.state == "current")
        .values(state=new_state, grace_until=until,
                retired_at=None if grace_seconds else moment)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        db.session.rollback()
        raise Conflict("Another request rotated this version's key at the same time; reload.")
    key = _new_key(obj, chosen, params, kek, moment)
    db.session.add(key)
    db.session.add(_event(old, "rotated", who, moment, grace_until=until.isoformat(),
                          replaced_by=key.kid))
    if not grace_seconds:
        db.session.add(_event(old, "retired", who, moment, reason="rotated without grace"))
    db.session.add(_event(key, "generated", who, moment, alg=chosen, kid=key.kid,
                          replaces=old.kid))
    audit.record("key.rotated", who, audit.subject_of(obj),
                 {"kid": key.kid, "alg": chosen, "replaces": old.kid,
                  "grace_until": until.isoformat() if grace_seconds else None})
    commit_or_conflict("Another request rotated this version's key at the same time; "
                       "reload.")
    unsealed_keys.forget_version(obj.id)
    db.session.refresh(old)
    return key


def retire_expired(version_obj: ApiVersion, now: datetime | None = None, *,
                   actor: str = "stagegate", commit: bool = True) -> list[ManagedKey]:
    """Retire the keys whose grace period ended by ``now`` and record an ``expired`` event
    for each (once: the state change is conditional).

    :returns: the keys retired by this call.
    """
    moment = aware(now)
    retired = []
    for key in list_keys(version_obj):
        if key.state != "grace" or key.usable_at(moment):
            continue
        changed = db.session.execute(
            sa.update(ManagedKey)
            .where(ManagedKey.id == key.id, ManagedKey.state == "grace")
            .values(state="retired", retired_at=key.grace_until)
            .execution_options(synchronize_session=False)
        )
        if changed.rowcount == 1:  # type: ignore[attr-defined]
            db.session.add(_event(key, "expired", actor, moment,
                                  grace_until=key.grace_until.isoformat()
                                  if key.grace_until else None))
            audit.record("key.expired", actor, audit.subject_of(version_obj),
                         {"kid": key.kid, "grace_until": key.grace_until.isoformat()
                          if key.grace_until else None})
            retired.append(key)
    if commit:
        db.session.commit()
    if retired:
        unsealed_keys.forget_version(version_obj.id)
    for key in retired:
        db.session.refresh(key)
    return retired

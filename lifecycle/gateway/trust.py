"""What an API version trusts, read from the database for the token validator.

:class:`DbTrustResolver` is the :data:`~lifecycle.gateway.validator.TrustResolver` of the
validator service (:mod:`lifecycle.gateway.service`): for ``"<api>/<version>"`` (the
``X-Stagegate-Api-Version`` header the generated nginx configuration sets) it returns a
:class:`~lifecycle.gateway.validator.VersionTrust` with

* the version's managed private encryption keys usable now — ``current`` and ``grace``
  until ``grace_until`` (:class:`lifecycle.evidence.models.ManagedKey`), opened with the KEK
  (:func:`lifecycle.evidence.keys.open_private_key`);
* the newest issuer JWKS evidence (:class:`lifecycle.evidence.models.JwksEvidence`), as a
  read-only set of :func:`policies.keys.shared_public_key_set`;
* the declared token profile of the current spec revision (``x-token-encryption``), which
  also says whether the version's tokens are single use (``single-use: true``; the validator
  then checks each ``jti`` in the shared replay store — nothing else switches it on).

Two caches keep requests off the database and away from the key-encryption key:

* **resolutions** (``ttl`` seconds, default 2, per version, bounded:
  :class:`lifecycle.core.lru.LruCache`): a request costs no database round trip while its
  version's entry is fresh.  An entry never outlives the earliest ``grace_until`` of its
  keys, so a grace period ends on time.  Unknown versions are cached too (``None``).  A
  change (rotation, new JWKS, new spec) is seen at the next refresh: at most ``ttl``
  seconds late.
* **opened private keys** (per managed key row: id + ``kid``; bounded, ``key_ttl`` seconds,
  default 600): opening an RSA-3072 key costs 150–250 ms (the key is validated), so each
  is opened once per process and lifetime.  At every refresh the keys of that version that
  are no longer usable (rotated without grace, grace over, retired) are dropped from memory.

Thread-safe (gunicorn ``gthread`` workers): a reader of a fresh resolution takes only the
cache's short lock, never the refresh lock; one refresh (or invalidation) at a time, under
the resolver's lock, which also guards the opened keys.
Errors (database or KEK unavailable) propagate; the validator then denies
(``GW-VALIDATOR-ERROR``), it never serves a stale entry.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from jwcrypto import jwk  # type: ignore[import-untyped]

from lifecycle.catalog.models import (
    API_NAME_RE,
    VERSION_RE,
    Api,
    ApiVersion,
    SpecRevision,
    SpecUpload,
)
from lifecycle.core.lru import LruCache
from lifecycle.evidence.keys import open_private_key
from lifecycle.evidence.models import JwksEvidence, ManagedKey
from lifecycle.gateway.validator import VersionTrust
from policies.keys import shared_public_key_set
from policies.tokens import TokenProfile

__all__ = ["DbTrustResolver", "parse_version_label"]

#: default seconds a resolution is reused without asking the database
TRUST_TTL_SECONDS = 2.0
#: default seconds an opened private key is kept in memory
KEY_CACHE_SECONDS = 600.0


def parse_version_label(label: str) -> tuple[str, str] | None:
    """``("orders", "1.0.0")`` for ``"orders/1.0.0"``; ``None`` when either part is not a
    valid API name / version string (no database query is made for such a label)."""
    name, sep, version = label.partition("/")
    if not sep or not API_NAME_RE.fullmatch(name) or not VERSION_RE.fullmatch(version):
        return None
    return name, version


@dataclass(frozen=True, slots=True)
class _OpenKey:
    """An opened private key in the cache (in memory only)."""

    version_id: int
    kid: str
    key: jwk.JWK
    opened_at: float


@dataclass(frozen=True, slots=True)
class _Entry:
    """A cached resolution and what it was built from."""

    trust: VersionTrust | None
    fresh_until: float
    signature: tuple[Any, ...] = ()


class DbTrustResolver:
    """A :data:`~lifecycle.gateway.validator.TrustResolver` backed by the database (see the
    module docstring).

    :param engine: the SQLAlchemy engine of the Stagegate database (the Flask app's
        ``db.engine``); each refresh uses one pooled connection.
    :param kek: returns the key-encryption key (bytes), called only when a key must be
        opened; raises :class:`lifecycle.core.errors.KeyStoreUnavailable` when it cannot.
    :param clock: the app clock (aware UTC): decides which grace periods are over.
    :param ttl: seconds a resolution is reused (0: every call asks the database).
    :param key_ttl: seconds an opened private key is kept.
    :param max_versions: resolutions kept (LRU).
    :param max_keys: opened private keys kept (the longest open dropped first).
    :param monotonic: the clock of both lifetimes, seconds (tests advance it).
    :param opener: opens a sealed key row (:func:`lifecycle.evidence.keys.open_private_key`;
        tests count its calls).
    """

    def __init__(self, engine: sa.Engine, *, kek: Callable[[], bytes],
                 clock: Callable[[], datetime], ttl: float = TRUST_TTL_SECONDS,
                 key_ttl: float = KEY_CACHE_SECONDS,
                 max_versions: int = 1024, max_keys: int = 64,
                 monotonic: Callable[[], float] = time.monotonic,
                 opener: Callable[[int, str, bytes, bytes], jwk.JWK] = open_private_key) -> None:
        self._engine = engine
        self._kek = kek
        self._clock = clock
        self._ttl = max(0.0, float(ttl))
        self._key_ttl = max(0.0, float(key_ttl))
        self._max_keys = max(1, max_keys)
        self._monotonic = monotonic
        self._opener = opener
        self._entries: LruCache[str, _Entry] = LruCache(max(1, max_versions))
        # not an LruCache: every refresh prunes it by value (version, age), it is guarded by
        # the refresh lock with the rest of a refresh, and a lookup is not a use
        self._keys: OrderedDict[int, _OpenKey] = OrderedDict()
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ the resolver
    def __call__(self, label: str) -> VersionTrust | None:
        """The trust of ``label`` (``"<api>/<version>"``), or ``None`` for an unknown
        version or a malformed label.

        :raises Exception: database or key store failures (the validator denies).
        """
        entry = self._entries.get(label)
        if entry is not None and self._monotonic() < entry.fresh_until:
            return entry.trust
        with self._lock:
            entry = self._entries.get(label)
            if entry is not None and self._monotonic() < entry.fresh_until:
                return entry.trust
            entry = self._refresh(label, entry)
            self._entries.put(label, entry)
            return entry.trust

    def invalidate(self, label: str | None = None) -> None:
        """Forget the resolution of ``label`` (all when ``None``); opened keys stay until
        the next refresh of their version says they are no longer usable."""
        with self._lock:
            if label is None:
                self._entries.clear()
            else:
                self._entries.discard(label)

    def opened_kids(self) -> frozenset[str]:
        """The ``kid`` of every private key held in memory now (for tests and metrics)."""
        return frozenset(k.kid for k in list(self._keys.values()))

    # ------------------------------------------------------------------ refresh
    def _refresh(self, label: str, previous: _Entry | None) -> _Entry:
        started = self._monotonic()
        parsed = parse_version_label(label)
        if parsed is None:
            return _Entry(None, started + self._ttl)
        name, number = parsed
        now = self._clock()
        with self._engine.connect() as conn:
            found = conn.execute(_VERSION_QUERY, {"name": name, "version": number}).first()
            if found is None:
                return _Entry(None, started + self._ttl)
            version_id, extension = found
            rows = conn.execute(_KEYS_QUERY, {"version_id": version_id}).all()
            usable = [(key_id, kid, until) for key_id, kid, state, until in rows
                      if state == "current" or (until is not None and now < until)]
            jwks_row = conn.execute(_JWKS_QUERY, {"version_id": version_id}).first()
            self._drop_keys(version_id, {key_id for key_id, _, _ in usable}, started)
            missing = [key_id for key_id, _, _ in usable if key_id not in self._keys]
            if missing:
                self._open(conn, missing)
        profile = TokenProfile.from_extension(extension if isinstance(extension, Mapping)
                                              else None)
        jwks_id = jwks_row[0] if jwks_row is not None else None
        # the same keys (opened at the same time), JWKS, profile: the same trust object
        signature = (tuple((k, self._keys[k].opened_at) for k, _, _ in usable), jwks_id,
                     profile)
        fresh_until = started + self._ttl
        for _, _, until in usable:  # a grace period ends on time, not up to ttl late
            if until is not None:
                fresh_until = min(fresh_until, started + (until - now).total_seconds())
        if previous is not None and previous.trust is not None \
                and previous.signature == signature:
            return _Entry(previous.trust, fresh_until, signature)
        decryption = jwk.JWKSet()
        for key_id, _, _ in usable:
            decryption.add(self._keys[key_id].key)
        issuer = shared_public_key_set(jwks_row[1]) if jwks_row is not None \
            and isinstance(jwks_row[1], Mapping) else jwk.JWKSet()
        trust = VersionTrust(version=label, profile=profile, decryption_keys=decryption,
                             issuer_jwks=issuer)
        return _Entry(trust, fresh_until, signature)

    def _drop_keys(self, version_id: int, usable: set[int], now: float) -> None:
        """Forget opened keys of ``version_id`` that are no longer usable, and every key
        older than ``key_ttl``."""
        for key_id, opened in list(self._keys.items()):
            if (opened.version_id == version_id and key_id not in usable) \
                    or now - opened.opened_at >= self._key_ttl:
                del self._keys[key_id]

    def _open(self, conn: sa.Connection, key_ids: list[int]) -> None:
        """Open the sealed private keys ``key_ids`` (one query) and keep them."""
        kek = self._kek()
        rows = conn.execute(_SEALED_QUERY, {"ids": key_ids}).all()
        for key_id, version_id, kid, sealed in rows:
            key = self._opener(version_id, kid, bytes(sealed), kek)
            key.get_op_key("unwrapKey")  # load (and validate) the key now, not per request
            self._keys[key_id] = _OpenKey(version_id, kid, key, self._monotonic())
            self._keys.move_to_end(key_id)
        while len(self._keys) > self._max_keys:
            self._keys.popitem(last=False)


# ---------------------------------------------------------------------- the queries
_api, _version = Api.__table__, ApiVersion.__table__
_upload, _revision = SpecUpload.__table__, SpecRevision.__table__
_key, _jwks = ManagedKey.__table__, JwksEvidence.__table__

#: the version's id and its current revision's ``x-token-encryption`` (newest upload)
_newest_upload = (sa.select(_upload.c.revision_id)
                  .where(_upload.c.version_id == _version.c.id)
                  .order_by(_upload.c.id.desc()).limit(1).scalar_subquery())
_VERSION_QUERY = (
    sa.select(_version.c.id, _revision.c.token_profile)
    .select_from(_version.join(_api, _api.c.id == _version.c.api_id)
                 .outerjoin(_revision, _revision.c.id == _newest_upload))
    .where(_api.c.name == sa.bindparam("name"), _version.c.version == sa.bindparam("version"))
)
#: the version's keys that may still decrypt (the grace end is judged with the app clock)
_KEYS_QUERY = (
    sa.select(_key.c.id, _key.c.kid, _key.c.state, _key.c.grace_until)
    .where(_key.c.version_id == sa.bindparam("version_id"),
           _key.c.state.in_(("current", "grace")))
    .order_by(_key.c.id.desc())
)
_SEALED_QUERY = (
    sa.select(_key.c.id, _key.c.version_id, _key.c.kid, _key.c.sealed_private)
    .where(_key.c.id.in_(sa.bindparam("ids", expanding=True)))
)
#: the newest issuer JWKS evidence (append-only: its id identifies its content)
_JWKS_QUERY = (
    sa.select(_jwks.c.id, _jwks.c.jwks)
    .where(_jwks.c.version_id == sa.bindparam("version_id"))
    .order_by(_jwks.c.id.desc()).limit(1)
)

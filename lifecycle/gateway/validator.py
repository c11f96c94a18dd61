"""The token validator: a plain-WSGI app answering nginx ``auth_request`` subrequests.

Open-source nginx cannot decrypt a nested JWT (JWS inside JWE), so the generated gateway
sends every API request through ``auth_request`` to this app (``docs/jwt-policy.md`` §4.2,
``GATEWAY-INTERFACES.md``).  Per subrequest it

1. refuses credentials outside the ``Authorization`` header (a credential-looking query
   parameter in ``X-Original-URI`` or a token cookie: TRN-NO-TOKEN-IN-URL, TRN-BEARER-HEADER),
2. takes the token strictly from exactly one ``Authorization: Bearer <token>`` header
   (RFC 6750 §2.1; a WSGI server joins repeated headers with ``,``, so a comma or whitespace
   in the token means two headers: TRN-BEARER-HEADER; a lowercase ``bearer`` is refused too —
   a policy choice),
3. resolves the version's :class:`VersionTrust` from ``X-Stagegate-Api-Version``,
4. runs :func:`policies.tokens.check_token` (decryption keys current + in grace, issuer JWKS,
   profile, the injected clock, leeway, replay through the :class:`ReplayStore` when the
   version demands single use) — or takes a cached earlier verification of the same token,
5. answers ``204`` with the verified identity in ``X-Stagegate-*`` headers, or ``401`` with
   ``WWW-Authenticate: Bearer realm="stagegate", error="invalid_token"`` (RFC 6750 §3; no
   ``error`` when no credentials were sent, §3.1) and ``X-Stagegate-Deny: <rule id>``,
6. records the decision through the :class:`DecisionSink` — never the token.

It never raises: an internal error is a deny with :data:`RULE_ERROR` (fail closed; nginx
would turn a 500 into a 500 for the client, so every failure is a ``401``).  No state that
several processes must share lives in memory: replay state is in the :class:`ReplayStore`
(:class:`RedisReplayStore` for several processes); the verification cache is per process and
only ever shortens work, never grants what ``check_token`` would refuse (RFC 8725 §3.10:
the cache re-checks ``exp``, the key ids and the replay store on every hit).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import parse_qsl, quote
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

import redis
from jwcrypto.jwk import JWKSet  # type: ignore[import-untyped]

from policies.findings import Finding
from policies.rules import Severity
from policies.tokens import TokenAnalysis, TokenProfile, check_token, replay_key

log = logging.getLogger("stagegate.gateway.validator")

#: deny: no ``X-Stagegate-Api-Version`` header, or a version the resolver does not know
RULE_UNKNOWN_VERSION = "GW-UNKNOWN-VERSION"
#: deny: no credentials at all (RFC 6750 §3.1: the challenge then carries no ``error``)
RULE_NO_TOKEN = "GW-NO-TOKEN"
#: deny: the validator failed internally (resolver, replay store, sink, a bug): fail closed
RULE_ERROR = "GW-VALIDATOR-ERROR"
#: deny: a token in the query string of ``X-Original-URI`` (RFC 6750 §2.3, RFC 9700 §4.3.2)
RULE_TOKEN_IN_URL = "TRN-NO-TOKEN-IN-URL"
#: deny: not exactly one ``Authorization: Bearer <token>`` header, or a token cookie
RULE_BEARER_HEADER = "TRN-BEARER-HEADER"
#: deny: a cached verification whose ``exp`` has passed
RULE_EXPIRED = "CLM-EXP"
#: deny: a single-use token presented again
RULE_REPLAY = "CLM-JTI"
#: deny: the token names a decryption or issuer key the version no longer trusts
RULE_KEY_GONE = "JWE-KEY-BOUND"

#: rule ids the validator defines itself (the others are catalog ids of ``policies.rules``)
VALIDATOR_RULE_IDS: tuple[str, ...] = (RULE_UNKNOWN_VERSION, RULE_NO_TOKEN, RULE_ERROR)

#: query parameter and cookie names that carry credentials (TRN-NO-TOKEN-IN-URL)
CREDENTIAL_NAMES = frozenset({"access_token", "token", "jwt", "id_token", "auth", "bearer",
                              "authorization", "access-token"})
#: a comma (two headers joined by the WSGI server) or any whitespace inside the credentials
_SEPARATOR = re.compile(r"[\s,]")
#: runs of base64url characters and dots (no nested quantifier: linear time on any input)
_B64_RUN = re.compile(r"[A-Za-z0-9_.-]+")
#: characters an identity value may carry as-is in a response header; others are
#: percent-encoded (UTF-8, RFC 3986 §2.1), so no CR/LF or non-Latin-1 reaches nginx
_HEADER_SAFE = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) != "%")

_CHALLENGE_NO_TOKEN = 'Bearer realm="stagegate"'
_CHALLENGE_INVALID = 'Bearer realm="stagegate", error="invalid_token"'
_MAX_TEXT = 256  # longest version / client address kept in a decision, characters
FINGERPRINT_HEX = 16  # hex digits of SHA-256 kept as the token fingerprint


@dataclass(frozen=True, slots=True)
class VersionTrust:
    """What one API version trusts (resolved per request by a :data:`TrustResolver`).

    :ivar version: ``"<api>/<version>"``, as nginx sends it in ``X-Stagegate-Api-Version``.
    :ivar profile: the version's declared token profile.
    :ivar decryption_keys: the API's private encryption keys, current and in grace.
    :ivar issuer_jwks: the issuer's public signing keys.
    """

    version: str
    profile: TokenProfile
    decryption_keys: JWKSet
    issuer_jwks: JWKSet

    @property
    def single_use(self) -> bool:
        """The declared profile demands one use per ``jti`` (``single-use: true``): the
        replay store is consulted.  Taken from the profile only, never from a setting."""
        return self.profile.single_use


#: ``"<api>/<version>"`` -> the version's trust, or ``None`` when the version is unknown
TrustResolver = Callable[[str], VersionTrust | None]


class ReplayStore(Protocol):
    """Token ids seen, shared by every validator process.

    Keys are :func:`policies.tokens.replay_key` values (SHA-256 hex of ``iss`` NUL ``jti``):
    no token content is stored.
    """

    def first_use(self, key: str, expires_at: int) -> bool:
        """Remember ``key`` until ``expires_at`` (Unix seconds), atomically.

        :returns: ``True`` only the first time ``key`` is presented; ``False`` on a replay.
        :raises Exception: when the store is unreachable (the validator then denies).
        """
        ...


class MemoryReplayStore:
    """A :class:`ReplayStore` for one process (tests, the proof): a bounded, locked dict.

    :param clock: current time in Unix seconds, to forget expired ids (default
        :func:`time.time`; pass the validator's clock as ``lambda: clock().timestamp()``).
    :param max_entries: ids kept; when full, expired ids are dropped, then the soonest to
        expire.
    """

    def __init__(self, clock: Callable[[], float] = time.time,
                 max_entries: int = 100_000) -> None:
        self._clock = clock
        self._max = max_entries
        self._expiry: dict[str, int] = {}
        self._lock = threading.Lock()

    def first_use(self, key: str, expires_at: int) -> bool:
        """See :meth:`ReplayStore.first_use`."""
        now = int(self._clock())
        with self._lock:
            known = self._expiry.get(key)
            if known is not None and known > now:
                return False
            if len(self._expiry) >= self._max:
                self._expiry = {k: v for k, v in self._expiry.items() if v > now}
                if len(self._expiry) >= self._max:
                    del self._expiry[min(self._expiry, key=self._expiry.__getitem__)]
            self._expiry[key] = expires_at
            return True


class RedisReplayStore:
    """A :class:`ReplayStore` shared by several processes: ``SET <prefix><key> 1 NX EXAT
    <expires_at>`` (atomic; Redis forgets the id when the token expires).

    :param client: a ``redis.Redis`` connection (pool); its errors propagate (the validator
        denies with :data:`RULE_ERROR`).
    :param prefix: key prefix in Redis.
    """

    def __init__(self, client: redis.Redis, prefix: str = "stagegate:jti:") -> None:
        self._client = client
        self._prefix = prefix

    def first_use(self, key: str, expires_at: int) -> bool:
        """See :meth:`ReplayStore.first_use` (an ``expires_at`` in the past still stores
        the id for one second, so that a racing second use is refused)."""
        stored = self._client.set(self._prefix + key, b"1", nx=True,
                                  exat=max(int(expires_at), 1))
        return bool(stored)


@dataclass(frozen=True, slots=True)
class GatewayDecision:
    """One decision of the validator, as recorded by a :class:`DecisionSink`.

    Never the token: only its fingerprint.

    :ivar at: when the decision was made (the injected clock).
    :ivar version: the ``X-Stagegate-Api-Version`` value (at most 256 characters; ``""``
        when absent).
    :ivar allowed: ``True`` for a 204, ``False`` for a 401.
    :ivar rule_id: the deny rule id, ``None`` for an allow.
    :ivar fingerprint: the first 16 hex digits of the SHA-256 of the token, ``None`` when no
        token was sent.
    :ivar jti_hash: :func:`policies.tokens.replay_key` of (``iss``, ``jti``), when verified.
    :ivar sub: the verified ``sub`` claim.
    :ivar client_id: the verified ``client_id`` claim.
    :ivar kid: the outer (JWE) ``kid``: which API decryption key the token was encrypted to.
    :ivar iat: the verified ``iat``, Unix seconds.
    :ivar exp: the verified ``exp``, Unix seconds.
    :ivar client_address: ``X-Real-IP`` (else the peer address), at most 256 characters.
    """

    at: datetime
    version: str
    allowed: bool
    rule_id: str | None
    fingerprint: str | None
    jti_hash: str | None
    sub: str | None
    client_id: str | None
    kid: str | None
    iat: int | None
    exp: int | None
    client_address: str | None


class DecisionSink(Protocol):
    """Receives every decision (an event table, a log, a queue)."""

    def record(self, decision: GatewayDecision) -> None:
        """Store or forward one decision.

        :raises Exception: on failure; the validator then denies (fail closed).
        """
        ...


class ListSink:
    """A :class:`DecisionSink` keeping decisions in a list (tests, the proof)."""

    def __init__(self) -> None:
        self.decisions: list[GatewayDecision] = []
        self._lock = threading.Lock()

    def record(self, decision: GatewayDecision) -> None:
        """Append ``decision``."""
        with self._lock:
            self.decisions.append(decision)


@dataclass(frozen=True, slots=True)
class _Verified:
    """What is cached of a verified token (never the token): the identity and what a cache
    hit must re-check."""

    profile: TokenProfile
    outer_kid: str
    inner_kid: str
    sub: str
    client_id: str
    jti_hash: str
    iat: int | None
    exp: int


class _Identity:
    """Receives the verified claims from :func:`check_token` (``on_verified``)."""

    __slots__ = ("claims",)

    def __init__(self) -> None:
        self.claims: Mapping[str, Any] | None = None

    def __call__(self, claims: Mapping[str, Any]) -> None:
        self.claims = claims


class _StoreAsCache:
    """Adapts a :class:`ReplayStore` to ``policies.tokens.ReplayCache`` (an id is kept until
    ``exp`` + leeway: the validator accepts the token that long)."""

    __slots__ = ("store", "leeway", "key", "failed")

    def __init__(self, store: ReplayStore, leeway: int) -> None:
        self.store = store
        self.leeway = leeway
        self.key: str | None = None
        self.failed = False

    def check_and_store(self, key: str, expires_at: int, now: int) -> bool:
        self.key = key
        try:
            return self.store.first_use(key, expires_at + self.leeway)
        except Exception:
            self.failed = True  # the checker turns it into an error finding; we deny as ours
            raise


class _LRU:
    """A bounded, thread-safe LRU of verified tokens keyed by (version, SHA-256 hex); size
    0 keeps nothing.  Not :class:`lifecycle.core.lru.LruCache`: the offline ``stagegate
    gateway`` commands import this module, and they import nothing of ``lifecycle`` outside
    ``lifecycle.gateway`` (``tests/gateway/test_gateway_cli.py``)."""

    def __init__(self, size: int) -> None:
        self._size = max(0, size)
        self._items: OrderedDict[tuple[str, str], _Verified] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> _Verified | None:
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
            return item

    def put(self, key: tuple[str, str], item: _Verified) -> None:
        if self._size == 0:
            return
        with self._lock:
            self._items[key] = item
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def drop(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._items.pop(key, None)


class _Outcome:
    """One decision in the making."""

    __slots__ = ("rule", "fingerprint", "verified", "credentials")

    def __init__(self) -> None:
        self.rule: str | None = RULE_ERROR
        self.fingerprint: str | None = None
        self.verified: _Verified | None = None
        self.credentials = False


def _header_value(value: str) -> str:
    return value if all(c in _HEADER_SAFE for c in value) else quote(value, safe=_HEADER_SAFE)


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _has_kid(keys: JWKSet, kid: str) -> bool:
    return any(k.get("kid") == kid for k in keys["keys"])


def _jose_shaped(text: str) -> bool:
    """``True`` when ``text`` holds a run of base64url characters and dots that contains
    ``eyJ`` (a base64url JSON object) and at least two dots (a compact JWS or JWE).  Linear
    in ``len(text)`` (a backtracking pattern here took 1.4 s on a 9 KB URI)."""
    return any("eyJ" in run and run.count(".") >= 2 for run in _B64_RUN.findall(text))


def credential_in_uri(uri: str) -> bool:
    """``True`` when ``uri``'s query string carries a credential: a parameter named like one
    (:data:`CREDENTIAL_NAMES`, case-insensitive) or a JWT/JWE-shaped value (TRN-NO-TOKEN-IN-URL).
    """
    _, _, query = uri.partition("?")
    if not query:
        return False
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name.strip().lower() in CREDENTIAL_NAMES or _jose_shaped(value):
            return True
    return _jose_shaped(query)


def credential_in_cookie(cookie: str) -> bool:
    """``True`` when a ``Cookie`` header carries a token: a cookie named like a credential, or
    a value shaped like a compact JWE (5 segments; a 3-segment value may be another
    application's signed session cookie and is let through)."""
    for part in cookie.split(";"):
        name, _, value = part.strip().partition("=")
        if name.strip().lower() in CREDENTIAL_NAMES:
            return True
        if value.startswith("eyJ") and value.count(".") == 4:
            return True
    return False


def _deny_rule(analysis: TokenAnalysis) -> str:
    """The rule a failed analysis is denied for: the first blocking finding above ``low``
    (check order), else the first blocking one, else the first rule not evaluated."""
    blocking: list[Finding] = analysis.failing()
    for finding in blocking:
        if finding.severity.rank > Severity.LOW.rank:
            return finding.rule_id
    if blocking:
        return blocking[0].rule_id
    return analysis.not_evaluated[0] if analysis.not_evaluated else RULE_ERROR


class _Validator:
    """The WSGI callable made by :func:`make_validator_app`."""

    def __init__(self, resolve: TrustResolver, clock: Callable[[], datetime],
                 replay: ReplayStore, sink: DecisionSink, cache_size: int, leeway: int,
                 check: Callable[..., TokenAnalysis]) -> None:
        self.resolve = resolve
        self.clock = clock
        self.replay = replay
        self.sink = sink
        self.cache = _LRU(cache_size)
        self.leeway = max(0, min(int(leeway), 60))
        self.check = check

    # ------------------------------------------------------------------ WSGI entry
    def __call__(self, environ: WSGIEnvironment,
                 start_response: StartResponse) -> Iterable[bytes]:
        try:
            if environ.get("PATH_INFO") == "/healthz" and environ.get("REQUEST_METHOD") in (
                    "GET", "HEAD"):
                start_response("200 OK", [("Content-Type", "text/plain"),
                                          ("Content-Length", "2")])
                return [b"ok"]
        except Exception:  # noqa: BLE001 - never raise to the server
            pass
        return self._decide(environ, start_response)

    def _decide(self, environ: WSGIEnvironment,
                start_response: StartResponse) -> Iterable[bytes]:
        outcome = _Outcome()
        at: datetime | None = None
        version = ""
        address: str | None = None
        try:
            at = self.clock()
            version = str(environ.get("HTTP_X_STAGEGATE_API_VERSION", ""))[:_MAX_TEXT]
            raw_address = environ.get("HTTP_X_REAL_IP") or environ.get("REMOTE_ADDR")
            address = str(raw_address)[:_MAX_TEXT] if raw_address else None
            self._evaluate(environ, version, int(at.timestamp()), outcome)
        except Exception as exc:  # noqa: BLE001 - fail closed, log the type only
            log.error("validator error (%s); denying", type(exc).__name__)
            outcome.rule = RULE_ERROR
            outcome.verified = None
        if at is None:
            at = datetime.now().astimezone()
        try:
            self.sink.record(self._event(at, version, outcome, address))
        except Exception as exc:  # noqa: BLE001 - an unrecorded allow is not given
            log.error("decision sink failed (%s); denying", type(exc).__name__)
            if outcome.rule is None:
                outcome.rule = RULE_ERROR
                outcome.verified = None
                # the deny is given whether or not it can be recorded
                with contextlib.suppress(Exception):
                    self.sink.record(self._event(at, version, outcome, address))
        return self._respond(outcome, start_response)

    # ------------------------------------------------------------------ the checks
    def _evaluate(self, environ: WSGIEnvironment, version: str, now: int,
                  outcome: _Outcome) -> None:
        uri = environ.get("HTTP_X_ORIGINAL_URI")
        if isinstance(uri, str) and credential_in_uri(uri):
            outcome.rule, outcome.credentials = RULE_TOKEN_IN_URL, True
            return
        cookie = environ.get("HTTP_COOKIE")
        cookie_token = isinstance(cookie, str) and credential_in_cookie(cookie)
        header = environ.get("HTTP_AUTHORIZATION")
        if cookie_token:
            outcome.rule, outcome.credentials = RULE_BEARER_HEADER, True
            if isinstance(header, str):
                outcome.fingerprint = self._fingerprint(header.partition(" ")[2])
            return
        if header is None or header == "":
            outcome.rule = RULE_NO_TOKEN
            return
        outcome.credentials = True
        if not isinstance(header, str):
            outcome.rule = RULE_BEARER_HEADER
            return
        scheme, _, token = header.partition(" ")
        digest = hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
        if token:
            outcome.fingerprint = digest[:FINGERPRINT_HEX]
        if scheme != "Bearer" or not token or _SEPARATOR.search(token):
            outcome.rule = RULE_BEARER_HEADER
            return
        trust = self.resolve(version) if version else None
        if trust is None:
            outcome.rule = RULE_UNKNOWN_VERSION
            return
        key = (version, digest)
        cached = self.cache.get(key)
        if cached is not None:
            self._from_cache(cached, key, trust, now, outcome)
        else:
            self._verify(token, key, trust, now, outcome)

    def _from_cache(self, cached: _Verified, key: tuple[str, str], trust: VersionTrust,
                    now: int, outcome: _Outcome) -> None:
        if (cached.profile != trust.profile or not _has_kid(trust.decryption_keys,
                                                            cached.outer_kid)
                or not _has_kid(trust.issuer_jwks, cached.inner_kid)):
            self.cache.drop(key)
            outcome.rule = RULE_KEY_GONE
            return
        if now >= cached.exp + self.leeway:
            self.cache.drop(key)
            outcome.rule = RULE_EXPIRED
            return
        if trust.single_use and not self.replay.first_use(cached.jti_hash,
                                                            cached.exp + self.leeway):
            outcome.rule = RULE_REPLAY
            return
        outcome.rule, outcome.verified = None, cached

    def _verify(self, token: str, key: tuple[str, str], trust: VersionTrust, now: int,
                outcome: _Outcome) -> None:
        identity = _Identity()
        adapter = _StoreAsCache(self.replay, self.leeway) if trust.single_use else None
        analysis = self.check(token, decryption_keys=trust.decryption_keys,
                              issuer_jwks=trust.issuer_jwks, profile=trust.profile, now=now,
                              leeway=self.leeway, replay_cache=adapter,
                              on_verified=identity)
        if adapter is not None and adapter.failed:
            log.error("replay store failed; denying")
            outcome.rule = RULE_ERROR
            return
        if not analysis.passed:
            outcome.rule = _deny_rule(analysis)
            return
        claims, outer, inner = identity.claims, analysis.outer_header, analysis.inner_header
        if claims is None or outer is None or inner is None:
            outcome.rule = RULE_ERROR
            return
        exp = claims["exp"]
        iss = claims.get("iss")
        verified = _Verified(
            profile=trust.profile, outer_kid=str(outer["kid"]), inner_kid=str(inner["kid"]),
            sub=str(claims["sub"]), client_id=str(claims["client_id"]),
            jti_hash=adapter.key if adapter is not None and adapter.key else replay_key(
                iss if isinstance(iss, str) else "", str(claims["jti"])),
            iat=_int_or_none(claims.get("iat")), exp=int(exp))
        self.cache.put(key, verified)
        outcome.rule, outcome.verified = None, verified

    # ------------------------------------------------------------------ output
    @staticmethod
    def _fingerprint(token: str) -> str:
        data = token.encode("utf-8", "surrogatepass")
        return hashlib.sha256(data).hexdigest()[:FINGERPRINT_HEX]

    @staticmethod
    def _event(at: datetime, version: str, outcome: _Outcome,
               address: str | None) -> GatewayDecision:
        v = outcome.verified if outcome.rule is None else None
        return GatewayDecision(
            at=at, version=version, allowed=outcome.rule is None, rule_id=outcome.rule,
            fingerprint=outcome.fingerprint, jti_hash=v.jti_hash if v else None,
            sub=v.sub if v else None, client_id=v.client_id if v else None,
            kid=v.outer_kid if v else None, iat=v.iat if v else None,
            exp=v.exp if v else None, client_address=address)

    @staticmethod
    def _respond(outcome: _Outcome, start_response: StartResponse) -> Iterable[bytes]:
        verified = outcome.verified
        if outcome.rule is None and verified is not None:
            headers = [
                ("X-Stagegate-Decision", "allow"),
                ("X-Stagegate-Sub", _header_value(verified.sub)),
                ("X-Stagegate-Client-Id", _header_value(verified.client_id)),
                ("X-Stagegate-Jti-Hash", verified.jti_hash),
                ("X-Stagegate-Exp", str(verified.exp)),
                ("X-Stagegate-Kid", _header_value(verified.outer_kid)),
                ("X-Stagegate-Token-Fp", outcome.fingerprint or ""),
                ("Cache-Control", "no-store"),
            ]
            start_response("204 No Content", headers)
            return []
        challenge = _CHALLENGE_INVALID if outcome.credentials else _CHALLENGE_NO_TOKEN
        headers = [
            ("WWW-Authenticate", challenge),
            ("X-Stagegate-Decision", "deny"),
            ("X-Stagegate-Deny", outcome.rule or RULE_ERROR),
            ("Cache-Control", "no-store"),
            ("Content-Length", "0"),
        ]
        if outcome.fingerprint:
            headers.append(("X-Stagegate-Token-Fp", outcome.fingerprint))
        start_response("401 Unauthorized", headers)
        return []


def make_validator_app(resolve: TrustResolver, *, clock: Callable[[], datetime],
                       replay: ReplayStore, sink: DecisionSink,
                       cache_size: int = 10_000, leeway: int = 60,
                       check: Callable[..., TokenAnalysis] = check_token) -> WSGIApplication:
    """The validator as a WSGI application (serve it with gunicorn on a unix socket or a
    loopback port; nginx ``auth_request`` points at it).

    :param resolve: ``"<api>/<version>"`` -> :class:`VersionTrust` or ``None`` (unknown:
        deny :data:`RULE_UNKNOWN_VERSION`); called once per request, so it should be cheap
        (cache unsealed keys per ``kid`` in it).  An exception denies with :data:`RULE_ERROR`.
    :param clock: the current time (timezone-aware ``datetime``); judges ``exp``/``nbf``/
        ``iat`` and stamps decisions.
    :param replay: the shared :class:`ReplayStore`, used only for versions whose trust says
        ``single_use``.
    :param sink: receives one :class:`GatewayDecision` per subrequest; when it raises, an
        allow becomes a deny (:data:`RULE_ERROR`).
    :param cache_size: verified tokens kept per process (LRU keyed by version and the token's
        SHA-256; ``0`` disables the cache).  A hit re-checks ``exp`` against ``clock``, that
        both ``kid`` are still trusted, the profile, and the replay store for single use.
    :param leeway: clock leeway, seconds, clamped to 0–60.
    :param check: the token checker (:func:`policies.tokens.check_token`; injectable for tests
        that count calls).
    :returns: a WSGI app answering ``GET /healthz`` with ``200 ok`` and every other request as
        an ``auth_request`` subrequest: ``204`` (allow) or ``401`` (deny) — never anything
        else, never an exception.
    """
    return _Validator(resolve, clock, replay, sink, cache_size, leeway, check)

"""Helpers for the gateway tests: profiles, a settable clock, keys, raw WSGI calls."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from lifecycle.gateway.attacks import ProofKeys, TokenForge
from lifecycle.gateway.validator import ReplayStore, VersionTrust
from policies.tokens import TokenProfile

VERSION = "payments/1.4.0"
ISSUER = "https://as.example"
AUDIENCE = "https://api.example/payments"


def make_profile(alg: str = "ECDH-ES+A256KW", signing_alg: str = "ES256") -> TokenProfile:
    return TokenProfile.from_extension({
        "alg": alg, "enc": "A256GCM", "signing-alg": signing_alg, "issuer": ISSUER,
        "audience": AUDIENCE, "max-lifetime": 900})


class Clock:
    """A settable clock (Unix seconds)."""

    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return datetime.fromtimestamp(self.now, UTC)

    def seconds(self) -> float:
        return float(self.now)


@dataclass
class Setup:
    profile: TokenProfile
    keys: ProofKeys
    now: int

    def forge(self, now: int | None = None) -> TokenForge:
        return TokenForge(self.profile, self.keys, self.now if now is None else now)

    def trust(self, single_use: bool = False) -> VersionTrust:
        return self.keys.trust(VERSION, replace(self.profile, single_use=single_use))

    def resolver(self, single_use: bool = False) -> Callable[[str], VersionTrust | None]:
        trust = self.trust(single_use)
        return lambda version: trust if version == VERSION else None


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""
    calls: int = field(default=0)

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


def environ(authorization: str | None = None, *, version: str | None = VERSION,
            uri: str = "/api/payments", cookie: str | None = None,
            real_ip: str | None = "203.0.113.7", **extra: Any) -> dict[str, Any]:
    """A raw WSGI environ of an nginx ``auth_request`` subrequest."""
    env: dict[str, Any] = {"REQUEST_METHOD": "GET", "PATH_INFO": "/check",
                           "SERVER_NAME": "validator", "SERVER_PORT": "80",
                           "REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http",
                           "HTTP_X_ORIGINAL_URI": uri}
    if authorization is not None:
        env["HTTP_AUTHORIZATION"] = authorization
    if version is not None:
        env["HTTP_X_STAGEGATE_API_VERSION"] = version
    if cookie is not None:
        env["HTTP_COOKIE"] = cookie
    if real_ip is not None:
        env["HTTP_X_REAL_IP"] = real_ip
    env.update(extra)
    return env


def call(app: Callable[..., Iterable[bytes]], env: dict[str, Any]) -> Answer:
    """Call a WSGI app with ``env``; the status line must be given exactly once."""
    seen: list[tuple[str, list[tuple[str, str]]]] = []

    def start_response(status: str, headers: list[tuple[str, str]],
                       exc_info: Any = None) -> Callable[[bytes], object]:
        seen.append((status, headers))
        return lambda data: None

    body = b"".join(app(env, start_response))
    assert len(seen) == 1
    status, headers = seen[0]
    return Answer(int(status.split()[0]), headers, body)


def bearer(token: str) -> str:
    return f"Bearer {token}"


class CountingStore:
    """Wraps a ReplayStore and counts calls."""

    def __init__(self, store: ReplayStore) -> None:
        self.store = store
        self.calls = 0

    def first_use(self, key: str, expires_at: int) -> bool:
        self.calls += 1
        return self.store.first_use(key, expires_at)

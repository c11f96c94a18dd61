"""The token validator: a plain-WSGI app answering nginx ``auth_request`` subrequests.

Skeleton (interfaces of ``GATEWAY-INTERFACES.md``); implementation follows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from wsgiref.types import WSGIApplication

from jwcrypto.jwk import JWKSet

from policies.tokens import TokenProfile


@dataclass(frozen=True, slots=True)
class VersionTrust:
    """What one API version trusts."""

    version: str
    profile: TokenProfile
    decryption_keys: JWKSet
    issuer_jwks: JWKSet
    single_use: bool = False


TrustResolver = Callable[[str], VersionTrust | None]


class ReplayStore(Protocol):
    """Token ids seen, shared by every validator process."""

    def first_use(self, key: str, expires_at: int) -> bool:
        """Atomic; ``True`` only the first time ``key`` is presented before ``expires_at``."""
        ...


@dataclass(frozen=True, slots=True)
class GatewayDecision:
    """One decision of the validator (never the token)."""

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
    """Receives every decision."""

    def record(self, decision: GatewayDecision) -> None:
        """Store or forward one decision."""
        ...


def make_validator_app(resolve: TrustResolver, *, clock: Callable[[], datetime],
                       replay: ReplayStore, sink: DecisionSink,
                       cache_size: int = 10_000, leeway: int = 60) -> WSGIApplication:
    """The validator WSGI app (not implemented yet in this skeleton)."""
    raise NotImplementedError

"""The attack matrix for the gateway proof. Skeleton; implementation follows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from jwcrypto.jwk import JWK

from lifecycle.gateway.validator import VersionTrust
from policies.tokens import TokenProfile


@dataclass(frozen=True, slots=True)
class ProofKeys:
    """Ephemeral keys for one proof run, never stored."""

    issuer_signing: JWK
    encryption: JWK

    @classmethod
    def generate(cls, profile: TokenProfile) -> ProofKeys:
        """Fresh keys for the profile's algorithms."""
        raise NotImplementedError

    def trust(self, version: str, profile: TokenProfile, single_use: bool) -> VersionTrust:
        """The validator's trust for these keys."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class AttackCase:
    """One request of the proof."""

    id: str
    title: str
    rule: str
    expect: Literal["allow", "deny"]
    scheme: Literal["https", "http"] = "https"
    tls_version: Literal["TLSv1.1"] | None = None
    headers: tuple[tuple[str, str], ...] = ()
    query: str = ""
    second_client: bool = False


def build_attack_matrix(profile: TokenProfile, keys: ProofKeys, *, now: int,
                        single_use: bool) -> list[AttackCase]:
    """At least 24 cases."""
    raise NotImplementedError

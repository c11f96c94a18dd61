"""What a token is checked against: the API's declared profile and the checker's limits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from policies.algorithms import MAX_TOKEN_LIFETIME


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


@dataclass(frozen=True, slots=True)
class TokenProfile:
    """The encrypted-token profile an API version declares (DESIGN.md ``x-token-encryption``).

    Every field may be ``None`` (not declared); the rules that need a missing value report
    ``missing-evidence`` rather than pass.

    :ivar alg: JWE key-management algorithm of the outer header (``RSA-OAEP-256``).
    :ivar enc: JWE content encryption of the outer header (``A256GCM``).
    :ivar signing_alg: JWS algorithm of the inner header (``ES256``).
    :ivar issuer: exact expected ``iss``.
    :ivar audience: accepted ``aud`` values (a token must name at least one).
    :ivar max_lifetime: most seconds between ``iat`` and ``exp`` (capped at 3600 s).
    :ivar jwks_uri: where the issuer publishes its signing keys (informational here).
    :ivar sender_constrained: ``True`` when tokens must carry a ``cnf`` claim.
    :ivar single_use: ``True`` when each token may be used once (``single-use: true``): a
        gateway keeps every ``jti`` until ``exp`` in a store its processes share and refuses
        a second use (CLM-JTI), from any client.  Otherwise a bearer token is legitimately
        reused until it expires.
    """

    alg: str | None = None
    enc: str | None = None
    signing_alg: str | None = None
    issuer: str | None = None
    audience: tuple[str, ...] = ()
    max_lifetime: int | None = None
    jwks_uri: str | None = None
    sender_constrained: bool = False
    single_use: bool = False

    @classmethod
    def from_extension(cls, ext: Mapping[str, Any] | None) -> TokenProfile:
        """Read a spec's ``x-token-encryption`` mapping (keys ``alg``, ``enc``,
        ``signing-alg``, ``issuer``, ``audience`` (string or list), ``max-lifetime``
        (seconds), ``jwks-uri``, optional ``sender-constrained`` and ``single-use``
        (only the YAML/JSON ``true`` switches them on).

        Lenient by design: a missing or ill-typed value becomes ``None`` (the spec rule
        SPEC-TOKEN-PROFILE reports it); never raises.
        """
        if not isinstance(ext, Mapping):
            return cls()
        audience = ext.get("audience")
        values = audience if isinstance(audience, list) else [audience]
        lifetime = ext.get("max-lifetime")
        if not isinstance(lifetime, int) or isinstance(lifetime, bool) or lifetime <= 0:
            lifetime = None
        return cls(
            alg=_text(ext.get("alg")),
            enc=_text(ext.get("enc")),
            signing_alg=_text(ext.get("signing-alg")),
            issuer=_text(ext.get("issuer")),
            audience=tuple(v for v in map(_text, values) if v is not None),
            max_lifetime=lifetime,
            jwks_uri=_text(ext.get("jwks-uri")),
            sender_constrained=ext.get("sender-constrained") is True,
            single_use=ext.get("single-use") is True,
        )

    @property
    def effective_max_lifetime(self) -> int:
        """The profile's ``max_lifetime``, never above the policy maximum (3600 s)."""
        if self.max_lifetime is None:
            return MAX_TOKEN_LIFETIME
        return min(self.max_lifetime, MAX_TOKEN_LIFETIME)


@dataclass(frozen=True, slots=True)
class TokenLimits:
    """Resource limits of the checker (``docs/jwt-policy.md`` §6: policy choices).

    :ivar max_token_bytes: longest token accepted, checked before any decoding.
    :ivar max_plaintext_bytes: longest decrypted plaintext accepted.
    :ivar max_leeway: largest clock leeway accepted, seconds.
    """

    max_token_bytes: int = 8 * 1024
    max_plaintext_bytes: int = 64 * 1024
    max_leeway: int = 60

"""Algorithm allow lists for encrypted JWT access tokens (``docs/jwt-policy.md`` §1.3).

One table per header parameter: the JWE key-management ``alg`` (outer header), the JWE
content encryption ``enc`` (outer header) and the inner JWS ``alg``.  Values match exactly
and case-sensitively (RFC 8725bis §2.11, §3.1: allow lists, not block lists); anything not
listed is denied.  The spec rule ``SPEC-TOKEN-PROFILE`` checks the declared profile with
these tables, and the token checker checks real token headers with the same tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from policies.rules import Severity

#: policy maximum of ``exp - iat`` for access tokens, seconds (jwt-policy.md CLM-LIFETIME-MAX)
MAX_TOKEN_LIFETIME = 3600
#: recommended maximum for bearer tokens that are not sender-constrained, seconds
RECOMMENDED_TOKEN_LIFETIME = 900


class Verdict(StrEnum):
    """What the policy says about one algorithm value."""

    ALLOW = "allow"
    WARN = "warn"  # allowed, but a better choice exists (reported at low severity)
    CONDITIONAL = "conditional"  # only for special deployments (reported at ``severity``)
    DENY = "deny"


@dataclass(frozen=True, slots=True)
class AlgorithmPolicy:
    """The policy for one value: ``verdict``, the ``severity`` of a finding when the verdict
    is not ``allow``, and the ``reason`` shown to a person."""

    verdict: Verdict
    severity: Severity | None
    reason: str

    @property
    def allowed(self) -> bool:
        """True for ``allow`` and ``warn`` (the value may be used)."""
        return self.verdict in (Verdict.ALLOW, Verdict.WARN)


def _allow(reason: str) -> AlgorithmPolicy:
    return AlgorithmPolicy(Verdict.ALLOW, None, reason)


def _warn(reason: str) -> AlgorithmPolicy:
    return AlgorithmPolicy(Verdict.WARN, Severity.LOW, reason)


def _table(entries: dict[str, AlgorithmPolicy]) -> Mapping[str, AlgorithmPolicy]:
    return MappingProxyType(entries)


_SYMMETRIC = AlgorithmPolicy(
    Verdict.CONDITIONAL, Severity.MEDIUM,
    "needs a secret shared between issuer and gateway; only for single-party deployments "
    "(RFC 7518 §4.4, §4.5, §4.7)",
)
_PBES2 = AlgorithmPolicy(
    Verdict.DENY, Severity.HIGH,
    "password-based key wrapping is brute-forceable and the token controls the iteration "
    "count (RFC 8725 §3.5)",
)

#: JWE key management ``alg`` (outer header)
JWE_ALG: Mapping[str, AlgorithmPolicy] = _table({
    "RSA-OAEP-256": _allow("RSAES-OAEP with SHA-256 (RFC 7518 §4.3; preferred RSA)"),
    "ECDH-ES+A256KW": _allow("ECDH-ES key agreement with AES key wrap (RFC 7518 §4.6)"),
    "ECDH-ES+A128KW": _allow("ECDH-ES key agreement with AES key wrap (RFC 7518 §4.6)"),
    "ECDH-ES": _allow("direct ECDH-ES key agreement (RFC 7518 §4.6)"),
    "RSA-OAEP": _warn("RSAES-OAEP with SHA-1; prefer RSA-OAEP-256"),
    "RSA-OAEP-384": _warn("supported by NGINX Plus but not by jwcrypto; prefer RSA-OAEP-256"),
    "RSA-OAEP-512": _warn("supported by NGINX Plus but not by jwcrypto; prefer RSA-OAEP-256"),
    "A128KW": _SYMMETRIC,
    "A192KW": _SYMMETRIC,
    "A256KW": _SYMMETRIC,
    "A128GCMKW": _SYMMETRIC,
    "A192GCMKW": _SYMMETRIC,
    "A256GCMKW": _SYMMETRIC,
    "dir": _SYMMETRIC,
    "RSA1_5": AlgorithmPolicy(
        Verdict.DENY, Severity.CRITICAL,
        "RSAES-PKCS1-v1_5 is open to padding-oracle attacks (RFC 8725 §3.2, RFC 7518 §8.3, "
        "CVE-2016-6298)",
    ),
    "PBES2-HS256+A128KW": _PBES2,
    "PBES2-HS384+A192KW": _PBES2,
    "PBES2-HS512+A256KW": _PBES2,
})

#: JWE content encryption ``enc`` (outer header)
JWE_ENC: Mapping[str, AlgorithmPolicy] = _table({
    "A256GCM": _allow("AES-256-GCM (RFC 7518 §5.3; preferred)"),
    "A128GCM": _allow("AES-128-GCM (RFC 7518 §5.3)"),
    "A256CBC-HS512": _allow("AES-256-CBC with HMAC-SHA-512 (RFC 7518 §5.2)"),
    "A128CBC-HS256": _allow("AES-128-CBC with HMAC-SHA-256 (RFC 7518 §5.2)"),
    "A192GCM": _warn("192-bit AES is not supported by every gateway; prefer A256GCM"),
    "A192CBC-HS384": _warn("192-bit AES is not supported by every gateway; prefer A256GCM"),
})

_HMAC = AlgorithmPolicy(
    Verdict.DENY, Severity.HIGH,
    "an HMAC key is shared by everyone who verifies, so any of them can mint tokens "
    "(OWASP JWT Cheat Sheet, RFC 8725 §2.1)",
)
_RSA_PKCS1 = _warn("RSASSA-PKCS1-v1_5 is 'not recommended' by OWASP; prefer PS256 or ES256")

#: inner JWS ``alg``
JWS_ALG: Mapping[str, AlgorithmPolicy] = _table({
    "ES256": _allow("ECDSA P-256 with SHA-256 (RFC 7518 §3.4)"),
    "ES384": _allow("ECDSA P-384 with SHA-384 (RFC 7518 §3.4)"),
    "PS256": _allow("RSASSA-PSS with SHA-256 (RFC 7518 §3.5)"),
    "PS384": _allow("RSASSA-PSS with SHA-384 (RFC 7518 §3.5)"),
    "PS512": _allow("RSASSA-PSS with SHA-512 (RFC 7518 §3.5)"),
    "Ed25519": _allow("Ed25519 (RFC 9864; preferred over the polymorphic EdDSA)"),
    "EdDSA": _allow("EdDSA (RFC 8037); prefer the fully specified Ed25519"),
    "RS256": _RSA_PKCS1,
    "RS384": _RSA_PKCS1,
    "RS512": _RSA_PKCS1,
    "HS256": _HMAC,
    "HS384": _HMAC,
    "HS512": _HMAC,
    "none": AlgorithmPolicy(
        Verdict.DENY, Severity.CRITICAL,
        "an unsecured JWT has no signature at all (RFC 9068 §4, RFC 7518 §3.6)",
    ),
})


def classify(table: Mapping[str, AlgorithmPolicy], value: object) -> AlgorithmPolicy:
    """The policy for ``value`` in ``table`` (exact, case-sensitive match).

    A value that differs from a listed one only in case (``rsa-oaep-256``, ``NONE``) is
    denied with a reason that names the listed spelling; any other unlisted value is denied
    as not on the allow list.  ``none`` in any case is critical.
    """
    if isinstance(value, str) and value in table:
        return table[value]
    if not isinstance(value, str):
        return AlgorithmPolicy(Verdict.DENY, Severity.HIGH, "is not a string")
    folded = {k.lower(): k for k in table}
    listed = folded.get(value.lower())
    if listed is not None:
        severity = Severity.CRITICAL if listed == "none" else Severity.HIGH
        return AlgorithmPolicy(
            Verdict.DENY, severity,
            f"algorithm names are case-sensitive; {value!r} is not {listed!r} "
            "(RFC 8725bis §2.11)",
        )
    return AlgorithmPolicy(Verdict.DENY, Severity.HIGH, "is not on the allow list")


def allowed_values(table: Mapping[str, AlgorithmPolicy]) -> list[str]:
    """The values of ``table`` that may be used (``allow`` first, then ``warn``)."""
    allow = [k for k, v in table.items() if v.verdict is Verdict.ALLOW]
    return allow + [k for k, v in table.items() if v.verdict is Verdict.WARN]

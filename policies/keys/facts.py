"""What the policy says about one JWK: size, curve, purpose and algorithm fit.

Pure functions over a JWK as a mapping (a plain dict or a jwcrypto ``JWK``, which is a dict).
Shared by the JWKS checker (:mod:`policies.keys.jwks`) and the token checker
(:mod:`policies.tokens`), so a key is judged the same way in both.  Thresholds follow
``docs/jwt-policy.md`` §1.3 ("Key sizes and curves").
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from policies.rules import Severity

#: below this many bits an RSA key fails KEY-RSA-SIZE as critical (RFC 7518 §3.3, §4.3)
RSA_MIN_BITS = 2048
#: below this many bits an RSA key fails KEY-RSA-SIZE as medium (NIST SP 800-57: beyond 2030)
RSA_GOOD_BITS = 3072
#: largest RSA modulus the checkers will load (bounds the cost of a hostile key)
RSA_MAX_BITS = 16384

EC_CURVES = frozenset({"P-256", "P-384", "P-521"})
OKP_SIGNING_CURVES = frozenset({"Ed25519", "Ed448"})
OKP_ENCRYPTION_CURVES = frozenset({"X25519", "X448"})
#: JWK members that hold private or secret key material (RFC 7517 §9.2, RFC 7518 §6)
PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")

SIGNING_OPS = frozenset({"sign", "verify"})
ENCRYPTION_OPS = frozenset({"encrypt", "decrypt", "wrapKey", "unwrapKey", "deriveKey",
                            "deriveBits"})
#: the key_ops a recipient's decryption key may carry
DECRYPTION_OPS = frozenset({"decrypt", "unwrapKey", "deriveKey", "deriveBits"})

_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_B64URL_VALUE = {c: i for i, c in enumerate(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")}

#: JWS alg -> (kty, allowed curves or None for "any")
_SIGNING_ALGS: dict[str, tuple[str, frozenset[str] | None]] = {
    **{f"RS{n}": ("RSA", None) for n in (256, 384, 512)},
    **{f"PS{n}": ("RSA", None) for n in (256, 384, 512)},
    "ES256": ("EC", frozenset({"P-256"})),
    "ES384": ("EC", frozenset({"P-384"})),
    "ES512": ("EC", frozenset({"P-521"})),
    "ES256K": ("EC", frozenset({"secp256k1"})),
    "Ed25519": ("OKP", frozenset({"Ed25519"})),
    "Ed448": ("OKP", frozenset({"Ed448"})),
    "EdDSA": ("OKP", OKP_SIGNING_CURVES),
    **{f"HS{n}": ("oct", None) for n in (256, 384, 512)},
}
_ECDH_CURVES = EC_CURVES | OKP_ENCRYPTION_CURVES


def _encryption_alg_kty(alg: str) -> frozenset[str] | None:
    if alg.startswith("RSA-OAEP") or alg == "RSA1_5":
        return frozenset({"RSA"})
    if alg == "ECDH-ES" or alg.startswith("ECDH-ES+"):
        return frozenset({"EC", "OKP"})
    if alg == "dir" or alg.startswith(("A128", "A192", "A256", "PBES2-")):
        return frozenset({"oct"})
    return None


def b64url_int(value: object, max_bits: int = RSA_MAX_BITS) -> int | None:
    """The unsigned big-endian integer in an unpadded base64url string, or ``None`` when
    ``value`` is not one (or encodes more than ``max_bits`` bits)."""
    raw = b64url_bytes(value, max_len=(max_bits + 7) // 8)
    return None if raw is None else int.from_bytes(raw, "big")


def b64url_bytes(value: object, max_len: int = 1 << 16) -> bytes | None:
    """The bytes of an unpadded, canonical base64url string (RFC 7515 §2, RFC 4648 §3.5: the
    unused bits of the last character are zero), or ``None``."""
    if not isinstance(value, str) or len(value) > (max_len * 4 + 2) // 3 + 1:
        return None
    if len(value) % 4 == 1 or not _B64URL.fullmatch(value):
        return None
    tail = len(value) % 4
    if tail and _B64URL_VALUE[value[-1]] & (0x0F if tail == 2 else 0x03):
        return None  # unused trailing bits set: another spelling of the same bytes
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) <= max_len else None


def rsa_bits(key: Mapping[str, Any]) -> int | None:
    """Modulus size in bits of an RSA JWK, or ``None`` when ``n`` is missing or malformed."""
    n = key.get("n")
    return _modulus_bits(n) if isinstance(n, str) else None


@functools.lru_cache(maxsize=256)
def _modulus_bits(n: str) -> int | None:
    """:func:`rsa_bits` of a modulus text (kept: the token checker asks it for the same
    keys on every token, and decoding a 3072-bit modulus costs about 20 µs)."""
    value = b64url_int(n)
    return value.bit_length() if value else None


@dataclass(frozen=True, slots=True)
class Problem:
    """A policy problem with one key: the rule it breaks, at which severity, and why."""

    rule_id: str
    severity: Severity
    message: str


def size_problem(key: Mapping[str, Any]) -> Problem | None:
    """KEY-RSA-SIZE for an RSA key (``None`` for other key types and large-enough keys)."""
    if key.get("kty") != "RSA":
        return None
    bits = rsa_bits(key)
    if bits is None:
        return Problem("KEY-RSA-SIZE", Severity.CRITICAL,
                       "RSA key has no readable modulus `n`")
    if bits < RSA_MIN_BITS:
        return Problem("KEY-RSA-SIZE", Severity.CRITICAL,
                       f"RSA key has {bits} bits; at least {RSA_MIN_BITS} are required "
                       "(RFC 7518 §3.3, §4.3)")
    if bits < RSA_GOOD_BITS:
        return Problem("KEY-RSA-SIZE", Severity.MEDIUM,
                       f"RSA key has {bits} bits; {RSA_GOOD_BITS} or more are needed for use "
                       "beyond 2030 (NIST SP 800-57 Pt1 r5)")
    return None


def curve_problem(key: Mapping[str, Any]) -> Problem | None:
    """KEY-CURVE for an EC or OKP key (``None`` for allowed curves and other key types)."""
    kty, crv = key.get("kty"), key.get("crv")
    if kty == "EC" and crv not in EC_CURVES:
        return Problem("KEY-CURVE", Severity.MEDIUM,
                       f"EC curve {crv!r} is not allowed; use P-256, P-384 or P-521")
    if kty == "OKP" and crv not in OKP_SIGNING_CURVES | OKP_ENCRYPTION_CURVES:
        return Problem("KEY-CURVE", Severity.MEDIUM,
                       f"OKP curve {crv!r} is not allowed; use Ed25519/Ed448 or X25519/X448")
    return None


def key_purpose(key: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """``(purpose, problem)``: purpose ``"sig"`` or ``"enc"`` from ``use`` / ``key_ops``, or
    ``None`` with a problem text when neither says it or they disagree (RFC 7517 §4.2–4.3)."""
    use, ops = key.get("use"), key.get("key_ops")
    from_use = from_ops = None
    if use is not None:
        if use not in ("sig", "enc"):
            return None, f"`use` is {use!r}, not 'sig' or 'enc'"
        from_use = use
    if ops is not None:
        if (not isinstance(ops, list) or not ops or len(ops) > 8
                or not all(isinstance(o, str) for o in ops) or len(set(ops)) != len(ops)):
            return None, "`key_ops` is not a short list of distinct operation names"
        if set(ops) <= SIGNING_OPS:
            from_ops = "sig"
        elif set(ops) <= ENCRYPTION_OPS:
            from_ops = "enc"
        else:
            return None, f"`key_ops` {ops} mixes signing and encryption operations"
    if from_use and from_ops and from_use != from_ops:
        return None, f"`use: {use}` contradicts `key_ops` {ops}"
    purpose = from_use or from_ops
    if purpose is None:
        return None, "the key declares neither `use` nor `key_ops`"
    return purpose, None


#: JWE alg -> exact bits of a symmetric key-wrapping key (RFC 7518 §4.4, §4.7)
_KW_BITS = {"A128KW": 128, "A192KW": 192, "A256KW": 256,
            "A128GCMKW": 128, "A192GCMKW": 192, "A256GCMKW": 256}
#: JWE enc -> exact bits of the content-encryption key, which `dir` uses as is (§5.2, §5.3)
_CEK_BITS = {"A128GCM": 128, "A192GCM": 192, "A256GCM": 256, "A128CBC-HS256": 256,
             "A192CBC-HS384": 384, "A256CBC-HS512": 512}


def oct_size_problem(key: Mapping[str, Any], alg: object, enc: object) -> str | None:
    """Why a symmetric ``oct`` key does not have the size ``alg`` (``A*KW``, ``A*GCMKW``) or,
    for ``dir``, the size ``enc`` needs, or ``None`` (also for other key types and algs).

    Sources: RFC 7518 §4.4 (AES key wrap with a key of the algorithm's size), §4.7
    (AES-GCM key wrap), §4.5 and §5.2–5.3 (``dir``: the key is the CEK).
    """
    if key.get("kty") != "oct":
        return None
    if alg in _KW_BITS:
        want, section = _KW_BITS[str(alg)], "§4.4" if "GCM" not in str(alg) else "§4.7"
    elif alg == "dir" and enc in _CEK_BITS:
        want, section = _CEK_BITS[str(enc)], "§4.5, §5.2–5.3"
    else:
        return None
    raw = b64url_bytes(key.get("k"), max_len=1024)
    if raw is None:
        return "the `oct` key's `k` is not unpadded base64url"
    if len(raw) * 8 != want:
        what = f"`{alg}`" if alg != "dir" else f"`dir` with `enc: {enc}`"
        return (f"the `oct` key has {len(raw) * 8} bits, but {what} needs exactly {want} "
                f"(RFC 7518 {section})")
    return None


def alg_problem(key: Mapping[str, Any], purpose: str | None) -> str | None:
    """Why the key's ``alg`` does not fit its type, curve and purpose, or ``None``."""
    alg, kty, crv = key.get("alg"), key.get("kty"), key.get("crv")
    if not isinstance(alg, str) or not alg:
        return "the key declares no `alg` (each key must serve exactly one algorithm)"
    if alg in _SIGNING_ALGS:
        if purpose == "enc":
            return f"`alg: {alg}` is a signing algorithm on an encryption key"
        want_kty, curves = _SIGNING_ALGS[alg]
        if kty != want_kty or (curves is not None and crv not in curves):
            where = f"{kty} {crv}" if crv else str(kty)
            return f"`alg: {alg}` does not fit a {where} key"
        return None
    ktys = _encryption_alg_kty(alg)
    if ktys is None:
        return f"`alg: {alg}` is not a known JOSE algorithm"
    if purpose == "sig":
        return f"`alg: {alg}` is an encryption algorithm on a signing key"
    if kty not in ktys or (kty in ("EC", "OKP") and crv not in _ECDH_CURVES):
        where = f"{kty} {crv}" if crv else str(kty)
        return f"`alg: {alg}` does not fit a {where} key"
    return None

"""Public keys as numbers: canonical encodings, validity, value identity, RFC 7638 thumbprints.

A JWK spells its key material in base64url, and several spellings decode to the same key:
``n`` with a leading zero octet, ``e = "AAEAAQ"`` for 65537, an EC coordinate padded to 33
octets or cut to 31, a coordinate ``x + p`` that lenient libraries reduce modulo ``p``, an
X25519 ``u`` with its ignored top bit set.  jwcrypto's thumbprint hashes the spelling, so two
spellings of one key get two thumbprints and a key published twice (once for signing, once
for encryption) looks like two keys.

:func:`parse_public_key` reads the public members of one JWK into their numbers and returns a
:class:`ParsedKey`: the :class:`KeyValue` (the key as a lenient library would load it), every
non-canonical spelling as an :class:`EncodingProblem`, or why the numbers are no valid key at
all (an EC point off its curve, an even modulus ...).  Keys are compared by
:attr:`KeyValue.identity`, and :attr:`KeyValue.thumbprint` is computed from the canonical
members (RFC 7638 §3.2), whatever the spelling.

Sources: RFC 7518 §2 (Base64urlUInt: "the minimum number of octets"), §6.2.1.2–6.2.1.3 (EC
coordinates are exactly the size of the field), §6.2.2.1 (EC ``d``), §6.3.1.1–6.3.1.2 and
§6.3.2 (RSA members are Base64urlUInt); RFC 8037 §2 (OKP keys); RFC 7748 §5 (X25519/X448
``u`` coordinates); RFC 8032 §5.1.3 and §5.2.3 (Ed25519/Ed448 decoding); RFC 7638 §3
(thumbprints); NIST SP 800-56A r3 §5.6.2.3.4 (partial public-key validation).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa, x448, x25519

from policies.keys.facts import RSA_MAX_BITS, b64url_bytes

__all__ = ["EncodingProblem", "KeyValue", "ParsedKey", "b64url_uint", "parse_public_key",
           "thumbprint"]


@dataclass(frozen=True, slots=True)
class _Curve:
    """Short Weierstrass curve y² = x³ + ax + b over GF(p) (cofactor 1), ``size`` octets."""

    p: int
    a: int
    b: int
    size: int
    impl: ec.EllipticCurve


#: EC curves jwcrypto reads (RFC 7518 §6.2.1.1; secp256k1: RFC 8812 §3.1; Brainpool), with
#: their SEC 2 / FIPS 186-5 / RFC 5639 domain parameters (all cofactor 1)
_EC: dict[str, _Curve] = {
    "P-256": _Curve(2**256 - 2**224 + 2**192 + 2**96 - 1, -3,
                    0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B,
                    32, ec.SECP256R1()),
    "P-384": _Curve(2**384 - 2**128 - 2**96 + 2**32 - 1, -3,
                    int("B3312FA7E23EE7E4988E056BE3F82D19181D9C6EFE8141120314088F5013875A"
                        "C656398D8A2ED19D2A85C8EDD3EC2AEF", 16), 48, ec.SECP384R1()),
    "P-521": _Curve(2**521 - 1, -3,
                    int("0051953EB9618E1C9A1F929A21A0B68540EEA2DA725B99B315F3B8B489918EF1"
                        "09E156193951EC7E937B1652C0BD3BB1BF073573DF883D2C34F1EF451FD46B503F00",
                        16),
                    66, ec.SECP521R1()),
    "secp256k1": _Curve(2**256 - 2**32 - 977, 0, 7, 32, ec.SECP256K1()),
    # Brainpool (RFC 5639 §3.4-3.7), names as jwcrypto spells them; KEY-CURVE flags them
    "BP-256": _Curve(
        int("A9FB57DBA1EEA9BC3E660A909D838D726E3BF623D52620282013481D1F6E5377", 16),
        int("7D5A0975FC2C3057EEF67530417AFFE7FB8055C126DC5C6CE94A4B44F330B5D9", 16),
        int("26DC5C6CE94A4B44F330B5D9BBD77CBF958416295CF7E1CE6BCCDC18FF8C07B6", 16),
        32, ec.BrainpoolP256R1()),
    "BP-384": _Curve(
        int("8CB91E82A3386D280F5D6F7E50E641DF152F7109ED5456B412B1DA197FB71123"
            "ACD3A729901D1A71874700133107EC53", 16),
        int("7BC382C63D8C150C3C72080ACE05AFA0C2BEA28E4FB22787139165EFBA91F90F"
            "8AA5814A503AD4EB04A8C7DD22CE2826", 16),
        int("04A8C7DD22CE28268B39B55416F0447C2FB77DE107DCD2A62E880EA53EEB62D5"
            "7CB4390295DBC9943AB78696FA504C11", 16),
        48, ec.BrainpoolP384R1()),
    "BP-512": _Curve(
        int("AADD9DB8DBE9C48B3FD4E6AE33C9FC07CB308DB3B3C9D20ED6639CCA70330871"
            "7D4D9B009BC66842AECDA12AE6A380E62881FF2F2D82C68528AA6056583A48F3", 16),
        int("7830A3318B603B89E2327145AC234CC594CBDD8D3DF91610A83441CAEA9863BC"
            "2DED5D5AA8253AA10A2EF1C98B9AC8B57F1117A72BF2C7B9E7C1AC4D77FC94CA", 16),
        int("3DF91610A83441CAEA9863BC2DED5D5AA8253AA10A2EF1C98B9AC8B57F1117A7"
            "2BF2C7B9E7C1AC4D77FC94CADC083E67984050B75EBAE5DD2809BD638016F723", 16),
        64, ec.BrainpoolP512R1()),
}
#: OKP curve -> public key octets (RFC 8037 §2, RFC 7748 §5, RFC 8032 §5.1.5, §5.2.5)
_OKP_SIZE = {"Ed25519": 32, "X25519": 32, "Ed448": 57, "X448": 56}
_P25519 = 2**255 - 19
_P448 = 2**448 - 2**224 - 1
#: RSA private members, all Base64urlUInt (RFC 7518 §6.3.2)
_RSA_PRIVATE = ("d", "p", "q", "dp", "dq", "qi")
#: room for a few padding octets when decoding, so a padded value is still read as a number
_PAD_ROOM = 8


@dataclass(frozen=True, slots=True)
class EncodingProblem:
    """One member spelled non-canonically; the key's value is still known.

    :ivar member: the JWK member (``n``, ``e``, ``x``, ``y``, ``d`` ...).
    :ivar message: what is wrong and which RFC section says so (no trailing full stop).
    """

    member: str
    message: str


@dataclass(frozen=True, slots=True)
class KeyValue:
    """A public key as the numbers it denotes, independent of how the JWK spelled them.

    :ivar kty: ``RSA``, ``EC`` or ``OKP``.
    :ivar crv: the curve for EC/OKP keys, ``None`` for RSA.
    :ivar members: the RFC 7638 required members in canonical spelling, sorted by name
        (RSA ``e, kty, n``; EC ``crv, kty, x, y``; OKP ``crv, kty, x``).
    :ivar modulus: the RSA modulus ``n`` (``None`` for other key types): RSA keys that
        share a modulus share their factorisation, whatever ``e`` says.
    """

    kty: str
    crv: str | None
    members: tuple[tuple[str, str], ...]
    modulus: int | None = None

    @property
    def identity(self) -> tuple[tuple[str, str], ...]:
        """Equal for two JWKs exactly when they denote the same public key."""
        return self.members

    @property
    def thumbprint(self) -> str:
        """RFC 7638 SHA-256 thumbprint of the canonical members (base64url, unpadded)."""
        return thumbprint(dict(self.members))

    def public_members(self) -> dict[str, str]:
        """The canonical public members as a JWK mapping (for jwcrypto or an export)."""
        return dict(self.members)


@dataclass(frozen=True, slots=True)
class ParsedKey:
    """What :func:`parse_public_key` found.

    :ivar value: the key's numbers, or ``None`` when they are unreadable or no valid key.
    :ivar problems: non-canonical spellings (each is a reason to refuse the published key,
        but ``value`` still says which key it denotes, so duplicates are found).
    :ivar invalid: why the members are no valid public key (``value`` is then ``None``).
    """

    value: KeyValue | None
    problems: tuple[EncodingProblem, ...] = ()
    invalid: str | None = None

    @property
    def canonical(self) -> bool:
        """A valid key, every member spelled canonically."""
        return self.value is not None and not self.problems


class _Invalid(ValueError):
    """The members denote no valid public key; the message says why."""


def b64url(raw: bytes) -> str:
    """Unpadded base64url of ``raw`` (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64url_uint(value: int) -> str:
    """Base64urlUInt of a non-negative integer: minimum octets, zero is ``AA`` (RFC 7518
    §2).  :raises ValueError: for a negative ``value``."""
    if value < 0:
        raise ValueError("Base64urlUInt values are non-negative")
    return b64url(value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big"))


def thumbprint(members: Mapping[str, str]) -> str:
    """RFC 7638 §3 SHA-256 thumbprint of the required members ``members`` (already
    canonical: the hash input is their JSON with sorted names and no whitespace)."""
    text = json.dumps(dict(sorted(members.items())), separators=(",", ":"),
                      ensure_ascii=True)
    return b64url(hashlib.sha256(text.encode("ascii")).digest())


def _octets(entry: Mapping[str, Any], member: str, max_len: int) -> bytes:
    """The decoded octets of ``member``.  :raises _Invalid: missing or not base64url."""
    value = entry.get(member)
    if value is None:
        raise _Invalid(f"it has no `{member}`")
    raw = b64url_bytes(value, max_len)
    if raw is None:
        if isinstance(value, str) and b64url_bytes(value, 1 << 16) is not None:
            raise _Invalid(f"`{member}` is longer than {max_len} octets")
        raise _Invalid(f"`{member}` is not unpadded, canonical base64url (RFC 7515 §2)")
    if not raw:
        raise _Invalid(f"`{member}` is empty")
    return raw


def _uint(entry: Mapping[str, Any], member: str, max_len: int, section: str,
          problems: list[EncodingProblem]) -> int:
    """A Base64urlUInt member as an integer; a leading zero octet is recorded as a problem."""
    raw = _octets(entry, member, max_len)
    value = int.from_bytes(raw, "big")
    canonical = b64url_uint(value)
    if canonical != entry[member]:
        zeros = len(raw) - len(raw.lstrip(b"\0"))
        if value == 0:
            zeros -= 1
        problems.append(EncodingProblem(member, (
            f"`{member}` is {len(raw)} octets with {zeros} leading zero octet"
            f"{'s' if zeros != 1 else ''} (canonically {_quote(canonical)}); "
            f"RFC 7518 §2 (Base64urlUInt) and {section} require the minimum number of octets")))
    return value


def _quote(text: str, limit: int = 24) -> str:
    return f"'{text}'" if len(text) <= limit else f"'{text[:limit - 1]}…'"


def _parse_rsa(entry: Mapping[str, Any], problems: list[EncodingProblem]) -> KeyValue:
    limit = RSA_MAX_BITS // 8 + _PAD_ROOM
    n = _uint(entry, "n", limit, "§6.3.1.1", problems)
    e = _uint(entry, "e", limit, "§6.3.1.2", problems)
    if n.bit_length() > RSA_MAX_BITS:
        raise _Invalid(f"the modulus has {n.bit_length()} bits, more than the "
                       f"{RSA_MAX_BITS} this checker loads")
    if n < 3 or n % 2 == 0:
        raise _Invalid("the modulus `n` is even or smaller than 3, so it is no RSA modulus")
    if e < 3 or e % 2 == 0 or e >= n:
        raise _Invalid(f"the exponent `e` = {e if e < 2**64 else 'a huge number'} is not an "
                       "odd number from 3 to n − 1")
    for member in _RSA_PRIVATE:
        if member in entry:
            _uint(entry, member, limit, "§6.3.2", problems)
    try:
        rsa.RSAPublicNumbers(e, n).public_key()
    except ValueError as exc:
        raise _Invalid(f"the `cryptography` library refuses it ({exc})") from None
    members = (("e", b64url_uint(e)), ("kty", "RSA"), ("n", b64url_uint(n)))
    return KeyValue("RSA", None, members, modulus=n)


def _coordinate(entry: Mapping[str, Any], member: str, crv: str, curve: _Curve,
                problems: list[EncodingProblem]) -> int:
    """One EC coordinate: exactly ``curve.size`` octets and below ``p`` (else a problem;
    the value is then taken modulo ``p``, as OpenSSL does)."""
    raw = _octets(entry, member, curve.size + _PAD_ROOM)
    value = int.from_bytes(raw, "big")
    section = "§6.2.1.2" if member == "x" else "§6.2.1.3"
    if len(raw) != curve.size:
        problems.append(EncodingProblem(member, (
            f"`{member}` is {len(raw)} octets; a {crv} coordinate is exactly {curve.size} "
            f"octets, the full size of the field (RFC 7518 {section})")))
    if value >= curve.p:
        problems.append(EncodingProblem(member, (
            f"`{member}` is not below the field prime p of {crv}; a coordinate is an element "
            f"of GF(p) (SEC 1 §2.3.5, NIST SP 800-56A r3 §5.6.2.3.4), and a lenient library "
            f"reduces it to another spelling of the point with `{member}` − p")))
    return value % curve.p


def _parse_ec(entry: Mapping[str, Any], problems: list[EncodingProblem]) -> KeyValue:
    crv = entry.get("crv")
    if not isinstance(crv, str) or crv not in _EC:
        raise _Invalid(f"its curve {_quote(repr(crv))} is not an EC curve this checker "
                       f"reads ({', '.join(_EC)})")
    curve = _EC[crv]
    x = _coordinate(entry, "x", crv, curve, problems)
    y = _coordinate(entry, "y", crv, curve, problems)
    if (y * y - (x * x * x + curve.a * x + curve.b)) % curve.p:
        raise _Invalid(f"the point (x, y) is not on {crv} (y² ≠ x³ + ax + b mod p): an "
                       "invalid-curve key (NIST SP 800-56A r3 §5.6.2.3.4)")
    if "d" in entry:
        raw = _octets(entry, "d", curve.size + _PAD_ROOM)
        if len(raw) != curve.size:
            problems.append(EncodingProblem("d", (
                f"`d` is {len(raw)} octets; a {crv} private key is exactly {curve.size} "
                "octets (RFC 7518 §6.2.2.1)")))
    try:
        ec.EllipticCurvePublicNumbers(x, y, curve.impl).public_key()
    except ValueError as exc:
        raise _Invalid(f"the `cryptography` library refuses it ({exc})") from None
    size = curve.size
    members = (("crv", crv), ("kty", "EC"), ("x", b64url(x.to_bytes(size, "big"))),
               ("y", b64url(y.to_bytes(size, "big"))))
    return KeyValue("EC", crv, members)


def _parse_okp(entry: Mapping[str, Any], problems: list[EncodingProblem]) -> KeyValue:
    crv = entry.get("crv")
    if not isinstance(crv, str) or crv not in _OKP_SIZE:
        raise _Invalid(f"its curve {_quote(repr(crv))} is not an OKP curve "
                       f"({', '.join(_OKP_SIZE)})")
    size = _OKP_SIZE[crv]
    raw = _octets(entry, "x", size + _PAD_ROOM)
    if len(raw) != size:
        raise _Invalid(f"`x` is {len(raw)} octets; a {crv} public key is exactly {size} "
                       "octets (RFC 8037 §2)")
    if "d" in entry and len(_octets(entry, "d", size + _PAD_ROOM)) != size:
        problems.append(EncodingProblem("d", f"`d` is not {size} octets (RFC 8037 §2)"))
    number = int.from_bytes(raw, "little")
    if crv in ("X25519", "X448"):
        prime = _P25519 if crv == "X25519" else _P448
        masked = number & ((1 << 255) - 1) if crv == "X25519" else number
        if masked != number:
            problems.append(EncodingProblem("x", (
                "`x` has the top bit of its last octet set; X25519 ignores it, so this is "
                "another spelling of the key without it (RFC 7748 §5)")))
        if masked >= prime:
            problems.append(EncodingProblem("x", (
                f"`x` is a u-coordinate not below p; {crv} reduces it modulo p, so this is "
                "another spelling of a smaller value (RFC 7748 §5)")))
        raw = (masked % prime).to_bytes(size, "little")
        loader = x25519.X25519PublicKey if crv == "X25519" else x448.X448PublicKey
    else:
        prime, sign = (_P25519, 1 << 255) if crv == "Ed25519" else (_P448, 0x80 << 448)
        y = number & (sign - 1)
        section = "§5.1.3" if crv == "Ed25519" else "§5.2.3"
        if y >= prime:
            raise _Invalid(f"its y-coordinate is not below p, so decoding fails (RFC 8032 "
                           f"{section})")
        loader_ed = ed25519.Ed25519PublicKey if crv == "Ed25519" else ed448.Ed448PublicKey
        try:
            loader_ed.from_public_bytes(raw)
        except ValueError as exc:
            raise _Invalid(f"the `cryptography` library refuses it ({exc})") from None
        members = (("crv", crv), ("kty", "OKP"), ("x", b64url(raw)))
        return KeyValue("OKP", crv, members)
    try:
        loader.from_public_bytes(raw)
    except ValueError as exc:
        raise _Invalid(f"the `cryptography` library refuses it ({exc})") from None
    return KeyValue("OKP", crv, (("crv", crv), ("kty", "OKP"), ("x", b64url(raw))))


def parse_public_key(entry: Mapping[str, Any]) -> ParsedKey:
    """Read the public key of one JWK into its numbers and judge its spelling.

    :param entry: a JWK as a mapping (a dict or a jwcrypto ``JWK``) with ``kty`` ``RSA``,
        ``EC`` or ``OKP``; other members (``kid``, ``use`` ...) are ignored.  Private members,
        if present, are checked for canonical spelling too (RFC 7518 §6.2.2.1, §6.3.2).
    :returns: a :class:`ParsedKey`.  ``value`` is ``None`` (and ``invalid`` says why) when a
        member is missing or not base64url, the key type or curve is unknown, an RSA
        modulus/exponent is impossible, an EC point is not on its curve, or an Ed25519/Ed448
        key does not decode.  Non-canonical spellings (leading zero octets in a
        Base64urlUInt, EC coordinates not exactly the field size or not below ``p``, X25519
        ``u`` with the top bit set or not below ``p``) are ``problems``; ``value`` is then
        the key they denote.  Never raises.
    """
    problems: list[EncodingProblem] = []
    kty = entry.get("kty")
    try:
        if kty == "RSA":
            value = _parse_rsa(entry, problems)
        elif kty == "EC":
            value = _parse_ec(entry, problems)
        elif kty == "OKP":
            value = _parse_okp(entry, problems)
        else:
            raise _Invalid(f"its key type {_quote(repr(kty))} is not RSA, EC or OKP")
    except _Invalid as exc:
        return ParsedKey(None, tuple(problems), str(exc))
    return ParsedKey(value, tuple(problems))

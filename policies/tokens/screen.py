"""Parse and screen a compact token before any cryptography.

Everything here is plain string, base64url and JSON work on input already capped at
:attr:`TokenLimits.max_token_bytes`, so each step is linear in a few KiB.  Failures are
recorded on an :class:`~policies.tokens.results.Outcome`; ``fatal`` ones stop the check
before a key is used.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, x448, x25519

from policies import algorithms
from policies.algorithms import Verdict
from policies.findings import Status
from policies.keys.facts import b64url_bytes
from policies.rules import Severity, get_rule
from policies.tokens.profile import TokenLimits, TokenProfile
from policies.tokens.results import Outcome
from specs import strictjson

_COMPACT = re.compile(r"[A-Za-z0-9_.-]+")
_KID = re.compile(r"[A-Za-z0-9._-]{1,128}")
KEY_REFERENCE_HEADERS = ("jku", "x5u", "jwk", "x5c")
_EC_CURVES = {"P-256": (ec.SECP256R1(), 32), "P-384": (ec.SECP384R1(), 48),
              "P-521": (ec.SECP521R1(), 66)}
_OKP_CURVES: dict[str, tuple[Any, int]] = {"X25519": (x25519.X25519PublicKey, 32),
                                            "X448": (x448.X448PublicKey, 56)}
_AT_JWT = ("at+jwt", "application/at+jwt")
_HMAC = ("HS256", "HS384", "HS512")


def is_compact(text: str) -> bool:
    """True when ``text`` holds only base64url characters and dots (and is not empty)."""
    return bool(_COMPACT.fullmatch(text))


class Malformed(ValueError):
    """A segment is not strict base64url or not a JSON object without duplicate members."""


def _short(value: object, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def decode_segment(segment: str, what: str) -> bytes:
    """Strict base64url (RFC 7515 §2): unpadded, canonical.  :raises Malformed:"""
    raw = b64url_bytes(segment, max_len=len(segment))
    if raw is None:
        raise Malformed(f"the {what} is not unpadded base64url")
    return raw


def parse_object(raw: bytes, what: str) -> dict[str, Any]:
    """UTF-8 JSON object without duplicate member names.  :raises Malformed:"""
    try:
        value = strictjson.loads(raw)
    except strictjson.DuplicateMember as exc:
        raise Malformed(f"the {what} has a duplicate member {_short(exc.name)}") from None
    except UnicodeDecodeError:
        raise Malformed(f"the {what} is not UTF-8") from None
    except RecursionError:
        raise Malformed(f"the {what} is nested too deeply") from None
    except ValueError:
        raise Malformed(f"the {what} is not JSON") from None
    if not isinstance(value, dict):
        raise Malformed(f"the {what} is a JSON {type(value).__name__}, not an object")
    return value


def screen_text(token: object, limits: TokenLimits, out: Outcome) -> list[str] | None:
    """TOK-SIZE-LIMIT, TOK-SYNTAX and TOK-NESTED-JWE on the raw token.

    :returns: the five segments of a compact JWE, or ``None`` (a fatal failure recorded).
    """
    if isinstance(token, bytes | bytearray | str):
        size = len(token)
    else:
        out.fail("TOK-SYNTAX", f"the token is a {type(token).__name__}, not text.")
        return None
    if size > limits.max_token_bytes:
        out.fail("TOK-SIZE-LIMIT", f"the token is {size} bytes; at most "
                 f"{limits.max_token_bytes} are accepted (checked before any decoding).")
        return None
    if isinstance(token, bytes | bytearray):
        try:
            token = bytes(token).decode("ascii")
        except UnicodeDecodeError:
            out.fail("TOK-SYNTAX", "the token contains non-ASCII bytes.")
            return None
    assert isinstance(token, str)
    if len(token.encode("utf-8", "surrogatepass")) > limits.max_token_bytes:
        out.fail("TOK-SIZE-LIMIT", f"the token is more than {limits.max_token_bytes} bytes.")
        return None
    out.ok("TOK-SIZE-LIMIT", f"The token is {size} bytes (limit {limits.max_token_bytes}).")
    if not _COMPACT.fullmatch(token):
        out.fail("TOK-SYNTAX", _charset_problem(token))
        return None
    dots = token.count(".")
    if dots == 2:
        out.fail("TOK-NESTED-JWE", "the token is a bare JWS (3 segments), not a JWE: access "
                 "tokens for this API must be signed and then encrypted.")
        return None
    if dots != 4:
        out.fail("TOK-SYNTAX", f"the token has {dots + 1} segments; a compact JWE has 5.")
        return None
    segments = token.split(".")
    for index, name in ((0, "protected header"), (2, "IV"), (3, "ciphertext"), (4, "tag")):
        if not segments[index]:
            out.fail("TOK-SYNTAX", f"the JWE {name} segment is empty.")
            return None
    for index, name in ((1, "encrypted key"), (2, "IV"), (3, "ciphertext"), (4, "tag")):
        if segments[index] and b64url_bytes(segments[index], len(segments[index])) is None:
            out.fail("TOK-SYNTAX", f"the JWE {name} segment is not unpadded base64url.")
            return None
    return segments


def _charset_problem(token: str) -> str:
    if token.lstrip().startswith("{"):
        return ("the token is a JSON serialization; only the compact serialization is "
                "accepted for JWTs (RFC 7519 §7.2).")
    position = next((i for i, c in enumerate(token) if not _COMPACT.fullmatch(c)), 0)
    char = token[position]
    if char.isspace():
        kind = "whitespace"
    elif char == "=":
        kind = "base64 padding '='"
    elif char in "+/":
        kind = "a standard-base64 character (base64url uses '-' and '_')"
    else:
        kind = "a character outside base64url and '.'"
    return f"the token contains {kind} at position {position}."


def parse_header(segment: str, layer: str, out: Outcome) -> dict[str, Any] | None:
    """Decode one protected header (TOK-SYNTAX); ``None`` after a fatal failure."""
    try:
        header = parse_object(decode_segment(segment, f"{layer} header"), f"{layer} header")
    except Malformed as exc:
        out.fail("TOK-SYNTAX", f"{exc}.", pointer=f"/{layer}")
        return None
    out.ok("TOK-SYNTAX", f"The {layer} header is a JSON object.")
    return header


def _algorithm(out: Outcome, rule_id: str, table: Any, value: object, declared: str | None,
               name: str, pointer: str) -> None:
    """Allow-list verdict for ``value`` and its match with the profile's ``declared``."""
    policy = algorithms.classify(table, value)
    if value is None:
        out.fail(rule_id, f"the header has no `{name}`.", pointer=pointer)
    elif policy.verdict is Verdict.ALLOW:
        out.ok(rule_id, f"`{name}: {value}` is allowed.")
    elif policy.verdict is Verdict.WARN:
        out.fail(rule_id, f"`{name}: {value}` is allowed, but {policy.reason}.",
                 pointer=pointer, severity=Severity.LOW, fatal=False)
    elif policy.verdict is Verdict.CONDITIONAL:
        out.fail(rule_id, f"`{name}: {value}` is allowed only with care: {policy.reason}.",
                 pointer=pointer, severity=Severity.MEDIUM, fatal=False)
    else:
        severity = max(policy.severity or Severity.HIGH, get_rule(rule_id).severity,
                       key=lambda s: s.rank)
        out.fail(rule_id, f"`{name}` {_short(value)} is not allowed: {policy.reason}.",
                 pointer=pointer, severity=severity)
        return
    if declared is None:
        out.fail(rule_id, f"the API's profile declares no `{_profile_name(name)}`, so the "
                 "token cannot be compared with it.", pointer=pointer, fatal=False,
                 status=Status.MISSING_EVIDENCE)
    elif value is not None and value != declared:
        out.fail(rule_id, f"`{name}: {value}` differs from the `{declared}` the API "
                 "declares.", pointer=pointer)


def _profile_name(header_name: str) -> str:
    return {"alg": "alg", "enc": "enc", "inner alg": "signing-alg"}.get(header_name, header_name)


def check_outer_header(header: Mapping[str, Any], profile: TokenProfile, out: Outcome) -> None:
    """JWE-ALG-*, JWE-PBES2-P2C, JWE-ENC-ALLOWED, JWE-ZIP-DENIED, JWE-CTY-JWT and the HDR
    rules that apply to the outer header."""
    alg = header.get("alg")
    if alg == "RSA1_5":
        out.fail("JWE-ALG-DENY-RSA1_5", "`alg: RSA1_5` (RSAES-PKCS1-v1_5) is refused before "
                 "any RSA operation.", pointer="/outer/alg")
    else:
        out.ok("JWE-ALG-DENY-RSA1_5", "The outer `alg` is not RSA1_5.")
    if isinstance(alg, str) and alg.upper().startswith("PBES2"):
        p2c = header.get("p2c")
        count = f" with `p2c: {p2c}`" if isinstance(p2c, int) else ""
        out.fail("JWE-PBES2-P2C", f"password-based key wrapping `{alg[:40]}`{count} is "
                 "refused before any key derivation.", pointer="/outer/alg")
    else:
        out.ok("JWE-PBES2-P2C", "No PBES2 key wrapping.")
    _algorithm(out, "JWE-ALG-ALLOWED", algorithms.JWE_ALG, alg, profile.alg, "alg",
               "/outer/alg")
    _algorithm(out, "JWE-ENC-ALLOWED", algorithms.JWE_ENC, header.get("enc"), profile.enc,
               "enc", "/outer/enc")
    cty = header.get("cty")
    if isinstance(cty, str) and cty.upper() == "JWT":
        out.ok("JWE-CTY-JWT", "The outer header has `cty: JWT`.")
    else:
        found = "no `cty`" if cty is None else f"`cty` {_short(cty)}"
        out.fail("JWE-CTY-JWT", f"the outer header has {found}; a nested JWT must say "
                 "`cty: JWT` (RFC 7519 §5.2).", pointer="/outer/cty", fatal=False)
    check_common_header(header, "outer", out)


def check_inner_header(header: Mapping[str, Any], profile: TokenProfile, out: Outcome) -> None:
    """JWS-ALG-*, HDR-TYP-AT-JWT and the HDR rules that apply to the inner header."""
    alg = header.get("alg")
    if isinstance(alg, str) and alg.lower() == "none":
        out.fail("JWS-ALG-DENY-NONE", f"the inner token is unsecured (`alg: {alg}`): it has "
                 "no signature.", pointer="/inner/alg")
    else:
        out.ok("JWS-ALG-DENY-NONE", "The inner `alg` is not `none`.")
    if isinstance(alg, str) and alg.upper() in _HMAC:
        out.fail("JWS-ALG-DENY-HMAC", f"the inner token is HMAC-signed (`alg: {alg}`); "
                 "refused before any verification.", pointer="/inner/alg")
    else:
        out.ok("JWS-ALG-DENY-HMAC", "The inner `alg` is not HMAC.")
    _algorithm(out, "JWS-ALG-ALLOWED", algorithms.JWS_ALG, alg, profile.signing_alg,
               "inner alg", "/inner/alg")
    typ = header.get("typ")
    if isinstance(typ, str) and typ.lower() in _AT_JWT:
        out.ok("HDR-TYP-AT-JWT", f"The inner header has `typ: {typ}`.")
    else:
        found = "no `typ`" if typ is None else f"`typ` {_short(typ)}"
        out.fail("HDR-TYP-AT-JWT", f"the inner header has {found}; an access token says "
                 "`typ: at+jwt` (RFC 9068 §2.1), so this may be an ID token or another JWT.",
                 pointer="/inner/typ", fatal=False)
    check_common_header(header, "inner", out)


def check_common_header(header: Mapping[str, Any], layer: str, out: Outcome) -> None:
    """HDR-NO-KEY-REFS, HDR-KID-SAFE, HDR-CRIT and JWE-ZIP-DENIED for one layer."""
    refs = [name for name in KEY_REFERENCE_HEADERS if name in header]
    for name in refs:
        out.fail("HDR-NO-KEY-REFS", f"the {layer} header carries `{name}`; keys named in a "
                 "token are never used or fetched.", pointer=f"/{layer}/{name}")
    if not refs:
        out.ok("HDR-NO-KEY-REFS", f"The {layer} header names no key material or key URL.")
    kid = header.get("kid")
    if kid is None:
        out.fail("HDR-KID-SAFE", f"the {layer} header has no `kid`; the key must be named, "
                 "never guessed by trying every key.", pointer=f"/{layer}/kid")
    elif not isinstance(kid, str) or not _KID.fullmatch(kid) or ".." in kid:
        out.fail("HDR-KID-SAFE", f"the {layer} `kid` {_short(kid)} is not a plain key id "
                 "(`^[A-Za-z0-9._-]{1,128}$`, no `..`).", pointer=f"/{layer}/kid")
    else:
        out.ok("HDR-KID-SAFE", f"The {layer} `kid` is a plain key id.")
    problems = []
    if "crit" in header:
        crit = header["crit"]
        names = ", ".join(_short(c) for c in crit[:5]) if isinstance(crit, list) else \
            _short(crit)
        problems.append(f"`crit` [{names}] names extensions this checker does not understand")
    if "b64" in header:
        problems.append("`b64` (unencoded payload, RFC 7797) is not for JWTs")
    for problem in problems:
        out.fail("HDR-CRIT", f"the {layer} header: {problem}.", pointer=f"/{layer}/crit")
    if not problems:
        out.ok("HDR-CRIT", f"The {layer} header has no `crit` or `b64`.")
    if "zip" in header:
        out.fail("JWE-ZIP-DENIED", f"the {layer} header has `zip` {_short(header['zip'])}; "
                 "compressed tokens are refused before decryption, nothing is inflated.",
                 pointer=f"/{layer}/zip")
    else:
        out.ok("JWE-ZIP-DENIED", f"The {layer} header has no `zip`.")


def is_ecdh(alg: object) -> bool:
    """True for ``ECDH-ES`` and ``ECDH-ES+A*KW``."""
    return isinstance(alg, str) and (alg == "ECDH-ES" or alg.startswith("ECDH-ES+"))


def check_epk(header: Mapping[str, Any], encrypted_key: str,
              recipient: Mapping[str, Any] | None, out: Outcome) -> None:
    """JWE-EPK-VALID: shape, curve, point on the curve, empty encrypted key for direct
    ECDH-ES (RFC 7518 §4.6, RFC 8725 §3.4).  ``recipient`` is the selected decryption key
    (``None`` when none was found: its curve is then not compared)."""
    alg = header.get("alg")
    if not is_ecdh(alg):
        out.ok("JWE-EPK-VALID", "No ECDH-ES key agreement.", status=Status.NOT_APPLICABLE)
        return
    problem = _epk_problem(header.get("epk"), recipient)
    if problem is None and alg == "ECDH-ES" and encrypted_key:
        problem = "direct ECDH-ES must have an empty encrypted-key segment"
    if problem is not None:
        out.fail("JWE-EPK-VALID", f"{problem}.", pointer="/outer/epk")
    else:
        out.ok("JWE-EPK-VALID", "The ephemeral key is a valid point on the recipient's curve.")


def _epk_problem(epk: object, recipient: Mapping[str, Any] | None) -> str | None:  # noqa: PLR0911 - one return per refusal reason
    if not isinstance(epk, dict):
        return "ECDH-ES needs an `epk` object"
    kty, crv = epk.get("kty"), epk.get("crv")
    allowed = {"EC": {"kty", "crv", "x", "y"}, "OKP": {"kty", "crv", "x"}}.get(str(kty))
    if allowed is None:
        return f"`epk.kty` {_short(kty)} is not EC or OKP"
    extra = sorted(set(epk) - allowed)
    if extra:
        return f"`epk` carries {', '.join(_short(e, 20) for e in extra[:5])}; only " \
               f"{', '.join(sorted(allowed))} are allowed"
    if recipient is not None and (kty != recipient.get("kty") or crv != recipient.get("crv")):
        return f"`epk` is on {_short(crv)} but the recipient key is on " \
               f"{_short(recipient.get('crv'))}"
    if kty == "EC":
        if crv not in _EC_CURVES:
            return f"`epk.crv` {_short(crv)} is not P-256, P-384 or P-521"
        curve, size = _EC_CURVES[crv]
        x, y = b64url_bytes(epk.get("x"), size), b64url_bytes(epk.get("y"), size)
        if x is None or y is None or len(x) != size or len(y) != size:
            return f"`epk` coordinates are not {size}-byte base64url values"
        try:
            ec.EllipticCurvePublicNumbers(int.from_bytes(x, "big"), int.from_bytes(y, "big"),
                                          curve).public_key()
        except ValueError:
            return f"the `epk` point is not on {crv} (invalid-curve attack)"
        return None
    if crv not in _OKP_CURVES:
        return f"`epk.crv` {_short(crv)} is not X25519 or X448"
    cls, size = _OKP_CURVES[crv]
    x = b64url_bytes(epk.get("x"), size)
    if x is None or len(x) != size:
        return f"`epk.x` is not a {size}-byte base64url value"
    try:
        cls.from_public_bytes(x)
    except ValueError:
        return f"`epk.x` is not a valid {crv} public key"
    return None

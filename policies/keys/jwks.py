"""The JWKS checker: KEY-RSA-SIZE, KEY-CURVE, KEY-SEPARATION, KEY-JWKS-HYGIENE, KEY-JWKS-HTTPS.

:func:`check_jwks` reads a published key set (the issuer's signing keys or the API's public
encryption keys) from bytes, text or an already parsed mapping and never raises on bad input:
a set that is not JSON, has no ``keys`` array, holds private members, an unknown ``kty``,
duplicate ``kid`` values or a 1024-bit RSA key yields findings that say so.
:func:`compare_jwks` finds keys shared between two sets.  :func:`public_key_set` turns a
checked set into a jwcrypto ``JWKSet`` of public keys for the token checker.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal
from urllib.parse import urlsplit

from jwcrypto import jwk

from policies.findings import Finding, Status
from policies.keys import facts
from policies.rules import Severity, get_rule
from specs import strictjson

Purpose = Literal["issuer-signing", "api-encryption"]

#: largest JWKS document accepted (bytes of JSON)
MAX_JWKS_BYTES = 256 * 1024
#: most keys accepted in one set
MAX_KEYS = 100
_KNOWN_KTY = ("RSA", "EC", "OKP")
_RSA_PUBLIC = ("kty", "n", "e")
_EC_PUBLIC = ("kty", "crv", "x", "y")
_OKP_PUBLIC = ("kty", "crv", "x")


@dataclass(frozen=True, slots=True)
class KeySummary:
    """Public facts about one key of a set, safe to store and show.

    :ivar index: position in the ``keys`` array (0-based).
    :ivar kid: the key id, or ``None``.
    :ivar kty: ``RSA`` / ``EC`` / ``OKP`` / ``oct`` / anything the set said.
    :ivar crv: curve for EC/OKP keys.
    :ivar size: RSA modulus bits, or ``None``.
    :ivar use: ``use`` member, ``key_ops``, ``alg`` as published.
    :ivar thumbprint: RFC 7638 SHA-256 thumbprint (base64url), ``None`` if not a loadable key.
    """

    index: int
    kid: str | None
    kty: str | None
    crv: str | None = None
    size: int | None = None
    use: str | None = None
    key_ops: tuple[str, ...] | None = None
    alg: str | None = None
    thumbprint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {"index": self.index, "kid": self.kid, "kty": self.kty, "crv": self.crv,
                "size": self.size, "use": self.use,
                "key_ops": list(self.key_ops) if self.key_ops is not None else None,
                "alg": self.alg, "thumbprint": self.thumbprint}


@dataclass(frozen=True, slots=True)
class JwksAnalysis:
    """Result of :func:`check_jwks`.

    :ivar findings: one or more findings for each KEY rule evaluated.
    :ivar keys: a summary of every entry of ``keys`` that is a JSON object.
    :ivar passed: no finding blocks at a severity above ``low``.
    """

    findings: list[Finding]
    keys: list[KeySummary] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not any(f.status.blocks and f.severity.rank > Severity.LOW.rank
                       for f in self.findings)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form: ``findings``, ``keys``, ``passed``."""
        return {"findings": [f.to_dict() for f in self.findings],
                "keys": [k.to_dict() for k in self.keys], "passed": self.passed}


class _Findings:
    """Collects failures per rule; a rule without failures gets one ``pass``."""

    def __init__(self, rule_ids: Sequence[str]) -> None:
        self._rules = list(rule_ids)
        self._fails: dict[str, list[Finding]] = {r: [] for r in rule_ids}

    def fail(self, rule_id: str, message: str, pointer: str | None = None,
             severity: Severity | None = None) -> None:
        sev = severity or get_rule(rule_id).severity
        self._fails[rule_id].append(Finding(rule_id, sev, Status.FAIL, message, pointer))

    def finish(self, passes: Mapping[str, str]) -> list[Finding]:
        out: list[Finding] = []
        for rule_id in self._rules:
            if self._fails[rule_id]:
                out += self._fails[rule_id]
            else:
                out.append(Finding(rule_id, get_rule(rule_id).severity, Status.PASS,
                                   passes[rule_id]))
        return out


def _parse(data: bytes | str | Mapping[str, Any]) -> tuple[Any, str | None]:
    """``(document, problem)``: the parsed JSON value, or a problem text."""
    if isinstance(data, Mapping):
        return data, None
    if isinstance(data, str):
        if len(data) > MAX_JWKS_BYTES:
            return None, f"the key set is larger than {MAX_JWKS_BYTES // 1024} KiB"
        text = data
    elif isinstance(data, bytes | bytearray):
        if len(data) > MAX_JWKS_BYTES:
            return None, f"the key set is larger than {MAX_JWKS_BYTES // 1024} KiB"
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            return None, "the key set is not UTF-8 text"
    else:
        return None, f"the key set is a {type(data).__name__}, not JSON text"
    try:
        return strictjson.loads(text), None
    except RecursionError:
        return None, "the key set is not JSON: nested too deeply"
    except ValueError as exc:
        return None, f"the key set is not JSON: {_short(str(exc))}"


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _short(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _load_public(entry: Mapping[str, Any]) -> jwk.JWK | None:
    """A jwcrypto key built from the public members only, or ``None`` if they are invalid
    (an RSA modulus over 16384 bits, an EC point off its curve, a short OKP key ...)."""
    names = {"RSA": _RSA_PUBLIC, "EC": _EC_PUBLIC, "OKP": _OKP_PUBLIC}[entry["kty"]]
    members = {n: entry[n] for n in names if n in entry}
    if entry.get("kty") == "RSA" and facts.rsa_bits(entry) is None:
        return None
    try:
        key = jwk.JWK(**members)
        key.export_to_pem(private_key=False)  # loads it in `cryptography`: point on curve
    except Exception:  # noqa: BLE001 - jwcrypto raises many types for bad key material
        return None
    return key


def check_jwks(
    data: bytes | str | Mapping[str, Any], *, purpose: Purpose | None = None
) -> JwksAnalysis:
    """Check a published JWK Set against the KEY rules.

    :param data: the JWKS as JSON bytes/text (at most 256 KiB) or a parsed mapping.
    :param purpose: ``"issuer-signing"`` (every key must be a signing key),
        ``"api-encryption"`` (every key must be an encryption key) or ``None`` (either, but
        never one key for both).
    :returns: :class:`JwksAnalysis` with findings for KEY-JWKS-HYGIENE, KEY-RSA-SIZE,
        KEY-CURVE and KEY-SEPARATION (each a ``pass`` or one ``fail`` per problem) and a
        summary of each key.  Never raises for bad input; malformed sets are
        KEY-JWKS-HYGIENE failures.
    """
    rules = ("KEY-JWKS-HYGIENE", "KEY-RSA-SIZE", "KEY-CURVE", "KEY-SEPARATION")
    out = _Findings(rules)
    want = {"issuer-signing": "sig", "api-encryption": "enc", None: None}.get(purpose, "?")
    doc, problem = _parse(data)
    if problem is None and not isinstance(doc, Mapping):
        problem = f"the key set is a JSON {type(doc).__name__}, not an object with `keys`"
    if problem is None and not isinstance(doc.get("keys"), list):
        problem = "the key set has no `keys` array"
    if problem is None and not doc["keys"]:
        problem = "the key set's `keys` array is empty"
    if problem is None and len(doc["keys"]) > MAX_KEYS:
        problem = f"the key set holds more than {MAX_KEYS} keys"
    if problem is not None:
        return JwksAnalysis(_unreadable(problem, rules))
    if want == "?":
        out.fail("KEY-SEPARATION", f"unknown key-set purpose {purpose!r}.", "")

    summaries: list[KeySummary] = []
    by_print: dict[str, list[tuple[int, str | None]]] = {}
    by_modulus: dict[str, list[tuple[int, str | None]]] = {}
    for index, entry in enumerate(doc["keys"]):
        where = f"/keys/{index}"
        if not isinstance(entry, Mapping):
            out.fail("KEY-JWKS-HYGIENE", f"key {index} is not a JSON object.", where)
            continue
        summary, key_purpose = _check_entry(index, entry, where, want, out)
        summaries.append(summary)
        if summary.thumbprint and key_purpose:
            by_print.setdefault(summary.thumbprint, []).append((index, key_purpose))
            if entry.get("kty") == "RSA":
                by_modulus.setdefault(entry["n"], []).append((index, key_purpose))
    _check_kids(doc["keys"], out)
    for groups, how in ((by_print, "thumbprint"), (by_modulus, "RSA modulus")):
        for uses in groups.values():
            if len({p for _, p in uses}) > 1:
                which = ", ".join(str(i) for i, _ in uses)
                out.fail("KEY-SEPARATION", f"keys {which} are the same key (same {how}) "
                         "published for both signing and encryption.", "/keys")
    passes = {
        "KEY-JWKS-HYGIENE": f"{len(summaries)} public key(s), no private members, unique kids.",
        "KEY-RSA-SIZE": "every RSA key has at least 3072 bits (or there is none).",
        "KEY-CURVE": "every EC/OKP curve is allowed (or there is none).",
        "KEY-SEPARATION": "every key declares one purpose and an `alg` that fits it.",
    }
    return JwksAnalysis(out.finish(passes), summaries)


def _unreadable(problem: str, rules: Sequence[str]) -> list[Finding]:
    """A critical KEY-JWKS-HYGIENE failure, and ``missing-evidence`` for the other rules."""
    findings = [Finding("KEY-JWKS-HYGIENE", Severity.CRITICAL, Status.FAIL, problem + ".", "")]
    for rule_id in rules[1:]:
        findings.append(Finding(rule_id, get_rule(rule_id).severity, Status.MISSING_EVIDENCE,
                                "not evaluated: the key set could not be read."))
    return findings


def _check_entry(
    index: int, entry: Mapping[str, Any], where: str, want: str | None, out: _Findings
) -> tuple[KeySummary, str | None]:
    kty, kid = entry.get("kty"), entry.get("kid")
    label = f"key {index}" + (f" (kid {kid!r})" if isinstance(kid, str) else "")
    private = [m for m in facts.PRIVATE_MEMBERS if m in entry]
    if kty == "oct":
        out.fail("KEY-JWKS-HYGIENE", f"{label} is a symmetric `oct` key: a secret must never "
                 "be published.", where, Severity.CRITICAL)
    elif private:
        out.fail("KEY-JWKS-HYGIENE", f"{label} publishes private key material "
                 f"({', '.join(private)}).", where, Severity.CRITICAL)
    ops = entry.get("key_ops")
    summary = KeySummary(
        index=index, kid=_str(kid), kty=_str(kty), crv=_str(entry.get("crv")),
        use=_str(entry.get("use")),
        key_ops=tuple(ops) if isinstance(ops, list) and all(isinstance(o, str) for o in ops)
        else None,
        alg=_str(entry.get("alg")),
    )
    if kty == "oct":
        return summary, None
    if kty not in _KNOWN_KTY:
        out.fail("KEY-JWKS-HYGIENE", f"{label} has unknown key type {kty!r} (jwcrypto skips "
                 "such keys silently); publish only RSA, EC or OKP keys.", where,
                 Severity.HIGH)
        return summary, None
    loaded = _load_public(entry)
    if loaded is None:
        out.fail("KEY-JWKS-HYGIENE", f"{label} is not a valid {kty} public key.", where,
                 Severity.HIGH)
        return summary, None
    summary = replace(summary, thumbprint=loaded.thumbprint(),
                      size=facts.rsa_bits(entry) if kty == "RSA" else None)
    for weakness in (facts.size_problem(entry), facts.curve_problem(entry)):
        if weakness is not None:
            out.fail(weakness.rule_id, f"{label}: {weakness.message}.", where,
                     weakness.severity)
    key_purpose, problem = facts.key_purpose(entry)
    if problem is not None:
        out.fail("KEY-SEPARATION", f"{label}: {problem}.", where)
    alg_issue = facts.alg_problem(entry, key_purpose)
    if alg_issue is not None:
        out.fail("KEY-SEPARATION", f"{label}: {alg_issue}.", where)
    if want in ("sig", "enc") and key_purpose is not None and key_purpose != want:
        kind = "signing" if want == "sig" else "encryption"
        out.fail("KEY-SEPARATION", f"{label} is declared for {key_purpose!r} in a {kind} key "
                 "set.", where)
    return summary, key_purpose


def _check_kids(entries: list[Any], out: _Findings) -> None:
    kids: Counter[str] = Counter()
    for index, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            continue
        kid = entry.get("kid")
        if not isinstance(kid, str) or not kid:
            out.fail("KEY-JWKS-HYGIENE", f"key {index} has no `kid` (tokens cannot name it).",
                     f"/keys/{index}", Severity.LOW)
        else:
            kids[kid] += 1
    for kid, count in kids.items():
        if count > 1:
            out.fail("KEY-JWKS-HYGIENE", f"kid {kid!r} is used by {count} keys; kids must be "
                     "unique so a token names exactly one key.", "/keys", Severity.LOW)


def compare_jwks(
    issuer: bytes | str | Mapping[str, Any], api: bytes | str | Mapping[str, Any]
) -> list[Finding]:
    """KEY-SEPARATION across two sets: no key (by RFC 7638 thumbprint or RSA modulus) is in
    both the issuer's signing set and the API's encryption set.

    :returns: one ``pass``, one ``fail`` per shared key, or one ``missing-evidence`` when a
        set cannot be read (check it with :func:`check_jwks` for the reason).
    """
    rule = get_rule("KEY-SEPARATION")
    prints: list[dict[str, str]] = []
    for data in (issuer, api):
        doc, problem = _parse(data)
        if problem is not None or not isinstance(doc, Mapping) \
                or not isinstance(doc.get("keys"), list):
            return [Finding(rule.id, rule.severity, Status.MISSING_EVIDENCE,
                            "cannot compare key sets: one of them is not a readable JWKS.")]
        found: dict[str, str] = {}
        for entry in doc["keys"][:MAX_KEYS]:
            if isinstance(entry, Mapping) and entry.get("kty") in _KNOWN_KTY:
                key = _load_public(entry)
                if key is not None:
                    label = repr(entry.get("kid", "(no kid)"))
                    found["tp:" + key.thumbprint()] = label
                    if entry.get("kty") == "RSA":
                        found["n:" + str(entry["n"])] = label
        prints.append(found)
    shared = sorted({prints[0][k] for k in prints[0].keys() & prints[1].keys()})
    if not shared:
        return [Finding(rule.id, rule.severity, Status.PASS,
                        "the issuer's signing keys and the API's encryption keys are distinct.")]
    return [Finding(rule.id, rule.severity, Status.FAIL,
                    f"issuer key {label} is also an API encryption key; one key must serve "
                    "one purpose.") for label in shared]


def check_key_urls(issuer: object, jwks_uri: object) -> list[Finding]:
    """KEY-JWKS-HTTPS: the issuer and its ``jwks_uri`` are absolute https URLs.

    :returns: one ``pass``, a ``fail`` per bad URL, or ``missing-evidence`` when neither is
        given.
    """
    rule = get_rule("KEY-JWKS-HTTPS")
    if issuer is None and jwks_uri is None:
        return [Finding(rule.id, rule.severity, Status.MISSING_EVIDENCE,
                        "no issuer or jwks-uri declared (x-token-encryption).")]
    fails = []
    for name, value in (("issuer", issuer), ("jwks-uri", jwks_uri)):
        if value is None:
            continue
        try:
            ok = isinstance(value, str) and urlsplit(value).scheme == "https" \
                and bool(urlsplit(value).hostname)
        except ValueError:
            ok = False
        if not ok:
            fails.append(Finding(rule.id, rule.severity, Status.FAIL,
                                 f"`{name}` must be an absolute https URL, not "
                                 f"{_short(repr(value), 80)}."))
    return fails or [Finding(rule.id, rule.severity, Status.PASS,
                             "issuer and jwks-uri are https URLs.")]


def public_key_set(data: bytes | str | Mapping[str, Any]) -> jwk.JWKSet:
    """A jwcrypto ``JWKSet`` holding only the public members of each readable RSA/EC/OKP key
    of ``data`` (with its ``kid``, ``use``, ``key_ops`` and ``alg``); unreadable entries are
    left out (:func:`check_jwks` reports them).  Never raises for bad input: an unreadable
    set gives an empty ``JWKSet``."""
    result = jwk.JWKSet()
    doc, problem = _parse(data)
    if problem is not None or not isinstance(doc, Mapping) \
            or not isinstance(doc.get("keys"), list):
        return result
    for entry in doc["keys"][:MAX_KEYS]:
        if not isinstance(entry, Mapping) or entry.get("kty") not in _KNOWN_KTY:
            continue
        key = _load_public(entry)
        if key is None:
            continue
        extra = {n: entry[n] for n in ("kid", "use", "key_ops", "alg") if n in entry}
        try:
            key = jwk.JWK(**key.export_public(as_dict=True), **extra)
        except Exception:  # noqa: BLE001 - malformed use/key_ops/alg values
            continue
        result.add(key)
    return result

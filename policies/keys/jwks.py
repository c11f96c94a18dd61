"""The JWKS checker: KEY-RSA-SIZE, KEY-CURVE, KEY-SEPARATION, KEY-JWKS-HYGIENE, KEY-JWKS-HTTPS.

:func:`check_jwks` reads a published key set (the issuer's signing keys or the API's public
encryption keys) from bytes, text or an already parsed mapping and never raises on bad input:
a set that is not JSON, has no ``keys`` array, holds private members, an unknown ``kty``,
duplicate ``kid`` values or a 1024-bit RSA key yields findings that say so.
:func:`compare_jwks` finds keys shared between two sets.  Keys are read into their numbers
(:mod:`policies.keys.canonical`): a non-canonical spelling (zero-padded ``n``, ``e =
AAEAAQ``, an EC coordinate not exactly the field size or not below ``p``) is a
KEY-JWKS-HYGIENE failure, an EC point off its curve is an invalid key, and keys are compared
by value, never by spelling.  :func:`public_key_set` turns a
checked set into a jwcrypto ``JWKSet`` of public keys for the token checker.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import Counter, OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal
from urllib.parse import urlsplit

from jwcrypto import jwk

from policies.findings import Finding, Status
from policies.keys import canonical, facts
from policies.rules import Severity, get_rule
from specs import strictjson

Purpose = Literal["issuer-signing", "api-encryption"]

#: largest JWKS document accepted (bytes of JSON)
MAX_JWKS_BYTES = 256 * 1024
#: most keys accepted in one set
MAX_KEYS = 100
#: most key sets :func:`shared_public_key_set` keeps per process
SHARED_KEY_SETS = 64
_KNOWN_KTY = ("RSA", "EC", "OKP")


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


def _value_or_none(entry: Mapping[str, Any]) -> canonical.KeyValue | None:
    """The key an RSA/EC/OKP entry denotes (however it is spelled), or ``None``."""
    if entry.get("kty") not in _KNOWN_KTY:
        return None
    return canonical.parse_public_key(entry).value


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
    values: list[tuple[int, canonical.KeyValue, str | None]] = []
    for index, entry in enumerate(doc["keys"]):
        where = f"/keys/{index}"
        if not isinstance(entry, Mapping):
            out.fail("KEY-JWKS-HYGIENE", f"key {index} is not a JSON object.", where)
            continue
        summary, key_purpose, value = _check_entry(index, entry, where, want, out)
        summaries.append(summary)
        if value is not None:
            values.append((index, value, key_purpose))
    _check_kids(doc["keys"], out)
    _check_same_keys(values, out)
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
) -> tuple[KeySummary, str | None, canonical.KeyValue | None]:
    """Hygiene, encoding, size, curve and purpose of one key; ``(summary, purpose, value)``
    where ``value`` is the key the entry denotes (even when spelled non-canonically)."""
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
        return summary, None, None
    if kty not in _KNOWN_KTY:
        out.fail("KEY-JWKS-HYGIENE", f"{label} has unknown key type {kty!r} (jwcrypto skips "
                 "such keys silently); publish only RSA, EC or OKP keys.", where,
                 Severity.HIGH)
        return summary, None, None
    parsed = canonical.parse_public_key(entry)
    value = parsed.value
    if value is None:
        also = "".join(f"; also, {p.message}" for p in parsed.problems)
        out.fail("KEY-JWKS-HYGIENE", f"{label} is not a valid {kty} public key: "
                 f"{parsed.invalid}{also}.", where, Severity.HIGH)
        return summary, None, None
    for spelling in parsed.problems:
        out.fail("KEY-JWKS-HYGIENE", f"{label} is not canonically encoded: "
                 f"{spelling.message}. Libraries read such a spelling as the same key under "
                 "another thumbprint; publish the canonical form.",
                 f"{where}/{spelling.member}", Severity.HIGH)
    summary = replace(summary, thumbprint=value.thumbprint,
                      size=value.modulus.bit_length() if value.modulus is not None else None)
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
    return summary, key_purpose, value


def _check_same_keys(values: Sequence[tuple[int, canonical.KeyValue, str | None]],
                     out: _Findings) -> None:
    """KEY-SEPARATION (one key for signing and encryption) and KEY-JWKS-HYGIENE (one key
    published twice), comparing keys by value: the canonical RFC 7638 members, and for RSA
    also the modulus alone (a shared ``n`` is a shared private key whatever ``e`` says)."""
    groups: dict[tuple[str, object], list[tuple[int, str | None]]] = {}
    for index, value, purpose in values:
        groups.setdefault(("key", value.identity), []).append((index, purpose))
        if value.modulus is not None:
            groups.setdefault(("n", value.modulus), []).append((index, purpose))
    reported: set[tuple[int, ...]] = set()
    for (how, _), members in groups.items():
        indices = tuple(i for i, _ in members)
        if len(indices) < 2 or indices in reported:
            continue
        reported.add(indices)
        which = ", ".join(str(i) for i in indices)
        same = ("same RFC 7638 thumbprint of the canonical form" if how == "key"
                else "same RSA modulus `n`")
        if len({p for _, p in members if p is not None}) > 1:
            out.fail("KEY-SEPARATION", f"keys {which} are the same key ({same}, compared by "
                     "value, not by spelling) published for both signing and encryption.",
                     "/keys")
        else:
            out.fail("KEY-JWKS-HYGIENE", f"keys {which} are the same key ({same}, compared "
                     "by value) published more than once; publish each key once.", "/keys",
                     Severity.LOW)


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


def key_values(data: bytes | str | Mapping[str, Any]) -> list[tuple[str, canonical.KeyValue]]:
    """``(label, value)`` for every RSA/EC/OKP entry of a JWKS whose numbers denote a valid
    public key, however they are spelled (padded ``n``, 33-octet ``x`` ...).

    :param data: a JWKS as JSON bytes/text or a parsed mapping.
    :returns: the label is the entry's ``kid`` as ``repr`` (or ``'(no kid)'``); an
        unreadable set or entry contributes nothing.  Never raises.
    """
    doc, problem = _parse(data)
    if problem is not None or not isinstance(doc, Mapping) \
            or not isinstance(doc.get("keys"), list):
        return []
    found: list[tuple[str, canonical.KeyValue]] = []
    for entry in doc["keys"][:MAX_KEYS]:
        if isinstance(entry, Mapping):
            value = _value_or_none(entry)
            if value is not None:
                found.append((repr(entry.get("kid", "(no kid)")), value))
    return found


def compare_jwks(
    issuer: bytes | str | Mapping[str, Any], api: bytes | str | Mapping[str, Any]
) -> list[Finding]:
    """KEY-SEPARATION across two sets: no key of the issuer's signing set is also a key of
    the API's encryption set.  Keys are compared by value (RFC 7638 thumbprint of the
    canonical members, and for RSA the modulus ``n``), so a zero-padded ``n``, ``e =
    AAEAAQ`` or a 33-octet EC ``x`` does not hide a shared key.

    This is the function to apply against a version's managed keys: pass the issuer JWKS
    as ``issuer`` and the managed *public* JWKS (``{"keys": [...]}``) as ``api``.

    :returns: one ``pass``, one ``fail`` per shared issuer key, or one ``missing-evidence``
        when a set cannot be read (check it with :func:`check_jwks` for the reason).
    """
    rule = get_rule("KEY-SEPARATION")
    for data in (issuer, api):
        doc, problem = _parse(data)
        if problem is not None or not isinstance(doc, Mapping) \
                or not isinstance(doc.get("keys"), list):
            return [Finding(rule.id, rule.severity, Status.MISSING_EVIDENCE,
                            "cannot compare key sets: one of them is not a readable JWKS.")]
    api_ids: dict[object, str] = {}
    for label, value in key_values(api):
        api_ids.setdefault(("key", value.identity), label)
        if value.modulus is not None:
            api_ids.setdefault(("n", value.modulus), label)
    shared: dict[str, str] = {}
    for label, value in key_values(issuer):
        for ident in (("key", value.identity), ("n", value.modulus)):
            if ident in api_ids and label not in shared:
                shared[label] = api_ids[ident]
    if not shared:
        return [Finding(rule.id, rule.severity, Status.PASS,
                        "the issuer's signing keys and the API's encryption keys are distinct "
                        "(compared by value).")]
    return [Finding(rule.id, rule.severity, Status.FAIL,
                    f"issuer key {label} is also API encryption key {other} (same key by "
                    "value); one key must serve one purpose.")
            for label, other in sorted(shared.items())]


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
    """A jwcrypto ``JWKSet`` of the canonically encoded, valid RSA/EC/OKP keys of ``data``,
    each holding only its canonical public members plus ``kid``, ``use``, ``key_ops`` and
    ``alg``.  Keys that are unreadable, invalid (an EC point off its curve) or spelled
    non-canonically (RFC 7518 §2, §6.2.1.2, §6.3.1) are refused, i.e. left out
    (:func:`check_jwks` says why).  Never raises for bad input: an unreadable set gives an
    empty ``JWKSet``."""
    result = jwk.JWKSet()
    doc, problem = _parse(data)
    if problem is not None or not isinstance(doc, Mapping) \
            or not isinstance(doc.get("keys"), list):
        return result
    for entry in doc["keys"][:MAX_KEYS]:
        if not isinstance(entry, Mapping) or entry.get("kty") not in _KNOWN_KTY:
            continue
        parsed = canonical.parse_public_key(entry)
        if not parsed.canonical or parsed.value is None:
            continue
        extra = {n: entry[n] for n in ("kid", "use", "key_ops", "alg") if n in entry}
        try:
            key = jwk.JWK(**parsed.value.public_members(), **extra)
        except Exception:  # noqa: BLE001 - malformed use/key_ops/alg values
            continue
        result.add(key)
    return result


_shared: OrderedDict[str, jwk.JWKSet] = OrderedDict()
_shared_lock = threading.Lock()


def _content_digest(data: bytes | str | Mapping[str, Any]) -> str | None:
    """SHA-256 hex of the key set's text (a mapping: of its sorted compact JSON)."""
    if isinstance(data, bytes | bytearray):
        raw = bytes(data)
    elif isinstance(data, str):
        raw = data.encode("utf-8", "surrogatepass")
    else:
        try:
            raw = json.dumps(data, sort_keys=True, separators=(",", ":")).encode("utf-8")
        except (TypeError, ValueError):
            return None
    return hashlib.sha256(raw).hexdigest()


def shared_public_key_set(data: bytes | str | Mapping[str, Any]) -> jwk.JWKSet:
    """:func:`public_key_set`, made once per distinct key-set content and process.

    Building the set costs about 0.5 ms for an EC P-256 plus an RSA-3072 key, and a fresh
    ``JWK`` must load its ``cryptography`` key again on first use (about 0.8 ms more for
    RSA-3072); a token analysis that rebuilds the issuer set per call pays both.  This keeps
    the last :data:`SHARED_KEY_SETS` sets, keyed by the SHA-256 of their text (so a rotated
    set is a new entry and the old one ages out), and returns the same ``JWKSet`` object for
    the same content.  Thread-safe.

    :param data: as for :func:`public_key_set`.
    :returns: a ``JWKSet`` the caller must treat as read-only (pass it to
        :func:`policies.tokens.check_token` as ``issuer_jwks``; do not add or change keys).
    """
    digest = _content_digest(data)
    if digest is None:
        return public_key_set(data)
    with _shared_lock:
        found = _shared.get(digest)
        if found is not None:
            _shared.move_to_end(digest)
            return found
    built = public_key_set(data)
    with _shared_lock:
        found = _shared.setdefault(digest, built)
        _shared.move_to_end(digest)
        while len(_shared) > SHARED_KEY_SETS:
            _shared.popitem(last=False)
    return found

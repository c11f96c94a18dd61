"""Select the one key a token header names, and check it is bound to that use and alg.

No try-every-key fallback: the ``kid`` must name exactly one key (JWE-KEY-BOUND for the
API's decryption keys, JWS-SIG-ISSUER-KEY for the issuer's signing keys).  jwcrypto does not
bind a JWK's ``alg`` to the header ``alg`` nor enforce a minimum RSA size; both are checked
here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, TypeAlias

from jwcrypto import jwk

from policies.keys import facts
from policies.rules import Severity
from policies.tokens.results import Outcome

KeySource: TypeAlias = jwk.JWKSet | jwk.JWK | Iterable[jwk.JWK] | None


def as_key_list(keys: KeySource) -> list[jwk.JWK]:
    """The keys of a ``JWKSet``, a single ``JWK`` or an iterable of them (``None``: none)."""
    if keys is None:
        return []
    if isinstance(keys, jwk.JWKSet):
        return list(keys["keys"])
    if isinstance(keys, jwk.JWK):
        return [keys]
    return [k for k in keys if isinstance(k, jwk.JWK)]


class KeyFileError(ValueError):
    """A decryption-key file cannot be used; ``str(exc)`` says why (no key material)."""


#: the most bytes a decryption-key file may have
MAX_KEY_FILE_BYTES = 256 * 1024


def has_secret(key: Mapping[str, Any]) -> bool:
    """True when ``key`` can decrypt: an RSA/EC/OKP key with its private ``d``, or a
    symmetric ``oct`` key with its ``k`` (jwcrypto's ``has_private`` is ``False`` for
    ``oct`` keys: it counts only asymmetric private members)."""
    if key.get("kty") == "oct":
        return isinstance(key.get("k"), str) and bool(key.get("k"))
    return "d" in key


def load_decryption_keys(raw: bytes, *, alg: str | None = None,
                         kid: str | None = None) -> list[jwk.JWK]:
    """The decryption keys of a key file: a private JWK, a JWKS, a PEM private key, or a
    symmetric ``oct`` JWK (for ``A*KW``, ``A*GCMKW`` and ``dir``; the policy allows those
    conditionally, RFC 7518 §4.4, §4.5, §4.7, and the token report says so at medium
    severity under JWE-ALG-ALLOWED).

    :param raw: the file's bytes (at most :data:`MAX_KEY_FILE_BYTES`).
    :param alg: set as ``alg`` on each key that declares none.
    :param kid: set as ``kid`` on every key; otherwise a key without ``kid`` gets its
        RFC 7638 thumbprint.
    :returns: the keys holding secret material; a PEM key gets ``use: enc`` (a PEM file
        cannot declare it), a JWK keeps what it declares (JWE-KEY-BOUND judges it).
    :raises KeyFileError: the file is too large or no key can be read from it ("not a
        private JWK, JWKS or PEM key"), or it holds public keys only ("holds only public
        keys ... no `d`, no symmetric `k`").  The message never contains key material.
    """
    if len(raw) > MAX_KEY_FILE_BYTES:
        raise KeyFileError(f"the key file is larger than {MAX_KEY_FILE_BYTES // 1024} KiB")
    text = raw.decode("utf-8", "replace").strip()
    found: list[jwk.JWK] = []
    try:
        if text.startswith("{"):
            doc = json.loads(text)
            entries = doc["keys"] if isinstance(doc, dict) and "keys" in doc else [doc]
            found = [jwk.JWK(**e) for e in entries if isinstance(e, dict)]
        else:
            found = [jwk.JWK.from_pem(raw)]
            if "use" not in found[0]:  # PEM cannot say; a JWK must (JWE-KEY-BOUND)
                found[0].update({"use": "enc"})
    except Exception:  # noqa: BLE001 - jwcrypto/cryptography raise many types for junk
        raise KeyFileError("not a private JWK, JWKS or PEM key") from None
    secret = [k for k in found if has_secret(k)]
    if not secret:
        kinds = sorted({str(k.get("kty")) for k in found}) or ["no"]
        raise KeyFileError(f"holds only public keys ({', '.join(kinds)} without a private "
                           "`d`, and no symmetric `oct` key with `k`): the API's private "
                           "decryption key is needed")
    for key in secret:
        if kid:
            key.update({"kid": kid})
        if alg and "alg" not in key:
            key.update({"alg": alg})
        if "kid" not in key:
            key.update({"kid": key.thumbprint()})
    return secret


def _pick(keys: list[jwk.JWK], kid: str, rule_id: str, what: str,
          out: Outcome) -> jwk.JWK | None:
    matches = [k for k in keys if k.get("kid") == kid]
    if not matches:
        out.fail(rule_id, f"no {what} has the token's `kid`.")
        return None
    if len(matches) > 1:
        out.fail(rule_id, f"{len(matches)} {what}s share the token's `kid`; it must name "
                 "exactly one key.")
        return None
    return matches[0]


def _strength(key: Mapping[str, Any], layer: str, out: Outcome) -> bool:
    """KEY-RSA-SIZE and KEY-CURVE for the selected key; ``False`` if it must not be used."""
    usable = True
    for rule_id, problem, fine in (
        ("KEY-RSA-SIZE", facts.size_problem(key), f"The {layer} key is not a small RSA key."),
        ("KEY-CURVE", facts.curve_problem(key), f"The {layer} key's curve (if any) is allowed."),
    ):
        if problem is None:
            out.ok(rule_id, fine)
            continue
        fatal = problem.severity is Severity.CRITICAL
        out.fail(rule_id, f"the {layer} key: {problem.message}.", severity=problem.severity,
                 fatal=fatal)
        usable = usable and not fatal
    return usable


def decryption_key(keys: KeySource, header: Mapping[str, Any], out: Outcome) -> jwk.JWK | None:
    """The API decryption key named by the outer ``kid`` (JWE-KEY-BOUND), or ``None``."""
    rule = "JWE-KEY-BOUND"
    key = _pick(as_key_list(keys), header["kid"], rule, "API decryption key", out)
    if key is None:
        return None
    purpose, problem = facts.key_purpose(key)
    ops = key.get("key_ops")
    if problem is not None:
        out.fail(rule, f"the decryption key: {problem}.")
    elif purpose != "enc":
        out.fail(rule, "the key named by `kid` is a signing key, not an encryption key.")
    elif ops is not None and not facts.DECRYPTION_OPS & set(ops):
        out.fail(rule, f"the decryption key's `key_ops` {ops} allow no decryption.")
    elif not has_secret(key):
        out.fail(rule, "the key named by `kid` has no private part (no `d`, or no `k` for "
                 "an `oct` key), so it cannot decrypt.")
    elif key.get("alg") != header.get("alg"):
        found = key.get("alg")
        out.fail(rule, f"the decryption key is for `alg` {found!r}, but the token uses "
                 f"{header.get('alg')!r}; each key serves exactly one algorithm."
                 if found else "the decryption key declares no `alg`; each key must serve "
                 "exactly one algorithm.")
    elif (fit := facts.alg_problem(key, "enc")) is not None:
        out.fail(rule, f"the decryption key: {fit}.")
    elif (size := facts.oct_size_problem(key, header.get("alg"), header.get("enc"))):
        out.fail(rule, f"the decryption key: {size}.")
    else:
        if not _strength(key, "decryption", out):
            return None
        out.ok(rule, "The outer `kid` names one encryption key bound to the token's `alg`.")
        return key
    return None


def signing_key(keys: KeySource, header: Mapping[str, Any], out: Outcome) -> jwk.JWK | None:
    """The issuer signing key named by the inner ``kid`` (JWS-SIG-ISSUER-KEY), or ``None``."""
    rule = "JWS-SIG-ISSUER-KEY"
    key = _pick(as_key_list(keys), header["kid"], rule, "issuer signing key", out)
    if key is None:
        return None
    purpose, problem = facts.key_purpose(key)
    if problem is not None:
        out.fail(rule, f"the issuer key: {problem}.")
    elif purpose != "sig":
        out.fail(rule, "the key named by the inner `kid` is an encryption key, not a signing "
                 "key.")
    elif key.get("alg") != header.get("alg"):
        found = key.get("alg")
        out.fail(rule, f"the issuer key is for `alg` {found!r}, but the token is signed with "
                 f"{header.get('alg')!r}." if found else
                 "the issuer key declares no `alg`; each key must serve exactly one algorithm.")
    elif (fit := facts.alg_problem(key, "sig")) is not None:
        out.fail(rule, f"the issuer key: {fit}.")
    elif _strength(key, "signing", out):
        return key
    return None

"""The attack matrix of the gateway proof (issue 11 point 4): ephemeral keys and requests.

:class:`ProofKeys` makes an ephemeral issuer signing key and API encryption key for a
profile; :func:`build_attack_matrix` builds, with those keys, a good nested token and the
attacks of ``docs/jwt-policy.md`` §3 (A01–A30) plus the transport rules (TRN-*) as
:class:`AttackCase` requests that the proof runner (``lifecycle/gateway/proof.py``) sends
through a real nginx in front of the validator.

Tokens are built here with jwcrypto and ``jwa.JWA.signing_alg(alg).sign`` directly, so that
headers jwcrypto refuses to emit (``alg: none``, HS256 with a public key as secret, ``jku``)
can be produced.  Keys and tokens live only in memory for one run: never store or log them
(a case's ``headers`` and ``query`` hold tokens; its ``id``/``title``/``rule`` do not).
"""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from jwcrypto import jwa, jwe, jwk  # type: ignore[import-untyped]

from lifecycle.gateway.validator import (
    RULE_BEARER_HEADER,
    RULE_NO_TOKEN,
    RULE_TOKEN_IN_URL,
    VersionTrust,
)
from policies.tokens import TokenProfile

#: RSA modulus size of generated RSA keys, bits (NIST SP 800-57: 128-bit strength)
RSA_BITS = 3072
#: the token limit of the checker (``TokenLimits.max_token_bytes``) is 8 KiB: this is above it
OVERSIZED_TOKEN_BYTES = 10 * 1024
#: bigger than any sane nginx header buffer (default ``large_client_header_buffers 4 8k``)
OVERSIZED_HEADER_BYTES = 48 * 1024

_EC_SIGNING = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
_OCT_BITS = {"A128KW": 128, "A192KW": 192, "A256KW": 256, "A128GCMKW": 128,
             "A192GCMKW": 192, "A256GCMKW": 256}
_DIR_BITS = {"A128GCM": 128, "A192GCM": 192, "A256GCM": 256, "A128CBC-HS256": 256,
             "A192CBC-HS384": 384, "A256CBC-HS512": 512}
_SIGNATURE_BYTES = {"ES256": 64, "ES384": 96, "ES512": 132}


def _b64(data: bytes | str) -> str:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64json(value: Any) -> str:
    return _b64(json.dumps(value, separators=(",", ":")))


def _with_kid(key: jwk.JWK) -> jwk.JWK:
    key["kid"] = key.thumbprint()
    return key


def signing_key_for(alg: str) -> jwk.JWK:
    """A fresh private signing key for JWS ``alg`` (``use: sig``, ``alg`` and thumbprint
    ``kid`` set): ES256/384/512 -> EC P-256/384/521; PS*/RS* -> RSA 3072; Ed25519/EdDSA ->
    OKP Ed25519.

    :raises ValueError: for an algorithm with no asymmetric key (HS*, none, unknown).
    """
    if alg in _EC_SIGNING:
        key = jwk.JWK.generate(kty="EC", crv=_EC_SIGNING[alg], use="sig", alg=alg)
    elif alg[:2] in ("PS", "RS") and alg[2:] in ("256", "384", "512"):
        key = jwk.JWK.generate(kty="RSA", size=RSA_BITS, use="sig", alg=alg)
    elif alg in ("Ed25519", "EdDSA"):
        key = jwk.JWK.generate(kty="OKP", crv="Ed25519", use="sig", alg=alg)
    else:
        raise ValueError(f"no signing key type for JWS alg {alg!r}")
    return _with_kid(key)


def encryption_key_for(alg: str, enc: str | None = None) -> jwk.JWK:
    """A fresh private key for JWE ``alg`` (``use: enc``, ``alg``, thumbprint ``kid``):
    RSA-OAEP* -> RSA 3072; ECDH-ES* -> EC P-256; A*KW / A*GCMKW -> an oct key of that size;
    ``dir`` -> an oct key of ``enc``'s size.

    :raises ValueError: for PBES2, RSA1_5 or an unknown algorithm.
    """
    if alg.startswith("RSA-OAEP"):
        key = jwk.JWK.generate(kty="RSA", size=RSA_BITS, use="enc", alg=alg)
    elif alg.startswith("ECDH-ES"):
        key = jwk.JWK.generate(kty="EC", crv="P-256", use="enc", alg=alg)
    elif alg in _OCT_BITS:
        key = jwk.JWK.generate(kty="oct", size=_OCT_BITS[alg], use="enc", alg=alg)
    elif alg == "dir" and enc in _DIR_BITS:
        key = jwk.JWK.generate(kty="oct", size=_DIR_BITS[enc], use="enc", alg=alg)
    else:
        raise ValueError(f"no encryption key type for JWE alg {alg!r}")
    return _with_kid(key)


def _public(key: jwk.JWK) -> jwk.JWK:
    return jwk.JWK.from_json(key.export_public()) if key.has_public else key


@dataclass(frozen=True, slots=True)
class ProofKeys:
    """Ephemeral keys for one proof run (in memory only, never stored or logged).

    :ivar issuer_signing: the issuer's private signing key for the profile's ``signing_alg``.
    :ivar encryption: the API's private encryption key for the profile's ``alg``.
    """

    issuer_signing: jwk.JWK
    encryption: jwk.JWK

    @classmethod
    def generate(cls, profile: TokenProfile) -> ProofKeys:
        """Fresh keys for ``profile`` (RSA 3072 for RSA algorithms, P-256 for ES256 and
        ECDH-ES*; see :func:`signing_key_for`, :func:`encryption_key_for`).  RSA generation
        takes ~0.2–1 s per key.

        :raises ValueError: the profile lacks ``alg`` or ``signing_alg`` or names an
            algorithm with no key type.
        """
        if not profile.signing_alg or not profile.alg:
            raise ValueError("the profile declares no `alg` or `signing-alg`")
        return cls(issuer_signing=signing_key_for(profile.signing_alg),
                   encryption=encryption_key_for(profile.alg, profile.enc))

    def trust(self, version: str, profile: TokenProfile) -> VersionTrust:
        """The :class:`VersionTrust` a validator needs for tokens made with these keys: the
        private encryption key, the issuer's public signing key (single use as the profile
        declares)."""
        decryption = jwk.JWKSet()
        decryption.add(self.encryption)
        issuer = jwk.JWKSet()
        issuer.add(_public(self.issuer_signing))
        return VersionTrust(version=version, profile=profile, decryption_keys=decryption,
                            issuer_jwks=issuer)


@dataclass(frozen=True, slots=True)
class AttackCase:
    """One request of the proof, and the outcome it must have.

    :ivar id: stable slug (``"good-token"``, ``"expired"``, ``"query-token"``...).
    :ivar title: what it is, in users' words.
    :ivar rule: the rule id it exercises (TOK-*, JWE-*, JWS-*, HDR-*, CLM-*, GW-*, TRN-*).
    :ivar expect: ``"allow"`` (must reach the upstream, without ``Authorization``) or
        ``"deny"`` (any refusal — 401 from the validator, 400/403/494 from nginx, or a failed
        TLS handshake — and it must never reach the upstream).
    :ivar scheme: ``"http"`` sends to the plaintext port.
    :ivar tls_version: ``"TLSv1.1"`` pins the client to TLS 1.1; ``None``: client default.
    :ivar headers: request headers in order; a name may repeat (two ``Authorization``).
    :ivar query: query string without ``?`` (``access_token=<token>``), or ``""``.
    :ivar second_client: send the same request twice from two source ports: the first must
        be allowed, ``expect`` is about the second (single-use replay).
    :ivar validator_rule: the ``X-Stagegate-Deny`` the validator answers when the request
        reaches it (``None`` for the good token, and for plain HTTP / TLS 1.1, which the
        validator alone would allow: nginx must refuse them).  Extension of the interface
        notes (optional, defaulted).
    """

    id: str
    title: str
    rule: str
    expect: Literal["allow", "deny"]
    scheme: Literal["https", "http"] = "https"
    tls_version: Literal["TLSv1.1"] | None = None
    headers: tuple[tuple[str, str], ...] = ()
    query: str = ""
    second_client: bool = False
    validator_rule: str | None = None


class TokenForge:
    """Builds nested tokens (good and bad) for one profile and key pair, issued at ``now``
    (Unix seconds): :meth:`good` is a valid token living ``min(300 s, max lifetime)``; claims
    and header members can be changed per token (``None`` removes a member).

    :raises ValueError: the profile lacks ``alg``, ``enc`` or ``signing_alg``.
    """

    def __init__(self, profile: TokenProfile, keys: ProofKeys, now: int) -> None:
        if not profile.alg or not profile.enc or not profile.signing_alg:
            raise ValueError("the profile declares no `alg`, `enc` or `signing-alg`")
        self.alg, self.enc, self.sig_alg = profile.alg, profile.enc, profile.signing_alg
        self.issuer = profile.issuer or "https://issuer.invalid"
        self.audience = profile.audience[0] if profile.audience else "https://api.invalid"
        self.life = max(2, min(300, profile.effective_max_lifetime))
        self.keys = keys
        self.now = now
        self.recipient = _public(keys.encryption)

    def claims(self, **changes: Any) -> dict[str, Any]:
        """Good claims (fresh ``jti``), with ``changes`` applied."""
        base: dict[str, Any] = {
            "iss": self.issuer, "aud": self.audience, "sub": "proof-user",
            "client_id": "proof-client", "iat": self.now, "exp": self.now + self.life,
            "jti": str(uuid.uuid4()), "scope": "proof"}
        base.update(changes)
        return {k: v for k, v in base.items() if v is not None}

    def inner_header(self, **changes: Any) -> dict[str, Any]:
        """The good JWS header (``typ: at+jwt``, the issuer ``kid``), with ``changes``."""
        header: dict[str, Any] = {"alg": self.sig_alg, "typ": "at+jwt",
                                  "kid": self.keys.issuer_signing["kid"]}
        header.update(changes)
        return header

    @staticmethod
    def sign(header: dict[str, Any], claims: dict[str, Any] | str, key: jwk.JWK | None,
             signature: bytes | None = None) -> str:
        """A compact JWS with any header: signed by ``key`` with the header's ``alg`` unless
        ``signature`` is given (``alg: none``: empty signature)."""
        body = claims if isinstance(claims, str) else json.dumps(claims)
        signing_input = f"{_b64json(header)}.{_b64(body)}"
        if signature is None:
            alg = str(header.get("alg"))
            if alg.lower() == "none" or key is None:
                signature = b""
            else:
                signature = jwa.JWA.signing_alg(alg).sign(key, signing_input.encode("ascii"))
        return f"{signing_input}.{_b64(signature)}"

    def encrypt(self, plaintext: str, recipient: jwk.JWK | None = None, **changes: Any) -> str:
        """A compact JWE of ``plaintext`` (to the API key unless ``recipient``); header
        changes override ``alg``/``enc``/``kid``/... (``None`` drops a member)."""
        header: dict[str, Any] = {"alg": self.alg, "enc": self.enc, "cty": "JWT",
                                  "kid": self.keys.encryption["kid"]}
        header.update(changes)
        header = {k: v for k, v in header.items() if v is not None}
        token = jwe.JWE(plaintext.encode("utf-8"), json.dumps(header),
                        algs=[header["alg"], header["enc"]])
        token.add_recipient(recipient if recipient is not None else self.recipient)
        return str(token.serialize(compact=True))

    def good(self, **claim_changes: Any) -> str:
        """A nested token signed by the issuer key and encrypted to the API key."""
        return self.encrypt(self.sign(self.inner_header(), self.claims(**claim_changes),
                                      self.keys.issuer_signing))

    def other_alg(self) -> tuple[str, Any]:
        """An allowed JWE alg other than the profile's, with a fresh key for it."""
        other = "ECDH-ES+A256KW" if self.alg.startswith("RSA") else "RSA-OAEP-256"
        if other == "RSA-OAEP-256":
            return other, jwk.JWK.generate(kty="RSA", size=2048, use="enc", alg=other)
        return other, jwk.JWK.generate(kty="EC", crv="P-256", use="enc", alg=other)

    def rsa1_5_recipient(self) -> Any:
        """An RSA public key without ``alg`` (the API key when it is RSA) for RSA1_5."""
        if self.keys.encryption.get("kty") == "RSA":
            data = json.loads(self.keys.encryption.export_public())
            data.pop("alg", None)
            data.pop("use", None)
            return jwk.JWK(**data)
        return jwk.JWK.generate(kty="RSA", size=2048)


def _bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("Authorization", f"Bearer {token}"),)


def _tamper_tag(token: str) -> str:
    parts = token.split(".")
    tag = bytearray(base64.urlsafe_b64decode(parts[4] + "=" * (-len(parts[4]) % 4)))
    tag[0] ^= 0x01
    parts[4] = _b64(bytes(tag))
    return ".".join(parts)


def _pad_to(forge: TokenForge, size: int) -> str:
    """A good-looking nested token of at least ``size`` characters (a ``pad`` claim)."""
    filler = secrets.token_urlsafe(size)[: int(size * 0.7)]
    return forge.good(pad=filler)


def build_attack_matrix(profile: TokenProfile, keys: ProofKeys, *,
                        now: int) -> list[AttackCase]:
    """The proof's requests: one good token, at least 24 attacks (27) and the same good
    token sent again from a second client (``replay-second-client``), each token freshly
    built (its own ``jti``, so that a single-use profile never confuses one case with
    another).

    The second use is expected refused (CLM-JTI) exactly when the profile demands single
    use (``profile.single_use``, ``single-use: true`` in ``x-token-encryption``); otherwise
    it must be let through (a bearer token is legitimately reused until it expires).

    :param profile: the version's token profile (``alg``, ``enc``, ``signing_alg`` required;
        ``issuer``/``audience`` should be set).
    :param keys: the run's keys (:meth:`ProofKeys.generate`); the validator must trust them
        (:meth:`ProofKeys.trust`).
    :param now: the validator's clock at the time of the run, Unix seconds.
    :returns: the cases in a stable order (``good-token`` first).
    :raises ValueError: the profile lacks an algorithm.
    """
    f = TokenForge(profile, keys, now)
    sig = keys.issuer_signing
    good_inner = f.inner_header()
    attacker = signing_key_for(f.sig_alg)
    attacker_public = json.loads(attacker.export_public())
    other_alg, other_key = f.other_alg()
    other_enc = "A128GCM" if f.enc != "A128GCM" else "A256GCM"
    wrong_sig = next(a for a in ("ES256", "PS256") if a != f.sig_alg)
    hmac_secret = jwk.JWK(kty="oct", k=_b64(_public(sig).export_to_pem()))
    forged = bytes(_SIGNATURE_BYTES.get(f.sig_alg, 384))
    cases: list[AttackCase] = []

    def add(case_id: str, title: str, rule: str, token: str | None = None, *,
            validator_rule: str | None = None, **extra: Any) -> None:
        if token is not None and "headers" not in extra:
            extra["headers"] = _bearer(token)
        cases.append(AttackCase(case_id, title, rule, "deny",
                                validator_rule=validator_rule or rule, **extra))

    cases.append(AttackCase("good-token", "A valid nested token from the issuer",
                            "GW-ENFORCES-TOKEN", "allow", headers=_bearer(f.good())))
    # claims (CLM)
    add("expired", "An expired token", "CLM-EXP",
        f.good(iat=now - 900, exp=now - 600))
    add("not-yet-valid", "A token whose nbf is in the future", "CLM-NBF",
        f.good(nbf=now + min(f.life - 1, 240), exp=now + f.life))
    add("wrong-issuer", "A token from another issuer", "CLM-ISS",
        f.good(iss="https://evil.example"))
    add("wrong-audience", "A token for another API", "CLM-AUD",
        f.good(aud="https://other-api.example"))
    # structure and algorithms
    add("signed-only-jws", "A signed token that is not encrypted", "TOK-NESTED-JWE",
        f.sign(good_inner, f.claims(), sig))
    add("jwe-json-claims", "An encrypted token with no signature inside", "TOK-NESTED-JWE",
        f.encrypt(json.dumps(f.claims())))
    add("wrong-alg", "Encrypted with another key-management algorithm", "JWE-ALG-ALLOWED",
        f.encrypt(f.sign(good_inner, f.claims(), sig), _public(other_key), alg=other_alg))
    add("wrong-enc", "Encrypted with another content encryption", "JWE-ENC-ALLOWED",
        f.encrypt(f.sign(good_inner, f.claims(), sig), enc=other_enc))
    add("wrong-signing-alg", "Signed with another algorithm than declared", "JWS-ALG-ALLOWED",
        f.encrypt(f.sign(f.inner_header(alg=wrong_sig, kid=sig["kid"]), f.claims(),
                         signing_key_for(wrong_sig))))
    add("zip", "A compressed token (zip bomb vector)", "JWE-ZIP-DENIED",
        f.encrypt(f.sign(good_inner, f.claims(), sig), zip="DEF"))
    add("rsa1_5", "Encrypted with RSA1_5 (padding oracle)", "JWE-ALG-DENY-RSA1_5",
        f.encrypt(f.sign(good_inner, f.claims(), sig), f.rsa1_5_recipient(), alg="RSA1_5"))
    add("none-inside", "An unsigned token (alg none) inside the encryption",
        "JWS-ALG-DENY-NONE", f.encrypt(f.sign(f.inner_header(alg="none"), f.claims(), None)))
    add("hs256-inside", "HS256 signed with the issuer's public key (alg confusion)",
        "JWS-ALG-DENY-HMAC",
        f.encrypt(f.sign(f.inner_header(alg="HS256"), f.claims(), hmac_secret)))
    add("forged-signature", "A forged signature (zero bytes, 'psychic signature')",
        "JWS-SIG-ISSUER-KEY", f.encrypt(f.sign(good_inner, f.claims(), None, forged)))
    add("id-token", "An ID token instead of an access token", "HDR-TYP-AT-JWT",
        f.encrypt(f.sign(f.inner_header(typ="JWT"), f.claims(), sig)))
    # headers (HDR)
    add("kid-traversal", "A key id with a path traversal", "HDR-KID-SAFE",
        f.encrypt(f.sign(good_inner, f.claims(), sig), kid="../../../../dev/null"))
    for member, value, title in (
            ("jku", "https://attacker.example/jwks.json", "A key set URL (jku) in the token"),
            ("x5u", "https://attacker.example/cert.pem", "A certificate URL (x5u) in the token"),
            ("jwk", attacker_public, "An embedded attacker key (jwk) in the token")):
        header = f.inner_header(kid=attacker["kid"], **{member: value})
        add(f"{member}-header", title, "HDR-NO-KEY-REFS",
            f.encrypt(f.sign(header, f.claims(), attacker)))
    add("tampered-tag", "A token whose authentication tag was changed", "JWE-KEY-BOUND",
        _tamper_tag(f.good()))
    add("oversized-token", "A token bigger than the checker's limit (8 KiB)", "TOK-SIZE-LIMIT",
        _pad_to(f, OVERSIZED_TOKEN_BYTES))
    add("oversized-header", "An Authorization header bigger than nginx's header buffer",
        "GW-CLAIM-CHECKS", _pad_to(f, OVERSIZED_HEADER_BYTES), validator_rule="TOK-SIZE-LIMIT")
    # transport (TRN)
    in_query = f.good()
    add("query-token", "The token in the query string (and in the header)",
        "TRN-NO-TOKEN-IN-URL", in_query, query=f"access_token={in_query}",
        validator_rule=RULE_TOKEN_IN_URL)
    add("cookie-token", "The token in a cookie, no Authorization header", "TRN-BEARER-HEADER",
        headers=(("Cookie", f"access_token={f.good()}"),), validator_rule=RULE_BEARER_HEADER)
    add("two-authorization", "Two Authorization headers", "TRN-BEARER-HEADER",
        headers=_bearer(f.good()) + _bearer(f.good()), validator_rule=RULE_BEARER_HEADER)
    add("lowercase-scheme", "The scheme written 'bearer' (lowercase)", "TRN-BEARER-HEADER",
        headers=(("Authorization", f"bearer {f.good()}"),), validator_rule=RULE_BEARER_HEADER)
    add("missing-token", "No token at all", RULE_NO_TOKEN)
    cases.append(AttackCase("plain-http", "A valid token sent over plain HTTP", "TRN-HTTPS-ONLY",
                            "deny", scheme="http", headers=_bearer(f.good())))
    cases.append(AttackCase("tls-1.1", "A valid token sent over TLS 1.1", "TRN-TLS-CONFIG",
                            "deny", tls_version="TLSv1.1", headers=_bearer(f.good())))
    if profile.single_use:
        add("replay-second-client", "A single-use token used again from another client",
            "CLM-JTI", f.good(), second_client=True)
    else:
        cases.append(AttackCase(
            "replay-second-client", "A token used again from another client (allowed: the "
            "profile does not demand single use)", "CLM-JTI", "allow",
            headers=_bearer(f.good()), second_client=True))
    return cases

"""Keys and token builders for the token-checker tests (all generated at test time).

:class:`Kit` holds one issuer signing key per algorithm and one API encryption
key per key-management mode, and builds nested tokens — including ones jwcrypto refuses to
emit, by signing with ``jwa.JWA.signing_alg(alg).sign(key, signing_input)`` directly.
"""

from __future__ import annotations

import base64
import json
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jwcrypto import jwa, jwe, jwk

from policies.tokens import TokenAnalysis, TokenProfile, check_token

ISSUER = "https://as.example"
AUDIENCE = "https://api.example/payments"
DROP = object()  # claim/header override meaning "remove this member"

#: outer modes: (alg, enc, API key name)
OUTER = {
    "rsa": ("RSA-OAEP-256", "A256GCM", "rsa_enc"),
    "ecdh-kw": ("ECDH-ES+A256KW", "A256GCM", "ec_kw_enc"),
    "ecdh-direct": ("ECDH-ES", "A256GCM", "ec_dir_enc"),
}
#: inner signing algorithm -> issuer key name
INNER = {"ES256": "ec_sig", "PS256": "rsa_sig"}


def b64(data: bytes | str) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64json(value: Any) -> str:
    return b64(json.dumps(value, separators=(",", ":")))


def _with_kid(key: jwk.JWK) -> jwk.JWK:
    key["kid"] = key.thumbprint()
    return key


def _apply(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for name, value in changes.items():
        if value is DROP:
            out.pop(name, None)
        else:
            out[name] = value
    return out


@dataclass
class Kit:
    keys: dict[str, jwk.JWK]
    now: int

    # ------------------------------------------------------------------ key sets
    def decryption_set(self) -> jwk.JWKSet:
        ks = jwk.JWKSet()
        for name in ("rsa_enc", "ec_kw_enc", "ec_dir_enc"):
            ks.add(self.keys[name])
        return ks

    def issuer_set(self) -> jwk.JWKSet:
        ks = jwk.JWKSet()
        for name in ("ec_sig", "rsa_sig"):
            ks.add(jwk.JWK.from_json(self.keys[name].export_public()))
        return ks

    def public(self, name: str) -> jwk.JWK:
        return jwk.JWK.from_json(self.keys[name].export_public())

    def profile(self, mode: str = "rsa", signing_alg: str = "ES256", **extra: Any) -> TokenProfile:
        alg, enc, _ = OUTER[mode]
        ext = {"alg": alg, "enc": enc, "signing-alg": signing_alg, "issuer": ISSUER,
               "audience": AUDIENCE, "max-lifetime": 900,
               "jwks-uri": f"{ISSUER}/jwks.json", **extra}
        return TokenProfile.from_extension(ext)

    # ------------------------------------------------------------------ pieces
    def claims(self, **changes: Any) -> dict[str, Any]:
        base = {"iss": ISSUER, "aud": AUDIENCE, "sub": "user-4711", "client_id": "client-9",
                "iat": self.now, "exp": self.now + 300, "jti": str(uuid.uuid4()),
                "scope": "payments:read", "email": "alice@example.com"}
        return _apply(base, changes)

    def inner_header(self, alg: str = "ES256", **changes: Any) -> dict[str, Any]:
        key = self.keys[INNER.get(alg, "ec_sig")]
        return _apply({"alg": alg, "typ": "at+jwt", "kid": key["kid"]}, changes)

    def sign(self, header: dict[str, Any], payload: dict[str, Any] | bytes | str,
             key: jwk.JWK | None = None, alg: str | None = None,
             signature: bytes | None = None) -> str:
        """A compact JWS with any header; signed with ``alg`` (default the header's) unless
        ``signature`` is given or the alg is none."""
        body = payload if isinstance(payload, bytes | str) else json.dumps(payload)
        signing_input = f"{b64json(header)}.{b64(body)}"
        alg = alg or header.get("alg")
        if signature is None:
            if str(alg).lower() == "none":
                signature = b""
            else:
                key = key or self.keys[INNER[alg]]
                signature = jwa.JWA.signing_alg(alg).sign(key, signing_input.encode())
        return f"{signing_input}.{b64(signature)}"

    def encrypt(self, plaintext: str | bytes, mode: str = "rsa", key: jwk.JWK | None = None,
                **changes: Any) -> str:
        """A compact JWE of ``plaintext`` to the API key of ``mode`` (or ``key``)."""
        alg, enc, name = OUTER[mode]
        header = _apply({"alg": alg, "enc": enc, "cty": "JWT",
                         "kid": self.keys[name]["kid"]}, changes)
        recipient = key if key is not None else self.public(name)
        data = plaintext.encode() if isinstance(plaintext, str) else plaintext
        token = jwe.JWE(data, json.dumps(header), algs=[header["alg"], header["enc"]])
        token.add_recipient(recipient)
        return token.serialize(compact=True)

    def nested(self, mode: str = "rsa", alg: str = "ES256", *, claims: dict | None = None,
               inner: dict | None = None, outer: dict | None = None) -> str:
        """A good nested token, with optional header and claim changes."""
        jws = self.sign(self.inner_header(alg, **(inner or {})), self.claims(**(claims or {})))
        return self.encrypt(jws, mode, **(outer or {}))

    # ------------------------------------------------------------------ checking
    def check(self, token: Any, mode: str = "rsa", signing_alg: str = "ES256",
              **kwargs: Any) -> TokenAnalysis:
        kwargs.setdefault("decryption_keys", self.decryption_set())
        kwargs.setdefault("issuer_jwks", self.issuer_set())
        kwargs.setdefault("profile", self.profile(mode, signing_alg))
        kwargs.setdefault("now", self.now)
        return check_token(token, **kwargs)

    @staticmethod
    def failing(analysis: TokenAnalysis) -> set[str]:
        """Rule ids with a blocking finding."""
        return {f.rule_id for f in analysis.findings if f.status.blocks}

    def timed(self, call: Callable[[], TokenAnalysis], runs: int = 3) -> tuple[TokenAnalysis,
                                                                               float]:
        """``(analysis, median seconds)`` over ``runs`` calls of ``call``."""
        times, result = [], None
        for _ in range(runs):
            start = time.perf_counter()
            result = call()
            times.append(time.perf_counter() - start)
        assert result is not None
        return result, statistics.median(times)


def make_kit() -> Kit:
    keys = {
        "ec_sig": _with_kid(jwk.JWK.generate(kty="EC", crv="P-256", use="sig", alg="ES256")),
        "rsa_sig": _with_kid(jwk.JWK.generate(kty="RSA", size=3072, use="sig", alg="PS256")),
        "rsa_enc": _with_kid(jwk.JWK.generate(kty="RSA", size=3072, use="enc",
                                              alg="RSA-OAEP-256")),
        "ec_kw_enc": _with_kid(jwk.JWK.generate(kty="EC", crv="P-256", use="enc",
                                                alg="ECDH-ES+A256KW")),
        "ec_dir_enc": _with_kid(jwk.JWK.generate(kty="EC", crv="P-256", use="enc",
                                                 alg="ECDH-ES")),
    }
    return Kit(keys=keys, now=int(time.time()))

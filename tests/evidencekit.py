"""Helpers for the key and evidence tests: a spec declaring a token profile, an issuer with a
signing key generated at test time, and nested tokens encrypted to a version's public JWKS.

Nothing here is a fixture; the test modules build what they need from it.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from jwcrypto import jwk, jwt

ISSUER = "https://auth.example.com"
AUDIENCE = "https://api.example.com/orders"

#: a document passing every spec rule, declaring RSA-OAEP-256 / A256GCM / ES256
SPEC = f"""openapi: 3.1.0
info:
  title: Orders API
  version: 1.0.0
servers:
  - url: https://api.example.com/orders/v1
security:
  - accessToken: []
paths:
  /orders/{{id}}:
    get:
      operationId: getOrder
      parameters:
        - {{name: id, in: path, required: true, schema: {{type: string}}}}
      responses:
        200:
          description: The order
components:
  securitySchemes:
    accessToken:
      type: http
      scheme: bearer
      bearerFormat: JWT
      x-token-encryption:
        alg: RSA-OAEP-256
        enc: A256GCM
        signing-alg: ES256
        issuer: {ISSUER}
        audience: {AUDIENCE}
        jwks-uri: {ISSUER}/.well-known/jwks.json
        max-lifetime: 900
""".encode()

#: the same document declaring ECDH-ES+A256KW
ECDH_SPEC = SPEC.replace(b"alg: RSA-OAEP-256", b"alg: ECDH-ES+A256KW")


class Issuer:
    """An authorization server: an ES256 signing key generated now (``kid`` = thumbprint)."""

    def __init__(self) -> None:
        self.key = jwk.JWK.generate(kty="EC", crv="P-256", use="sig", alg="ES256")
        self.key["kid"] = self.key.thumbprint()

    @property
    def kid(self) -> str:
        return self.key["kid"]

    def jwks(self) -> dict[str, Any]:
        """The public JWKS (what its jwks_uri would serve)."""
        return {"keys": [self.key.export_public(as_dict=True)]}

    def jwks_with_private_members(self) -> dict[str, Any]:
        """A careless export: the private key included (``export()`` default)."""
        return {"keys": [json.loads(self.key.export(private_key=True))]}

    def claims(self, now: int | None = None, **changes: Any) -> dict[str, Any]:
        moment = int(time.time()) if now is None else now
        base = {"iss": ISSUER, "aud": AUDIENCE, "sub": "user-4711", "client_id": "web-shop",
                "iat": moment, "exp": moment + 300, "jti": str(uuid.uuid4()),
                "scope": "orders:read"}
        base.update(changes)
        return {k: v for k, v in base.items() if v is not None}

    def signed(self, claims: dict[str, Any], **header: Any) -> str:
        """A compact JWS (``typ: at+jwt``)."""
        inner = jwt.JWT(header={"alg": "ES256", "typ": "at+jwt", "kid": self.kid, **header},
                        claims=claims)
        inner.make_signed_token(self.key)
        return inner.serialize()

    def token(self, recipient_jwks: dict[str, Any], *, now: int | None = None,
              kid: str | None = None, outer: dict[str, Any] | None = None,
              **claims: Any) -> str:
        """A nested token (JWS in compact JWE) encrypted to the key ``kid`` of
        ``recipient_jwks`` (default its first key), with that key's ``alg``, ``A256GCM``."""
        keys = recipient_jwks["keys"]
        entry = next(k for k in keys if kid is None or k["kid"] == kid)
        public = jwk.JWK(**entry)
        header = {"alg": entry["alg"], "enc": "A256GCM", "cty": "JWT", "kid": entry["kid"],
                  **(outer or {})}
        wrapped = jwt.JWT(header=header, claims=self.signed(self.claims(now, **claims)))
        wrapped.make_encrypted_token(public)
        return wrapped.serialize()

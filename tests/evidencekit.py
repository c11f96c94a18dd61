"""Helpers for the key and evidence tests: a spec declaring a token profile, an issuer with a
signing key generated at test time, and nested tokens encrypted to a version's public JWKS.

Nothing here is a fixture; the test modules build what they need from it.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
import uuid
from dataclasses import replace
from typing import Any

from actorkit import TESTER
from documents import ISSUER, ORDERS, ORDERS_AUDIENCE
from flask_migrate import upgrade
from jwcrypto import jwk, jwt

from lifecycle.app import create_app
from lifecycle.catalog import services as catalog
from lifecycle.catalog.services import get_version
from lifecycle.core import crypto_store
from lifecycle.core.clock import clock
from lifecycle.core.extensions import db
from lifecycle.gateway import services as gateway
from lifecycle.gateway.proof import ProofResult

AUDIENCE = ORDERS_AUDIENCE

#: a document passing every spec rule, declaring RSA-OAEP-256 / A256GCM / ES256
SPEC = ORDERS

#: the same document declaring ECDH-ES+A256KW
ECDH_SPEC = SPEC.replace(b"alg: RSA-OAEP-256", b"alg: ECDH-ES+A256KW")

#: ECDH_SPEC whose profile demands single-use tokens (``single-use: true``)
SINGLE_USE_SPEC = ECDH_SPEC.replace(b"        max-lifetime: 900\n",
                                    b"        max-lifetime: 900\n        single-use: true\n")
assert SINGLE_USE_SPEC != ECDH_SPEC


def use_fresh_kek(app: Any, monkeypatch: Any) -> None:
    """Give ``app`` a key-encryption key of this test only (32 random bytes, padded
    base64url), with neither the KEK environment variable nor ``DATABASE_URL`` inherited."""
    monkeypatch.delenv(crypto_store.ENV_NAME, raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    app.config["KEY_ENCRYPTION_KEY"] = base64.urlsafe_b64encode(
        secrets.token_bytes(32)).decode()


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


# ---------------------------------------------------------------------------- gateway evidence
#: gateway settings every test version uses (the rendered configuration is then byte-identical
#: for the same API name, version and spec, so one real proof can serve the session)
GATEWAY_SETTINGS = {"server_name": "api.example.com", "upstream": "http://127.0.0.1:8080",
                    "certificate": "/etc/ssl/certs/api.pem",
                    "certificate_key": "/etc/ssl/private/api.key",
                    "validator": "127.0.0.1:8081"}

def new_version(client: Any, spec: bytes = SPEC, *, name: str = "orders",
                team: str = "shop", stages: tuple[str, ...] = ()) -> str:
    """Create ``{name}@1.0.0`` owned by ``team`` through REST, upload ``spec`` and move it
    through ``stages`` (each step must succeed); the version's REST URL."""
    url = f"/api/v1/apis/{name}/versions/1.0.0"
    assert client.post("/api/v1/apis", json={"name": name, "title": name.title(),
                                             "team": team}).status_code == 201
    assert client.post(f"/api/v1/apis/{name}/versions",
                       json={"version": "1.0.0"}).status_code == 201
    assert client.put(url + "/spec", data=spec).status_code == 201
    for stage in stages:
        assert client.post(url + "/transitions", json={"to": stage}).status_code == 201
    return url


#: real proof results of this session by configuration SHA-256 (see :func:`gateway_proven`)
_PROOFS: dict[str, Any] = {}


def store_gateway(client: Any, url: str, settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """PUT the gateway settings and generate the configuration (REST); the stored
    configuration's JSON."""
    answer = client.put(url + "/gateway/settings", json=settings or GATEWAY_SETTINGS)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    answer = client.put(url + "/gateway/config", json={"generate": "nginx"})
    assert answer.status_code in (200, 201), answer.get_data(as_text=True)
    return answer.get_json()["config"]


def prove_gateway(client: Any, url: str) -> dict[str, Any]:
    """Run a REAL proof (Debian's nginx, ~2 s) of the current configuration in the request
    (``Prefer: wait``); the stored proof's JSON."""
    answer = client.post(url + "/gateway/proofs", headers={"Prefer": "wait"})
    assert answer.status_code == 201, answer.get_data(as_text=True)
    return answer.get_json()["proof"]


def gateway_proven(client: Any, url: str) -> None:
    """Give the version passing gateway evidence: settings, the generated configuration and a
    passing proof of it.  The first time a configuration is seen in this session the proof
    runs for real (:func:`prove_gateway`); later versions with the byte-identical
    configuration store that real result again (times moved to the app clock) — for tests
    that are not about the gateway."""
    config = store_gateway(client, url)
    sha = config["sha256"]
    parts = url.split("/")
    if sha not in _PROOFS:
        proof = prove_gateway(client, url)
        assert proof["passed"], proof
        _PROOFS[sha] = ProofResult.from_dict({**proof, "version": f"{parts[4]}/{parts[6]}"})
        return
    with client.application.app_context():
        obj = get_version(parts[4], parts[6])
        now = clock()
        gateway.store_proof(obj, gateway.current_config(obj),
                            replace(_PROOFS[sha], started_at=now, finished_at=now),
                            "test-kit (session proof reused)")
        db.session.commit()


def csrf_app(tmp_path: Any) -> Any:
    """An app of its own with CSRF protection on (the suite's apps turn it off), on a fresh
    SQLite file under ``tmp_path``, holding ``orders 1.0.0`` with :data:`SPEC` uploaded."""
    app = create_app({
        "TESTING": True,
        "WTF_CSRF_ENABLED": True,
        "SECRET_KEY": "test",
        "KEY_ENCRYPTION_KEY": crypto_store.encode_kek(secrets.token_bytes(32)),
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'csrf.sqlite'}",
    })
    with app.app_context():
        upgrade()
        catalog.create_api("orders", "Orders", team="shop", actor=TESTER)
        catalog.create_version("orders", "1.0.0", actor=TESTER)
        catalog.upload_spec("orders", "1.0.0", SPEC, uploader=TESTER)
    return app

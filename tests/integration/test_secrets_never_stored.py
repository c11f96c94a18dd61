"""Acceptance 6: neither the database nor the logs ever hold a raw sample token or private
key material in clear.

The test submits good, replayed, attacking and garbage tokens, a JWKS carrying private
members (EC and RSA), generates and rotates managed keys, then searches the whole database
(the SQLite file's bytes; on PostgreSQL every text, varchar, bytea, json and jsonb column)
and every log record (all loggers at DEBUG, SQLAlchemy's engine log included) for the
tokens, the inner signed tokens, the ``d``/``p``/``q`` values and the PEM bodies.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import sqlalchemy as sa
from evidencekit import SPEC, Issuer, use_fresh_kek
from jwcrypto import jwk

from lifecycle.catalog import services
from lifecycle.core.extensions import db
from lifecycle.evidence import keys

V = "/api/v1/apis/orders/versions/1.0.0"


def _pem_lines(key: jwk.JWK) -> list[str]:
    pem = key.export_to_pem(private_key=True, password=None).decode()
    # full 64-character base64 lines of the PKCS#8 body (the last, short line is skipped)
    return [line for line in pem.splitlines() if len(line) == 64 and "-----" not in line]


def _secrets_of(key: jwk.JWK) -> list[str]:
    found = [key[m] for m in ("d", "p", "q") if m in key]
    return found + _pem_lines(key)


def _database_bytes(app) -> bytes:
    """Everything the database holds, as bytes."""
    with app.app_context():
        engine = db.engine
        if engine.dialect.name == "sqlite":
            engine.dispose()
            path = Path(engine.url.database)
            extra = [path.with_name(path.name + s) for s in ("-wal", "-journal")]
            return b"".join(p.read_bytes() for p in [path, *extra] if p.exists())
        chunks: list[bytes] = []
        with engine.connect() as conn:
            columns = conn.execute(sa.text(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND data_type IN "
                "('text', 'character varying', 'bytea', 'json', 'jsonb')")).all()
            assert columns
            for table, column in columns:
                query = sa.text(f'SELECT "{column}" FROM "{table}"')  # names from the catalog
                for (value,) in conn.execute(query):
                    if value is None:
                        continue
                    if isinstance(value, bytes | memoryview):
                        chunks.append(bytes(value))
                    elif isinstance(value, str):
                        chunks.append(value.encode())
                    else:
                        chunks.append(json.dumps(value).encode())
        return b"\n".join(chunks)


def test_no_raw_token_or_private_key_in_the_database_or_the_logs(app, monkeypatch, caplog):
    use_fresh_kek(app, monkeypatch)
    caplog.set_level(logging.DEBUG)
    for name in ("werkzeug", "sqlalchemy.engine", "lifecycle", "flask.app"):
        caplog.set_level(logging.DEBUG, logger=name)
    client = app.test_client()
    client.post("/api/v1/apis", json={"name": "orders", "title": "Orders", "team": "shop"})
    client.post("/api/v1/apis/orders/versions", json={"version": "1.0.0"})
    assert client.put(V + "/spec", data=SPEC).status_code == 201
    assert client.post(V + "/keys").status_code == 201

    issuer = Issuer()
    rsa_signing = jwk.JWK.generate(kty="RSA", size=3072, use="sig", alg="PS256")
    rsa_signing["kid"] = rsa_signing.thumbprint()
    careless = issuer.jwks_with_private_members()
    careless["keys"].append(json.loads(rsa_signing.export(private_key=True)))
    assert client.put(V + "/evidence/jwks", json=careless).status_code == 201
    assert client.put(V + "/evidence/jwks", json=issuer.jwks()).status_code == 201

    public = client.get(V + "/jwks.json").get_json()
    tokens = [issuer.token(public), issuer.token(public, jti="same"),
              issuer.token(public, jti="same"), issuer.token(public, aud="https://x.example"),
              issuer.token(public, outer={"kid": "nope"})]
    inner = issuer.signed(issuer.claims())
    tokens.append(inner)  # a bare JWS
    assert client.post(V + "/keys/rotate", json={"grace_seconds": 3600}).status_code == 201
    tokens.append(issuer.token(public))  # for the old key, in grace
    tokens.append(issuer.token(client.get(V + "/jwks.json").get_json()))
    for token in tokens:
        response = client.post(V + "/evidence/tokens", json={"token": token})
        assert response.status_code == 201, response.get_data(as_text=True)
    client.post(V + "/evidence/tokens", json={"token": tokens[0]})  # a resubmission
    client.post(V + "/evidence/tokens", json={"token": "x" * 9000})  # too large
    client.post(V + "/evidence/tokens", json={"token": tokens[1][:-5]})  # tampered tag

    with app.app_context():
        managed = keys.decryption_keys(services.get_version("orders", "1.0.0"))
    assert len(managed) == 2
    needles = [*tokens, tokens[1][:-5]] + [t.split(".")[3] for t in tokens if t.count(".") == 4]
    for key in (*managed, issuer.key, rsa_signing):
        needles += _secrets_of(key)
    assert all(len(n) > 30 for n in needles)

    stored = _database_bytes(app)
    assert len(stored) > 1000
    assert issuer.kid.encode() in stored  # the search does see stored evidence
    logs = "\n".join(f"{r.name} {r.getMessage()} {r.args!r}" for r in caplog.records)
    assert "INSERT INTO token_evidence" in logs  # the engine log was captured
    for needle in needles:
        assert needle.encode() not in stored, "secret found in the database"
        assert needle not in logs, "secret found in the logs"
        assert needle not in caplog.text


@pytest.mark.parametrize("member", ["d", "p", "q", "dp", "dq", "qi", "k", "oth"])
def test_stored_jwks_keeps_public_members_only(member):
    from lifecycle.evidence.services import public_members

    entry = {"kty": "RSA", "kid": "a", "n": "AQAB", "e": "AQAB", member: "secret-value"}
    assert member not in public_members({"keys": [entry]})["keys"][0]

"""Managed encryption keys: generation per alg, sealing under the KEK, rotation with grace,
the public JWKS endpoint and the key events."""

from __future__ import annotations

import base64
import json
import os
import secrets
import stat
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from actorkit import TESTER
from evidencekit import ECDH_SPEC, SPEC
from jwcrypto import jwk
from sqlalchemy.exc import IntegrityError

from lifecycle.catalog import services
from lifecycle.core import crypto_store, errors
from lifecycle.core.db import AppendOnlyError
from lifecycle.core.extensions import db
from lifecycle.evidence import keys
from lifecycle.evidence.models import KeyEvent, ManagedKey

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
PRIVATE = ("d", "p", "q", "dp", "dq", "qi")


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.fixture
def ctx(app, monkeypatch):
    monkeypatch.delenv(crypto_store.ENV_NAME, raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    app.config["KEY_ENCRYPTION_KEY"] = b64(secrets.token_bytes(32))
    with app.app_context():
        yield app


@pytest.fixture
def version(ctx):
    """``orders@1.0.0`` of team shop (the default client's team), with its document."""
    services.create_api("orders", "Orders API", team="shop", actor=TESTER)
    obj = services.create_version("orders", "1.0.0", actor=TESTER)
    services.upload_spec("orders", "1.0.0", SPEC, uploader=TESTER)
    return obj


def _bits(public: dict) -> int:
    n = public["n"]
    return int.from_bytes(base64.urlsafe_b64decode(n + "=" * (-len(n) % 4)), "big").bit_length()


@pytest.mark.parametrize(("alg", "options", "kty", "expect"), [
    ("RSA-OAEP-256", {}, "RSA", 3072),
    ("RSA-OAEP", {"size": 4096}, "RSA", 4096),
    ("ECDH-ES+A256KW", {}, "EC", "P-256"),
    ("ECDH-ES", {"crv": "P-384"}, "EC", "P-384"),
    ("ECDH-ES+A128KW", {"crv": "P-521"}, "EC", "P-521"),
])
def test_generated_keys_fit_their_alg(version, alg, options, kty, expect):
    key = keys.generate_key("orders", "1.0.0", alg=alg, now=T0, **options, actor=TESTER)
    public = key.public_jwk
    assert (public["kty"], public["use"], public["alg"], key.state) == (kty, "enc", alg,
                                                                         "current")
    assert expect == (_bits(public) if kty == "RSA" else public["crv"])
    assert not set(PRIVATE) & set(public)
    assert key.kid == public["kid"] == jwk.JWK(**public).thumbprint()  # RFC 7638
    (private,) = keys.decryption_keys(version, T0)
    assert private.has_private and private.thumbprint() == key.kid


def test_the_spec_alg_is_the_default_and_missing_alg_is_a_validation_error(ctx):
    services.create_api("orders", "Orders API", actor=TESTER)
    services.create_version("orders", "1.0.0", actor=TESTER)
    with pytest.raises(errors.ValidationFailed) as info:
        keys.generate_key("orders", "1.0.0", actor=TESTER)
    assert "alg" in info.value.errors
    services.upload_spec("orders", "1.0.0", ECDH_SPEC, uploader=TESTER)
    key = keys.generate_key("orders", "1.0.0", actor=TESTER)
    assert (key.alg, key.crv) == ("ECDH-ES+A256KW", "P-256")


@pytest.mark.parametrize(("alg", "options", "field"), [
    ("RSA1_5", {}, "alg"), ("dir", {}, "alg"), ("A256KW", {}, "alg"),
    ("PBES2-HS256+A128KW", {}, "alg"), ("RSA-OAEP-256", {"size": 2048}, "size"),
    ("ECDH-ES", {"crv": "secp256k1"}, "crv"), ("RSA-OAEP-256", {"crv": "P-256"}, "crv"),
])
def test_weak_or_unsupported_requests_are_refused(version, alg, options, field):
    with pytest.raises(errors.ValidationFailed) as info:
        keys.generate_key("orders", "1.0.0", alg=alg, **options, actor=TESTER)
    assert field in info.value.errors
    assert keys.list_keys(version) == []


def test_a_second_generation_is_a_conflict(version):
    keys.generate_key("orders", "1.0.0", now=T0, actor=TESTER)
    with pytest.raises(errors.Conflict):
        keys.generate_key("orders", "1.0.0", now=T0, actor=TESTER)
    with db.engine.begin() as conn:  # and the database itself allows one current key only
        row = dict(conn.execute(sa.select(ManagedKey.__table__)).mappings().one())
        row.update(id=None, kid="other")
        with pytest.raises(IntegrityError):
            conn.execute(sa.insert(ManagedKey.__table__).values(**row))


def test_private_keys_are_sealed_at_rest(version):
    keys.generate_key("orders", "1.0.0", now=T0, actor=TESTER)
    (private,) = keys.decryption_keys(version, T0)
    values = [private[m] for m in PRIVATE]
    sealed = db.session.execute(sa.select(ManagedKey.sealed_private)).scalar_one()
    row = json.dumps(db.session.execute(sa.select(ManagedKey.public_jwk)).scalar_one())
    for member in PRIVATE:
        assert f'"{member}"'.encode() not in sealed
    for value in values:
        assert value.encode() not in sealed and value not in row
    assert sealed.startswith(b"SG1") and len(sealed) > 1000


def test_a_wrong_kek_fails_cleanly(ctx, version):
    keys.generate_key("orders", "1.0.0", now=T0, actor=TESTER)
    ctx.config["KEY_ENCRYPTION_KEY"] = b64(secrets.token_bytes(32))
    with pytest.raises(errors.KeyStoreUnavailable) as info:
        keys.decryption_keys(version, T0)
    assert "different key-encryption key" in info.value.message


def test_a_blob_moved_to_another_key_does_not_open(ctx):
    kek = secrets.token_bytes(32)
    blob = crypto_store.seal(b"secret", b"1:kid-a", kek)
    assert crypto_store.unseal(blob, b"1:kid-a", kek) == b"secret"
    with pytest.raises(crypto_store.KeyStoreError):
        crypto_store.unseal(blob, b"1:kid-b", kek)
    with pytest.raises(crypto_store.KeyStoreError):
        crypto_store.unseal(blob[:-1] + bytes([blob[-1] ^ 1]), b"1:kid-a", kek)


@pytest.mark.parametrize("text", ["not base64 !!", b64(b"short"), b64(secrets.token_bytes(33))])
def test_a_malformed_kek_is_refused(ctx, text):
    ctx.config["KEY_ENCRYPTION_KEY"] = text
    with pytest.raises(crypto_store.KeyStoreError):
        crypto_store.current_kek()


def test_embedded_mode_creates_the_kek_in_the_instance_folder(ctx, tmp_path):
    ctx.config["KEY_ENCRYPTION_KEY"] = None
    ctx.instance_path = str(tmp_path)
    first = crypto_store.current_kek()
    path = tmp_path / crypto_store.KEK_FILE
    assert len(first) == 32 and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert crypto_store.current_kek() == first  # reused, not regenerated


def test_scaled_mode_needs_the_kek_from_the_environment(ctx, monkeypatch, tmp_path):
    ctx.config["KEY_ENCRYPTION_KEY"] = None
    ctx.instance_path = str(tmp_path)
    monkeypatch.setenv("DATABASE_URL", "postgresql://db.internal/stagegate")
    with pytest.raises(crypto_store.KeyStoreError) as info:
        crypto_store.current_kek()
    assert crypto_store.ENV_NAME in info.value.message
    assert not (tmp_path / crypto_store.KEK_FILE).exists()
    kek = secrets.token_bytes(32)
    monkeypatch.setenv(crypto_store.ENV_NAME, b64(kek))
    assert crypto_store.current_kek() == kek


def test_rotation_keeps_the_old_key_for_the_grace_period_then_retires_it(version):
    old = keys.generate_key("orders", "1.0.0", now=T0, actor=TESTER)
    new = keys.rotate_key("orders", "1.0.0", 3600, now=T0 + timedelta(days=1), actor=TESTER)
    assert new.kid != old.kid and new.state == "current"
    during = T0 + timedelta(days=1, minutes=59)
    assert [k.kid for k in keys.usable_keys(version, during)] == [new.kid, old.kid]
    assert {k["kid"] for k in keys.public_jwks(version, during)["keys"]} == {new.kid, old.kid}
    assert len(keys.decryption_keys(version, during)) == 2
    after = T0 + timedelta(days=1, hours=1)
    assert [k.kid for k in keys.usable_keys(version, after)] == [new.kid]
    assert old.status_at(after) == "retired"
    assert [k.kid for k in keys.retire_expired(version, after)] == [old.kid]
    assert keys.retire_expired(version, after) == []  # recorded once
    events = [(e.kind, e.key.kid) for e in keys.key_events(version)]
    assert events == [("generated", old.kid), ("rotated", old.kid), ("generated", new.kid),
                      ("expired", old.kid)]
    db.session.refresh(old)
    assert (old.state, old.retired_at) == ("retired", old.grace_until)


def test_rotation_without_grace_retires_at_once(version):
    old = keys.generate_key("orders", "1.0.0", now=T0, actor=TESTER)
    keys.rotate_key("orders", "1.0.0", 0, now=T0, actor=TESTER)
    assert [k.kid for k in keys.usable_keys(version, T0)] != [old.kid]
    assert old.kid not in {k.kid for k in keys.usable_keys(version, T0)}
    assert [e.kind for e in keys.key_events(version)] == ["generated", "rotated", "retired",
                                                          "generated"]


@pytest.mark.parametrize("grace", [-1, 90 * 86400 + 1, True, 1.5, "60"])
def test_grace_must_be_whole_seconds_up_to_90_days(version, grace):
    keys.generate_key("orders", "1.0.0", now=T0, actor=TESTER)
    with pytest.raises(errors.ValidationFailed):
        keys.rotate_key("orders", "1.0.0", grace, now=T0, actor=TESTER)


def test_rotating_without_a_key_is_not_found(version):
    with pytest.raises(errors.NotFound):
        keys.rotate_key("orders", "1.0.0", 60, actor=TESTER)


def test_key_events_are_append_only(version):
    keys.generate_key("orders", "1.0.0", now=T0, actor=TESTER)
    event = db.session.execute(sa.select(KeyEvent)).scalar_one()
    event.actor = "mallory"
    with pytest.raises(AppendOnlyError):
        db.session.commit()
    db.session.rollback()


# ------------------------------------------------------------------------------ REST
V = "/api/v1/apis/orders/versions/1.0.0"


def test_rest_generate_list_rotate_and_public_jwks(ctx, version):
    client = ctx.test_client()
    assert client.get(V + "/jwks.json").get_json() == {"keys": []}
    created = client.post(V + "/keys", json={"actor": "alice"})
    assert created.status_code == 201, created.get_data(as_text=True)
    first = created.get_json()["key"]
    assert (first["alg"], first["size"], first["state"]) == ("RSA-OAEP-256", 3072, "current")
    assert client.post(V + "/keys").status_code == 409
    rotated = client.post(V + "/keys/rotate", json={"grace_seconds": 600})
    assert rotated.status_code == 201
    states = {k["kid"]: k["state"] for k in rotated.get_json()["keys"]}
    assert states[first["kid"]] == "grace" and len(states) == 2
    response = client.get(V + "/jwks.json")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=300"
    assert response.mimetype == "application/jwk-set+json"
    published = response.get_json()["keys"]
    assert {k["kid"] for k in published} == set(states)
    assert all(not set(PRIVATE) & set(k) and k["use"] == "enc" for k in published)
    body = client.get(V + "/keys").get_json()
    assert [e["kind"] for e in body["events"]] == ["generated", "rotated", "generated"]
    assert body["events"][0]["actor"] == client.user_email  # the token's user
    assert "sealed" not in response.get_data(as_text=True)


@pytest.mark.parametrize(("body", "status"), [
    ({}, 422), ({"grace_seconds": "soon"}, 422), ({"grace_seconds": -5}, 422),
    ({"grace_seconds": 10 ** 12}, 422),
])
def test_rest_rotation_input_errors(ctx, version, body, status):
    client = ctx.test_client()
    client.post(V + "/keys")
    response = client.post(V + "/keys/rotate", json=body)
    assert response.status_code == status
    assert response.get_json()["error"] == "validation_failed"


def test_rest_key_store_problems_are_503_not_500(ctx, version, monkeypatch, tmp_path):
    client = ctx.test_client()
    client.post(V + "/keys/rotate", json={})  # signs in while the KEK is still configured
    ctx.config["KEY_ENCRYPTION_KEY"] = None
    monkeypatch.setenv("DATABASE_URL", "postgresql://db.internal/stagegate")
    response = client.post(V + "/keys")
    assert response.status_code == 503
    assert response.get_json()["error"] == "key_store_unavailable"
    assert crypto_store.ENV_NAME in response.get_json()["message"]


def test_unknown_version_is_404(ctx):
    client = ctx.test_client()
    assert client.get("/api/v1/apis/nope/versions/1/jwks.json").status_code == 404
    assert client.post("/api/v1/apis/nope/versions/1/keys").status_code == 404


# ------------------------------------------------------------------ unsealed-key cache (issue 10)
@pytest.fixture
def unseal_calls(monkeypatch):
    """Count the unsealings; start from an empty cache."""
    calls = []
    real = crypto_store.unseal
    monkeypatch.setattr(crypto_store, "unseal", lambda *a: calls.append(1) or real(*a))
    keys.unsealed_keys.clear()
    yield calls
    keys.unsealed_keys.clear()


def test_an_unsealed_key_is_reused_by_the_next_analysis(version, unseal_calls):
    keys.generate_key("orders", "1.0.0", now=T0, actor=TESTER)
    (first,) = keys.decryption_keys(version, T0)
    (second,) = keys.decryption_keys(version, T0)
    assert second is first
    assert len(unseal_calls) == 1


def test_rotation_clears_the_cached_keys_of_the_version(version, unseal_calls):
    old = keys.generate_key("orders", "1.0.0", now=T0, actor=TESTER)
    keys.decryption_keys(version, T0)
    assert len(keys.unsealed_keys) == 1
    new = keys.rotate_key("orders", "1.0.0", 0, now=T0, actor=TESTER)
    assert len(keys.unsealed_keys) == 0
    (only,) = keys.decryption_keys(version, T0)
    assert only["kid"] == new.kid != old.kid
    assert len(unseal_calls) == 2


def test_a_cached_key_is_not_used_under_another_kek(ctx, version, unseal_calls):
    keys.generate_key("orders", "1.0.0", now=T0, actor=TESTER)
    keys.decryption_keys(version, T0)
    ctx.config["KEY_ENCRYPTION_KEY"] = b64(secrets.token_bytes(32))
    with pytest.raises(errors.KeyStoreUnavailable):
        keys.decryption_keys(version, T0)


def test_the_unsealed_key_cache_is_bounded_and_short_lived(monkeypatch):
    cache = keys._UnsealedKeys(size=1, seconds=60)
    now = [1000.0]
    monkeypatch.setattr(keys.time, "monotonic", lambda: now[0])
    a, b = jwk.JWK.generate(kty="oct", size=256), jwk.JWK.generate(kty="oct", size=256)
    cache.put((1, "a"), b"s", a)
    cache.put((1, "b"), b"s", b)
    assert cache.get((1, "a"), b"s") is None and cache.get((1, "b"), b"s") is b
    assert cache.get((1, "b"), b"other kek") is None
    cache.put((1, "b"), b"s", b)
    now[0] += 61
    assert cache.get((1, "b"), b"s") is None

"""Personal access tokens, the token endpoint, and the app's own access tokens — checked by
Stagegate's own token checker."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from accountkit import access_token_for, make_pat, make_user
from clockkit import Clock
from jwcrypto import jwk, jwt

from lifecycle.accounts import apitokens
from lifecycle.accounts.models import AppKey, PersonalAccessToken
from lifecycle.core.extensions import db
from policies.findings import Status
from policies.keys.jwks import check_jwks
from policies.token_rules import TOKEN_RULE_IDS
from policies.tokens import MemoryReplayCache, check_token

GENERIC = "The access token is invalid or expired."


@pytest.fixture
def clock(app) -> Clock:
    app.config["CLOCK"] = clock = Clock(whole_seconds=False)
    return clock


@pytest.fixture
def dev(app, auth):
    """A developer and a PAT of theirs."""
    user = auth.user("developer")
    with app.app_context():
        token = make_pat(user, days=2)
    return user, token


def exchange(client, pat, *, basic=True, client_id=None):
    if basic:
        cid = client_id or pat.rsplit("_", 1)[0]
        credentials = base64.b64encode(f"{cid}:{pat}".encode()).decode()
        return client.post("/api/v1/token", data={"grant_type": "client_credentials"},
                           headers={"Authorization": f"Basic {credentials}"})
    return client.post("/api/v1/token", data={"grant_type": "client_credentials",
                                              "client_secret": pat})


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


# ------------------------------------------------------------------ the token endpoint
@pytest.mark.parametrize("basic", [True, False], ids=["http-basic", "client_secret-field"])
def test_a_pat_is_exchanged_for_a_short_lived_access_token(anon, dev, basic):
    response = exchange(anon, dev[1], basic=basic)
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["token_type"] == "Bearer" and 0 < body["expires_in"] <= 900
    assert response.headers["Cache-Control"] == "no-store"
    assert anon.get("/api/v1/apis", headers=bearer(body["access_token"])).status_code == 200
    # the same bearer token is reused for many requests during its lifetime
    assert anon.get("/api/v1/apis", headers=bearer(body["access_token"])).status_code == 200


@pytest.mark.parametrize(("data", "headers", "status", "error"), [
    ({"grant_type": "client_credentials", "client_secret": "sgp_0000_nope"}, {}, 401,
     "invalid_client"),
    ({"grant_type": "client_credentials"}, {}, 401, "invalid_client"),
    ({"client_secret": "x"}, {}, 400, "invalid_request"),
    ({"grant_type": "password", "client_secret": "x"}, {}, 400, "unsupported_grant_type"),
    ({"grant_type": "client_credentials", "client_secret": "x"},
     {"Authorization": "Basic eDp5"}, 400, "invalid_request"),
])
def test_token_endpoint_errors_follow_rfc_6749(anon, data, headers, status, error):
    response = anon.post("/api/v1/token", data=data, headers=headers)
    assert response.status_code == status
    assert response.get_json()["error"] == error
    if status == 401:
        assert response.headers["WWW-Authenticate"] == 'Basic realm="stagegate"'


def test_token_endpoint_wants_a_form_body(anon, dev):
    response = anon.post("/api/v1/token", json={"grant_type": "client_credentials",
                                                "client_secret": dev[1]})
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_request"


def test_a_client_id_that_does_not_match_the_secret_is_refused(anon, dev):
    assert exchange(anon, dev[1], client_id="sgp_0123456789abcdef").status_code == 401


# ------------------------------------------------------------------ PAT life cycle
def test_a_pat_is_shown_once_and_stored_only_as_a_hash(app, auth):
    user = auth.user("viewer")
    client = app.test_client(user=user.email)
    created = client.post("/account/tokens", data={"name": "CI", "expires_days": "7"})
    assert created.status_code == 201
    assert created.headers["Cache-Control"] == "no-store"
    token = re.search(r'data-testid="new-token">(sgp_[0-9a-f]{16}_[0-9a-f]{64})<',
                      created.get_data(as_text=True)).group(1)
    account = client.get("/account").get_data(as_text=True)
    assert token not in account and token.rsplit("_", 1)[0] in account  # only the id
    with app.app_context():
        row = db.session.execute(sa.select(PersonalAccessToken)).scalar_one()
        assert row.secret_hash == hashlib.sha256(token.encode()).hexdigest()
        dump = json.dumps([str(v) for v in db.session.execute(
            sa.text("SELECT * FROM personal_access_token")).one()])
        assert token not in dump and token.rsplit("_", 1)[1] not in dump
        assert (row.expires_at - row.created_at) == timedelta(days=7)
    assert exchange(app.test_client(user=None), token).status_code == 200


def test_a_revoked_pat_stops_its_access_tokens_at_once(app, auth):
    user = auth.user("viewer")
    client = app.test_client(user=user.email)
    created = client.post("/account/tokens", data={"name": "CI", "expires_days": "7"})
    token = re.search(r'data-testid="new-token">([^<]+)<', created.get_data(as_text=True))[1]
    anon = app.test_client(user=None)
    access = exchange(anon, token).get_json()["access_token"]
    assert anon.get("/api/v1/apis", headers=bearer(access)).status_code == 200
    with app.app_context():
        token_id = db.session.execute(sa.select(PersonalAccessToken.id)).scalar_one()
    assert client.post(f"/account/tokens/{token_id}/revoke").status_code == 303
    refused = anon.get("/api/v1/apis", headers=bearer(access))
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == \
        'Bearer realm="stagegate", error="invalid_token"'
    assert exchange(anon, token).status_code == 401
    other = auth.client("viewer")
    assert other.post(f"/account/tokens/{token_id}/revoke").status_code == 404


def test_an_expired_pat_is_refused(app, anon, dev, clock):
    user, pat = dev  # expires in 2 days
    clock.now += timedelta(days=2) - timedelta(minutes=1)
    access = exchange(anon, pat).get_json()["access_token"]
    assert anon.get("/api/v1/apis", headers=bearer(access)).status_code == 200
    clock.now += timedelta(minutes=2)  # the access token is still young; its PAT is not
    assert anon.get("/api/v1/apis", headers=bearer(access)).status_code == 401
    assert exchange(anon, pat).status_code == 401


def test_the_cli_creates_a_pat_and_prints_it_once(app, runner, auth):
    user = auth.user("developer")
    result = runner.invoke(args=["tokens", "create", "--email", user.email, "--name", "ci",
                                 "--expires-days", "3"])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert re.fullmatch(r"sgp_[0-9a-f]{16}_[0-9a-f]{64}", token)
    assert exchange(app.test_client(user=None), token).status_code == 200
    bad = runner.invoke(args=["tokens", "create", "--email", user.email, "--name", "ci",
                              "--expires-days", "0"])
    assert bad.exit_code == 1
    nobody = runner.invoke(args=["tokens", "create", "--email", "no@x.test", "--name", "ci"])
    assert nobody.exit_code == 1


def test_a_deactivated_users_tokens_stop_working(app, auth):
    user = auth.user("viewer")
    access = auth.token(user.email)
    anon = app.test_client(user=None)
    assert anon.get("/api/v1/apis", headers=bearer(access)).status_code == 200
    admin = auth.client("admin")
    admin.post(f"/admin/users/{user.id}/active", data={})
    assert anon.get("/api/v1/apis", headers=bearer(access)).status_code == 401


# ------------------------------------------------------------------ 401 answers
def _forge(app, *, claims=None, encrypt=True, header=None) -> str:
    """A token made with the app's own keys, with changed claims or without encryption."""
    with app.app_context():
        keys = apitokens.app_keys()
        now = int(time.time())
        base = {"iss": apitokens.issuer(), "aud": apitokens.audience(), "sub": "1",
                "client_id": "sgp_0000000000000000", "scope": "stagegate", "iat": now,
                "exp": now + 300, "jti": str(uuid.uuid4())}
        inner = jwt.JWT(header={"alg": "ES256", "typ": "at+jwt", "kid": keys.signing["kid"],
                                **(header or {})}, claims={**base, **(claims or {})})
        inner.make_signed_token(keys.signing)
        if not encrypt:
            return inner.serialize()
        outer = jwt.JWT(header={"alg": "ECDH-ES+A256KW", "enc": "A256GCM", "cty": "JWT",
                                "kid": keys.encryption["kid"]}, claims=inner.serialize())
        outer.make_encrypted_token(jwk.JWK(**keys.encryption.export_public(as_dict=True)))
        return outer.serialize()


def test_requests_without_a_token_get_a_bare_bearer_challenge(anon):
    response = anon.get("/api/v1/apis")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="stagegate"'
    assert "error=" not in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize("kind", ["expired", "plain-jws", "other-audience", "garbage",
                                  "basic-scheme", "unknown-user", "tampered"])
def test_bad_tokens_get_401_invalid_token_with_a_generic_message(app, anon, clock, kind,
                                                                 caplog):
    headers = {}
    if kind == "expired":
        with app.app_context():
            make_user("expiring@stagegate.test", ["viewer"])
            user_token = access_token_for("expiring@stagegate.test")
        clock.now += timedelta(minutes=16)
        headers = bearer(user_token)
    elif kind == "plain-jws":
        headers = bearer(_forge(app, encrypt=False))
    elif kind == "other-audience":
        headers = bearer(_forge(app, claims={"aud": "https://other.example/api"}))
    elif kind == "garbage":
        headers = bearer("not-a-token")
    elif kind == "basic-scheme":
        headers = {"Authorization": "Basic eDp5"}
    elif kind == "unknown-user":
        headers = bearer(_forge(app, claims={"sub": "987654"}))
    elif kind == "tampered":
        token = _forge(app)
        parts = token.split(".")
        parts[3] = parts[3][:-2] + ("AA" if parts[3][-2:] != "AA" else "BB")
        headers = bearer(".".join(parts))
    with caplog.at_level("INFO"):
        response = anon.get("/api/v1/apis", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == \
        'Bearer realm="stagegate", error="invalid_token"'
    body = response.get_json()
    assert body["error"] == "invalid_token" and body["message"] == GENERIC
    text = response.get_data(as_text=True)
    assert not re.search(r"(TOK|JWE|JWS|HDR|CLM)-[A-Z]", text)
    if kind in ("plain-jws", "other-audience", "expired"):
        rule = {"plain-jws": "TOK-NESTED-JWE", "other-audience": "CLM-AUD",
                "expired": "CLM-EXP"}[kind]
        assert rule in caplog.text  # the reason is in the server log only


# ------------------------------------------------------------------ our checker on our tokens
def test_issued_tokens_pass_every_rule_of_stagegates_own_checker(app, anon, dev):
    access = exchange(anon, dev[1]).get_json()["access_token"]
    with app.app_context():
        keys = apitokens.app_keys()
        profile = apitokens.access_token_profile()
        analysis = check_token(access, decryption_keys=[keys.encryption],
                               issuer_jwks=[keys.signing_public], profile=profile,
                               replay_cache=MemoryReplayCache())
    assert analysis.passed and analysis.not_evaluated == ()
    by_rule = {f.rule_id: f for f in analysis.findings}
    assert set(TOKEN_RULE_IDS) <= set(by_rule)
    for rule_id in TOKEN_RULE_IDS:
        expected = Status.NOT_APPLICABLE if rule_id == "CLM-SENDER-CONSTRAINED" else Status.PASS
        assert by_rule[rule_id].status is expected, by_rule[rule_id]
    assert analysis.outer_header == {"alg": "ECDH-ES+A256KW", "enc": "A256GCM", "cty": "JWT",
                                     "kid": keys.encryption["kid"],
                                     "epk": analysis.outer_header["epk"]}
    assert analysis.inner_header == {"alg": "ES256", "typ": "at+jwt",
                                     "kid": keys.signing["kid"]}
    assert set(analysis.claims) == {"iss", "aud", "sub", "client_id", "scope", "iat", "exp",
                                    "jti", "sg_tep"}
    assert 0 < analysis.lifetime <= 900


def test_signing_and_encryption_keys_are_separate_and_sealed(app, anon, dev):
    published = anon.get("/api/v1/token/jwks.json")
    assert published.status_code == 200
    jwks = published.get_json()
    assert [(k["use"], k["alg"]) for k in jwks["keys"]] == [("sig", "ES256"),
                                                            ("enc", "ECDH-ES+A256KW")]
    assert all("d" not in k for k in jwks["keys"])
    analysis = check_jwks(jwks)
    assert all(f.status is Status.PASS for f in analysis.findings), analysis.findings
    with app.app_context():
        keys = apitokens.app_keys()
        for key in (keys.signing, keys.encryption):
            assert key["kid"] == key.thumbprint()
        rows = db.session.execute(sa.select(AppKey)).scalars().all()
        assert {r.purpose for r in rows} == {"sig", "enc"}
        for row, key in zip(sorted(rows, key=lambda r: r.purpose),
                            (keys.encryption, keys.signing), strict=True):
            private = key.export_private(as_dict=True)["d"]
            assert private.encode() not in row.sealed_private


# ------------------------------------------------------------------ verification cache (issue 10)
def _verified_count(app) -> int:
    with app.app_context():
        return len(apitokens.verified_tokens())


def test_a_repeated_token_is_verified_once_then_only_its_user_and_pat_are_read(
        app, auth, monkeypatch):
    user = auth.user("viewer")
    access = auth.token(user.email)
    anon = app.test_client(user=None)
    calls = []
    real = apitokens.check_token
    monkeypatch.setattr(apitokens, "check_token",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    for _ in range(3):
        assert anon.get("/api/v1/apis", headers=bearer(access)).status_code == 200
    assert len(calls) == 1
    assert _verified_count(app) == 1
    # another token of the same user is verified on its own
    assert anon.get("/api/v1/apis", headers=bearer(auth.token(user.email))).status_code == 200
    assert len(calls) == 2


def test_a_revoked_pat_is_refused_even_with_a_cached_verification(app, auth):
    user = auth.user("viewer")
    with app.app_context():
        pat = make_pat(user, days=2)
    anon = app.test_client(user=None)
    access = exchange(anon, pat).get_json()["access_token"]
    assert anon.get("/api/v1/apis", headers=bearer(access)).status_code == 200
    assert _verified_count(app) == 1
    with app.app_context():
        row = db.session.execute(sa.select(PersonalAccessToken)).scalars().one()
        apitokens.revoke_pat(row.user, row.id)
    assert _verified_count(app) == 1  # still cached: the refusal comes from the lookup
    assert anon.get("/api/v1/apis", headers=bearer(access)).status_code == 401


def test_a_deactivated_user_is_refused_even_with_a_cached_verification(app, auth):
    user = auth.user("viewer")
    access = auth.token(user.email)
    anon = app.test_client(user=None)
    assert anon.get("/api/v1/apis", headers=bearer(access)).status_code == 200
    assert _verified_count(app) == 1
    assert auth.client("admin").post(f"/admin/users/{user.id}/active",
                                     data={}).status_code in (200, 303)
    assert _verified_count(app) == 1
    assert anon.get("/api/v1/apis", headers=bearer(access)).status_code == 401


def test_a_cached_token_is_refused_after_its_exp(app, anon, dev, clock):
    access = exchange(anon, dev[1]).get_json()["access_token"]
    assert anon.get("/api/v1/apis", headers=bearer(access)).status_code == 200
    assert _verified_count(app) == 1
    clock.now += timedelta(seconds=apitokens.MAX_ACCESS_TOKEN_SECONDS + 120)
    assert anon.get("/api/v1/apis", headers=bearer(access)).status_code == 401


def test_the_verification_cache_is_bounded():
    cache = apitokens.VerifiedTokens(size=2)
    entry = apitokens._Verified(user_id=1, pat_id=1, epoch=0, not_before=0, expires=10**10)
    for digest in (b"a", b"b", b"c"):
        cache.put(digest, entry)
    assert len(cache) == 2
    assert cache.get(b"a", 100) is None and cache.get(b"c", 100) == entry
    assert cache.get(b"c", 10**10) is None  # at exp: gone

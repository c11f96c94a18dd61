"""Evidence endpoints: the issuer JWKS and sample-token analyses (REST, real database)."""

from __future__ import annotations

import base64
import json
import secrets
import time

import pytest
from evidencekit import SPEC, Issuer
from jwcrypto import jwk

from lifecycle.core import crypto_store

V = "/api/v1/apis/orders/versions/1.0.0"


@pytest.fixture
def client(app, monkeypatch):
    monkeypatch.delenv(crypto_store.ENV_NAME, raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    app.config["KEY_ENCRYPTION_KEY"] = base64.urlsafe_b64encode(
        secrets.token_bytes(32)).decode()
    client = app.test_client()
    assert client.post("/api/v1/apis", json={"name": "orders", "title": "Orders", "team": "shop"}
                       ).status_code == 201
    assert client.post("/api/v1/apis/orders/versions", json={"version": "1.0.0"}
                       ).status_code == 201
    assert client.put(V + "/spec", data=SPEC).status_code == 201
    return client


@pytest.fixture
def issuer() -> Issuer:
    return Issuer()


@pytest.fixture
def ready(client, issuer):
    """Managed key generated and the issuer's JWKS supplied; returns the public API JWKS."""
    assert client.post(V + "/keys").status_code == 201
    assert client.put(V + "/evidence/jwks", json=issuer.jwks()).status_code == 201
    return client.get(V + "/jwks.json").get_json()


def post(client, token):
    return client.post(V + "/evidence/tokens", json={"token": token})


def failing(analysis) -> set[str]:
    return {f["rule"] for f in analysis["findings"] if f["status"] != "pass"
            and f["status"] != "not-applicable"}


def test_a_good_token_is_analysed_once_and_recognised_when_sent_again(client, issuer, ready):
    token = issuer.token(ready)
    first = post(client, token)
    assert first.status_code == 201, first.get_data(as_text=True)
    body = first.get_json()
    analysis = body["analysis"]
    assert (body["created"], body["already_analysed"], analysis["passed"]) == (True, False, True)
    assert analysis["outer_header"]["alg"] == "RSA-OAEP-256"
    assert analysis["inner_header"] == {"alg": "ES256", "typ": "at+jwt", "kid": issuer.kid}
    assert analysis["claims"]["sub"] == "[redacted]" and analysis["claims"]["iss"]
    assert analysis["lifetime"] == 300
    assert analysis["decryption_kid"] == ready["keys"][0]["kid"]
    again = post(client, "Bearer " + token + "\n")
    assert again.status_code == 200
    assert again.get_json()["already_analysed"] is True
    assert again.get_json()["analysis"]["id"] == analysis["id"]
    listed = client.get(V + "/evidence/tokens").get_json()["analyses"]
    assert [a["id"] for a in listed] == [analysis["id"]]
    for response in (first, again, client.get(V + "/evidence/tokens")):
        assert token not in response.get_data(as_text=True)


def test_a_new_token_reusing_a_jti_is_a_replay(client, issuer, ready):
    assert post(client, issuer.token(ready, jti="id-1")).get_json()["analysis"]["passed"]
    replay = post(client, issuer.token(ready, jti="id-1"))
    assert replay.status_code == 201
    assert failing(replay.get_json()["analysis"]) == {"CLM-JTI"}
    assert not replay.get_json()["analysis"]["passed"]


@pytest.mark.parametrize(("make", "rule"), [
    (lambda i, ready: i.signed(i.claims()), "TOK-NESTED-JWE"),  # signed only (acceptance 5)
    (lambda i, ready: i.token(ready, outer={"jku": "https://evil.example/jwks"}),
     "HDR-NO-KEY-REFS"),
    (lambda i, ready: i.token(ready, now=int(time.time()) - 7200), "CLM-EXP"),
    (lambda i, ready: i.token(ready, iss="https://evil.example"), "CLM-ISS"),
    (lambda i, ready: i.token(ready, aud="https://other.example"), "CLM-AUD"),
    (lambda i, ready: i.token(ready, outer={"kid": "unknown-key"}), "JWE-KEY-BOUND"),
])
def test_attack_tokens_are_stored_with_their_findings(client, issuer, ready, make, rule):
    response = post(client, make(issuer, ready))
    assert response.status_code == 201, response.get_data(as_text=True)
    analysis = response.get_json()["analysis"]
    assert analysis["passed"] is False
    assert rule in failing(analysis)


def test_a_token_signed_by_a_key_outside_the_issuer_jwks_fails(client, ready):
    response = post(client, Issuer().token(ready))
    assert "JWS-SIG-ISSUER-KEY" in failing(response.get_json()["analysis"])


def test_without_a_managed_key_or_issuer_jwks_the_analysis_says_so(client, issuer):
    someone_else = jwk.JWK.generate(kty="RSA", size=3072, use="enc", alg="RSA-OAEP-256")
    someone_else["kid"] = someone_else.thumbprint()
    token = issuer.token({"keys": [someone_else.export_public(as_dict=True)]})
    analysis = post(client, token).get_json()["analysis"]
    assert "JWE-KEY-BOUND" in failing(analysis) and not analysis["passed"]
    client.post(V + "/keys")
    analysis = post(client, issuer.token(client.get(V + "/jwks.json").get_json())
                    ).get_json()["analysis"]
    assert "JWS-SIG-ISSUER-KEY" in failing(analysis)


@pytest.mark.parametrize("token", ["hello", "a.b.c.d.e", "e" * 20000, "ü" * 10, "."])
def test_garbage_tokens_are_findings_never_500(client, ready, token):
    response = post(client, token)
    assert response.status_code == 201, response.get_data(as_text=True)
    analysis = response.get_json()["analysis"]
    assert analysis["passed"] is False and failing(analysis)
    assert token not in response.get_data(as_text=True) or len(token) < 2


@pytest.mark.parametrize(("kwargs", "status", "code"), [
    ({"json": {"token": 42}}, 422, "validation_failed"),
    ({"json": {"token": "   "}}, 422, "validation_failed"),
    ({"json": {}}, 422, "validation_failed"),
    ({"json": ["eyJ"]}, 400, "bad_request"),
    ({"data": "eyJ.x.y", "content_type": "text/plain"}, 415, "unsupported_media_type"),
    ({"data": b"{not json", "content_type": "application/json"}, 400, "bad_request"),
])
def test_malformed_token_requests_are_clear_errors(client, kwargs, status, code):
    response = client.post(V + "/evidence/tokens", **kwargs)
    assert response.status_code == status
    assert response.get_json()["error"] == code


# ------------------------------------------------------------------------------ JWKS
def test_jwks_is_stored_and_an_identical_one_is_not_stored_twice(client, issuer):
    raw = json.dumps(issuer.jwks()).encode()
    first = client.put(V + "/evidence/jwks", data=raw, content_type="application/json")
    assert first.status_code == 201
    evidence = first.get_json()["evidence"]
    assert evidence["passed"] is True and evidence["jwks"] == issuer.jwks()
    assert {f["rule"] for f in evidence["findings"]} == {
        "KEY-JWKS-HYGIENE", "KEY-RSA-SIZE", "KEY-CURVE", "KEY-SEPARATION"}
    again = client.put(V + "/evidence/jwks", data=raw)
    assert (again.status_code, again.get_json()["created"]) == (200, False)
    assert client.get(V + "/evidence/jwks").get_json()["evidence"]["id"] == evidence["id"]


def test_private_members_are_stripped_and_reported(client, issuer):
    response = client.put(V + "/evidence/jwks", json=issuer.jwks_with_private_members())
    assert response.status_code == 201
    evidence = response.get_json()["evidence"]
    assert "d" not in evidence["jwks"]["keys"][0]
    assert issuer.key["d"] not in response.get_data(as_text=True)
    hygiene = [f for f in evidence["findings"] if f["rule"] == "KEY-JWKS-HYGIENE"]
    assert hygiene[0]["status"] == "fail" and hygiene[0]["severity"] == "critical"
    assert evidence["passed"] is False


def _rsa(bits: int) -> dict:
    key = jwk.JWK.generate(kty="RSA", size=bits, use="sig", alg="PS256")
    key["kid"] = key.thumbprint()
    return key.export_public(as_dict=True)


@pytest.mark.parametrize(("jwks", "rule"), [
    ({"keys": [{"kty": "XYZ", "kid": "a"}, None]}, "KEY-JWKS-HYGIENE"),
    ({"keys": [_rsa(1024)]}, "KEY-RSA-SIZE"),
    ({"keys": [{**_rsa(3072), "kid": "same"}, {**_rsa(3072), "kid": "same"}]},
     "KEY-JWKS-HYGIENE"),
])
def test_flawed_key_sets_are_stored_with_findings(client, jwks, rule):
    response = client.put(V + "/evidence/jwks", json=jwks)
    assert response.status_code == 201, response.get_data(as_text=True)
    bad = {f["rule"] for f in response.get_json()["evidence"]["findings"]
           if f["status"] == "fail"}
    assert rule in bad


@pytest.mark.parametrize("raw", [b"", b"not json", b'{"keys": {}}', b"[1, 2]",
                                 b'{"keys": []}', b"\xff\xfe", b'{"keys": [], "keys": []}'])
def test_unreadable_key_sets_are_422_and_keep_the_previous_one(client, issuer, raw):
    assert client.put(V + "/evidence/jwks", json=issuer.jwks()).status_code == 201
    response = client.put(V + "/evidence/jwks", data=raw, content_type="application/json")
    assert response.status_code == 422
    assert response.get_json()["error"] == "validation_failed"
    assert "jwks" in response.get_json()["details"]["fields"]
    assert client.get(V + "/evidence/jwks").get_json()["evidence"]["passed"] is True


def test_missing_jwks_evidence_is_404(client):
    assert client.get(V + "/evidence/jwks").status_code == 404

"""The deployment gate needs a passing issuer JWKS and a recent passing sample token."""

from __future__ import annotations

from datetime import timedelta

import pytest
from approvalkit import bearer_for, promote_with_approval
from clockkit import Clock
from evidencekit import ECDH_SPEC, SPEC, Issuer, gateway_proven, use_fresh_kek

from lifecycle.catalog import services
from lifecycle.evidence import keys
from lifecycle.evidence import services as evidence
from lifecycle.gates import evaluate

V = "/api/v1/apis/orders/versions/1.0.0"


@pytest.fixture
def clock(app, monkeypatch) -> Clock:
    use_fresh_kek(app, monkeypatch)
    app.config["CLOCK"] = clock = Clock()
    return clock


@pytest.fixture
def testing(app, client, clock):
    """A version with a good spec, promoted to testing, a key generated."""
    client.post("/api/v1/apis", json={"name": "orders", "title": "Orders", "team": "shop"})
    client.post("/api/v1/apis/orders/versions", json={"version": "1.0.0"})
    assert client.put(V + "/spec", data=SPEC).status_code == 201
    for stage in ("development", "testing"):
        assert client.post(V + "/transitions", json={"to": stage}).status_code == 201
    assert client.post(V + "/keys").status_code == 201
    return client


@pytest.fixture
def proven(testing):
    """``testing`` with passing gateway evidence (a real proof, reused within the session)."""
    gateway_proven(testing, V)
    return testing


def compliance(client):
    return client.get(V + "/compliance").get_json()


def analyse(client, token):
    response = client.post(V + "/evidence/tokens", json={"token": token})
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()["analysis"]


def test_without_evidence_deployment_is_blocked_with_what_to_supply(testing):
    body = compliance(testing)
    assert (body["target"], body["passed"]) == ("deployment", False)
    blocking = {f["rule"]: f for f in body["blocking"]}
    assert {"TOK-NESTED-JWE", "CLM-EXP", "KEY-JWKS-HYGIENE"} <= set(blocking)
    token_message = blocking["TOK-NESTED-JWE"]["message"]
    assert blocking["TOK-NESTED-JWE"]["status"] == "missing-evidence"
    assert "Paste a sample access token on the version page or POST it to " \
           f"{V}/evidence/tokens" in token_message
    assert f"PUT it as the raw JSON body to {V}/evidence/jwks" in \
        blocking["KEY-JWKS-HYGIENE"]["message"]
    approver = bearer_for(testing.application, "approver@stagegate.test")  # moves to deployment
    refused = testing.post(V + "/transitions", json={"to": "deployment"}, headers=approver)
    assert refused.status_code == 409
    assert "TOK-NESTED-JWE" in refused.get_json()["details"]["rules"]


def test_good_jwks_and_token_open_the_gate(proven, clock):
    issuer = Issuer()
    proven.put(V + "/evidence/jwks", json=issuer.jwks())
    body = compliance(proven)
    assert not body["passed"]
    assert {f["rule"] for f in body["blocking"]} >= {"TOK-NESTED-JWE"}
    assert not {f["rule"] for f in body["blocking"]} & {"KEY-JWKS-HYGIENE", "KEY-JWKS-HTTPS",
                                                         "KEY-SEPARATION"}
    assert analyse(proven, issuer.token(proven.get(V + "/jwks.json").get_json(),
                                         now=clock.unix))["passed"]
    assert compliance(proven)["passed"] is True
    # into deployment only with four-eyes approval (lifecycle/review/approvals.py)
    promoted = promote_with_approval(proven, V, "deployment")
    assert promoted.status_code == 200, promoted.get_data(as_text=True)
    assert promoted.get_json()["transition"]["check_run"]["passed"] is True


def test_token_evidence_expires_after_the_configured_age(app, proven, clock):
    issuer = Issuer()
    proven.put(V + "/evidence/jwks", json=issuer.jwks())
    analyse(proven, issuer.token(proven.get(V + "/jwks.json").get_json(), now=clock.unix))
    clock.now += timedelta(days=29, hours=23)
    assert compliance(proven)["passed"] is True
    clock.now += timedelta(hours=2)
    body = compliance(proven)
    assert not body["passed"]
    assert any("in the last 30 days" in f["message"] for f in body["blocking"])
    app.config["TOKEN_EVIDENCE_MAX_AGE_DAYS"] = 60
    assert compliance(proven)["passed"] is True


def test_the_newest_passing_token_counts_and_failures_show_without_one(proven, clock):
    issuer = Issuer()
    proven.put(V + "/evidence/jwks", json=issuer.jwks())
    public = proven.get(V + "/jwks.json").get_json()
    bad = analyse(proven, issuer.token(public, now=clock.unix, aud="https://elsewhere"))
    assert not bad["passed"]
    body = compliance(proven)
    assert [f["rule"] for f in body["blocking"]] == ["CLM-AUD"]
    assert body["blocking"][0]["status"] == "fail"
    analyse(proven, issuer.token(public, now=clock.unix))
    analyse(proven, issuer.token(public, now=clock.unix, iss="https://elsewhere"))
    assert compliance(proven)["passed"] is True  # the newest *passing* one counts


def test_a_bad_jwks_blocks_even_with_a_good_token(proven, clock):
    issuer = Issuer()
    proven.put(V + "/evidence/jwks", json=issuer.jwks())
    analyse(proven, issuer.token(proven.get(V + "/jwks.json").get_json(), now=clock.unix))
    proven.put(V + "/evidence/jwks", json=issuer.jwks_with_private_members())
    body = compliance(proven)
    assert [f["rule"] for f in body["blocking"]] == ["KEY-JWKS-HYGIENE"]


def test_the_issuer_must_not_publish_the_api_encryption_key(app, testing, clock):
    public = testing.get(V + "/jwks.json").get_json()
    leaked = {"keys": [{**public["keys"][0], "use": "sig", "alg": "PS256"}]}
    testing.put(V + "/evidence/jwks", json=leaked)
    rules = {f["rule"] for f in compliance(testing)["blocking"]}
    assert "KEY-SEPARATION" in rules


def test_a_changed_token_profile_needs_a_new_sample_token(testing, clock):
    issuer = Issuer()
    testing.put(V + "/evidence/jwks", json=issuer.jwks())
    analyse(testing, issuer.token(testing.get(V + "/jwks.json").get_json(), now=clock.unix))
    testing.put(V + "/spec", data=ECDH_SPEC)
    body = compliance(testing)
    assert not body["passed"]
    assert any("earlier token profile" in f["message"] for f in body["blocking"])


def test_earlier_gates_need_no_token_evidence(app, client, clock):
    client.post("/api/v1/apis", json={"name": "orders", "title": "Orders", "team": "shop"})
    client.post("/api/v1/apis/orders/versions", json={"version": "1.0.0"})
    client.put(V + "/spec", data=SPEC)
    with app.app_context():
        obj = services.get_version("orders", "1.0.0")
        for target in ("development", "testing"):
            assert evaluate.gate_status(obj, target).passed
        assert evidence.best_token_evidence(obj)[0] is None
        assert keys.list_keys(obj) == []

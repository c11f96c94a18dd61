"""Scenarios of features/gateway/gateway_proof.feature: gateway evidence at the deployment
gate, with a REAL proof (Debian's nginx, the validator and the attack matrix, ~2 s each) run
through the REST API (``Prefer: wait``)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from evidencekit import GATEWAY_SETTINGS, Issuer, prove_gateway, store_gateway, use_fresh_kek
from pytest_bdd import given, parsers, scenarios, then, when

from lifecycle.trust.records import verify_record

scenarios("gateway/gateway_proof.feature")


@pytest.fixture(autouse=True)
def _kek(app, monkeypatch) -> None:
    use_fresh_kek(app, monkeypatch)


@pytest.fixture
def remembered() -> dict[str, Any]:
    return {}


def _gateway_proof(record: dict[str, Any]) -> dict[str, Any]:
    return next(f for f in record["findings"] if f["rule_id"] == "GW-PROOF")


# ----------------------------------------------------------------------------- given
@given("the version has passing sample-token evidence")
def _(client, version_url):
    assert client.post(f"{version_url}/keys").status_code == 201
    issuer = Issuer()
    assert client.put(f"{version_url}/evidence/jwks", json=issuer.jwks()).status_code == 201
    token = issuer.token(client.get(f"{version_url}/jwks.json").get_json())
    answer = client.post(f"{version_url}/evidence/tokens", json={"token": token})
    assert answer.get_json()["analysis"]["passed"] is True


@given("the team saved the gateway settings and Stagegate generated the nginx configuration")
def _(client, version_url, remembered):
    config = store_gateway(client, version_url)
    assert config["source"] == "generated" and config["passed"] is True
    remembered["first_sha"] = config["sha256"]


# ----------------------------------------------------------------------------- when
@when("the team runs a gateway proof with a real nginx", target_fixture="proof")
def _(client, version_url):
    return prove_gateway(client, version_url)


@when("the team points the gateway at a new upstream and regenerates the configuration")
def _(client, version_url, remembered):
    config = store_gateway(client, version_url,
                           {**GATEWAY_SETTINGS, "upstream": "http://127.0.0.1:8090"})
    assert config["sha256"] != remembered["first_sha"]
    remembered["second_sha"] = config["sha256"]


# ----------------------------------------------------------------------------- then
@then("the promotion is refused because the gateway has never been proven")
def _(response):
    assert response.status_code == 409, response.get_data(as_text=True)
    body = response.get_json()
    assert body["error"] == "gate_failed"
    assert body["details"]["rules"] == ["GW-PROOF"]
    (finding,) = body["details"]["blocking"]
    assert finding["status"] == "missing-evidence"
    assert "never been proven" in finding["message"]


@then("the refusal says how to run a proof")
def _(response, version_url):
    (finding,) = response.get_json()["details"]["blocking"]
    assert f"POST {version_url}/gateway/proofs" in finding["message"]


@then("the proof passed: the good token reached the upstream without its Authorization header "
      "and every attack was refused before the upstream")
def _(proof):
    assert proof["passed"] is True and proof["current"] is True
    assert proof["counts"]["total"] >= 24
    good = next(c for c in proof["cases"] if c["id"] == "good-token")
    assert good["reached_upstream"] and not good["authorization_upstream"]
    attacks = [c for c in proof["cases"] if c["expected"] == "deny"]
    assert len(attacks) >= 23
    assert all(c["passed"] and not c["reached_upstream"] for c in attacks)
    assert proof["nginx_version"].startswith("nginx version: nginx/")


@then(parsers.parse('the gate into "{stage}" passes'))
def _(client, version_url, stage):
    body = client.get(f"{version_url}/compliance").get_json()
    assert (body["target"], body["passed"]) == (stage, True), body["blocking"]


@then(parsers.parse('the gate into "{stage}" is blocked because the configuration changed '
                    'since its proof'))
def _(client, version_url, stage):
    body = client.get(f"{version_url}/compliance").get_json()
    assert (body["target"], body["passed"]) == (stage, False)
    assert [f["rule"] for f in body["blocking"]] == ["GW-PROOF"]
    assert "changed since the last proof" in body["blocking"][0]["message"]


@then("the signed gate record names the proof of the current configuration")
def _(client, version_url, remembered):
    records = client.get(f"{version_url}/gate-records").get_json()["records"]
    passed = [r for r in records if r["decision"] == "passed" and r["target"] == "deployment"]
    jws = client.get(passed[0]["url"]).get_data(as_text=True)
    keys = client.get("/api/v1/signing-keys.json").get_data(as_text=True)
    payload = verify_record(jws, keys).record
    finding = _gateway_proof(payload)
    assert finding["status"] == "pass"
    assert f"sha256:{remembered['second_sha']}" in finding["message"]
    assert "nginx/" in finding["message"] and "cases" in finding["message"]
    assert json.dumps(payload).count("Bearer") == 0

"""Scenarios of features/evidence/token_evidence.feature: token and JWKS evidence at the
deployment gate, and key rotation with a grace period (shared steps in conftest.py).

The app's clock (``CLOCK``) is moved by the steps instead of sleeping; tokens are built at
test time with jwcrypto, signed by an issuer key generated here and encrypted to the
version's public JWKS as served by the app.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from clockkit import Clock
from evidencekit import Issuer, use_fresh_kek
from pytest_bdd import given, parsers, scenarios, then, when

scenarios("evidence/token_evidence.feature")


@pytest.fixture(autouse=True)
def clock(app, monkeypatch) -> Clock:
    """A movable app clock and a key-encryption key for this test only."""
    use_fresh_kek(app, monkeypatch)
    app.config["CLOCK"] = clock = Clock()
    return clock


@pytest.fixture
def issuer() -> Issuer:
    return Issuer()


@pytest.fixture
def remembered() -> dict[str, Any]:
    return {}


def _analyse(client: Any, version_url: str, token: str) -> dict[str, Any]:
    response = client.post(f"{version_url}/evidence/tokens", json={"token": token})
    assert response.status_code == 201, response.get_data(as_text=True)
    assert token not in response.get_data(as_text=True)
    return response.get_json()["analysis"]


# ----------------------------------------------------------------------------- given
@given("Stagegate generated an encryption key for the version")
def _(client, version_url):
    response = client.post(f"{version_url}/keys")
    assert response.status_code == 201, response.get_data(as_text=True)


@given("the issuer's signing JWKS is added as evidence")
@when("the issuer's signing JWKS is added as evidence")
def _(client, version_url, issuer):
    response = client.put(f"{version_url}/evidence/jwks", json=issuer.jwks())
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["evidence"]["passed"] is True


@given("the public JWKS of the version is remembered as the old key set")
def _(client, version_url, remembered):
    remembered["old"] = client.get(f"{version_url}/jwks.json").get_json()
    assert len(remembered["old"]["keys"]) == 1


# ----------------------------------------------------------------------------- when
@when(parsers.parse("the key is rotated with a grace period of {seconds:d} seconds"))
def _(client, version_url, seconds):
    response = client.post(f"{version_url}/keys/rotate", json={"grace_seconds": seconds})
    assert response.status_code == 201, response.get_data(as_text=True)


@when(parsers.parse("{count:d} minutes pass"))
def _(clock, count):
    clock.now += timedelta(minutes=count)


@when(parsers.parse("{count:d} hours pass"))
def _(clock, count):
    clock.now += timedelta(hours=count)


@when("a good sample token encrypted to the current key is analysed",
      target_fixture="analysis")
def _(client, version_url, issuer, clock):
    public = client.get(f"{version_url}/jwks.json").get_json()
    current = client.get(f"{version_url}/keys").get_json()["keys"][0]
    assert current["state"] == "current"
    token = issuer.token(public, kid=current["kid"], now=int(clock.now.timestamp()))
    return _analyse(client, version_url, token)


@when("a good sample token encrypted to the old key is analysed", target_fixture="analysis")
def _(client, version_url, issuer, clock, remembered):
    token = issuer.token(remembered["old"], now=int(clock.now.timestamp()))
    return _analyse(client, version_url, token)


# ----------------------------------------------------------------------------- then
@then("the promotion is refused because sample token evidence is missing")
def _(response):
    assert response.status_code == 409, response.get_data(as_text=True)
    body = response.get_json()
    assert body["error"] == "gate_failed"
    assert body["details"]["target"] == "deployment"
    missing = {f["rule"] for f in body["details"]["blocking"]
               if f["status"] == "missing-evidence"}
    assert {"TOK-NESTED-JWE", "JWE-ALG-ALLOWED", "CLM-EXP", "KEY-JWKS-HYGIENE"} <= missing


@then("the refusal says to paste a sample access token or to POST it to the evidence endpoint")
def _(response, version_url):
    blocking = {f["rule"]: f for f in response.get_json()["details"]["blocking"]}
    message = blocking["TOK-NESTED-JWE"]["message"]
    assert "Paste a sample access token on the version page" in message
    assert f"POST it to {version_url}/evidence/tokens" in message


@then("the analysis passes every rule")
def _(analysis):
    failing = [f for f in analysis["findings"] if f["status"] in ("fail", "error")]
    assert analysis["passed"] is True, failing
    assert not analysis["not_evaluated"]


@then(parsers.parse('the analysis fails "{rule}"'))
def _(analysis, rule):
    assert analysis["passed"] is False
    assert rule in {f["rule"] for f in analysis["findings"] if f["status"] == "fail"}

"""Steps of features/review/: four-eyes approval and waiver expiry, through the REST API.

People are users with the approver role (created on first use, second factor enrolled),
each acting with their own access token.  The app's clock (``CLOCK``) is moved by the steps
instead of sleeping.
"""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import pytest
from approvalkit import bearer_for, deployment_ready
from clockkit import Clock
from evidencekit import SPEC
from pytest_bdd import given, parsers, scenarios, then, when

scenarios("review/approval.feature", "review/waiver_expiry.feature")

PUBLIC_OPERATION = SPEC.replace(b"      responses:", b"      security: []\n      responses:", 1)
PLAIN_HTTP = PUBLIC_OPERATION.replace(b"https://api.example.com/orders/v1",
                                      b"http://api.example.com/orders/v1", 1)


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    """The JSON error body of ``response`` after checking its status and code."""
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    body = response.get_json()
    assert body["error"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    return body


@pytest.fixture(autouse=True)
def clock(app) -> Clock:
    app.config["CLOCK"] = clock = Clock()
    return clock


@pytest.fixture
def review() -> dict[str, Any]:
    """The current request and waiver of the scenario."""
    return {}


def person(client: Any, email: str) -> dict[str, str]:
    return bearer_for(client.application, email, ("approver",))


# ----------------------------------------------------------------------------- given
@given(parsers.parse('the version "{version}" of "{name}" is in testing and passes the '
                     "deployment gate"), target_fixture="version_url")
def _(client, clock, name, version):
    return deployment_ready(client, int(clock.now.timestamp()), name=name)


@given("the version is in development with an operation anyone may call")
def _(client, version_url):
    assert client.put(f"{version_url}/spec", data=PUBLIC_OPERATION).status_code == 201
    assert client.post(f"{version_url}/transitions", json={"to": "development"}) \
        .status_code == 201


@given("the version is also served over plain HTTP")
def _(client, version_url):
    assert client.put(f"{version_url}/spec", data=PLAIN_HTTP).status_code == 201


# ----------------------------------------------------------------------------- approval
@when(parsers.parse('"{who}" requests the promotion to "{stage}" because "{reason}"'))
def _(client, version_url, review, who, stage, reason):
    response = client.post(f"{version_url}/promotion-requests",
                           json={"to": stage, "reason": reason}, headers=person(client, who))
    assert response.status_code == 201, response.get_data(as_text=True)
    review["request"] = response.get_json()


def _decide(client, version_url, review, who, verb, comment=None):
    body = {} if comment is None else {"comment": comment}
    rid = review["request"]["id"]
    return client.post(f"{version_url}/promotion-requests/{rid}/{verb}", json=body,
                       headers=person(client, who))


@when(parsers.parse('"{who}" approves the request saying "{comment}"'),
      target_fixture="response")
def _(client, version_url, review, who, comment):
    return _decide(client, version_url, review, who, "approve", comment)


@when(parsers.parse('"{who}" approves the request'), target_fixture="response")
def _(client, version_url, review, who):
    return _decide(client, version_url, review, who, "approve")


@when(parsers.parse('"{who}" rejects the request saying "{comment}"'))
def _(client, version_url, review, who, comment):
    response = _decide(client, version_url, review, who, "reject", comment)
    assert response.status_code == 200, response.get_data(as_text=True)


@then(parsers.parse("the request is pending with {given:d} of {needed:d} approvals"))
def _(review, given, needed):
    req = review["request"]
    assert (req["state"], req["approvals"], req["required_approvals"]) == \
        ("pending", given, needed)


@then("the approval is refused because the requester cannot approve their own request")
def _(response):
    body = assert_error(response, 403, "self_approval")
    assert "another approver" in body["message"]


@then("the approval is refused because the request was rejected")
def _(response):
    body = assert_error(response, 409, "conflict")
    assert "rejected" in body["message"]


@then("the promotion is refused because it needs an approval")
def _(response):
    body = assert_error(response, 409, "approval_required")
    assert "promotion-requests" in body["message"]


@then(parsers.parse("the audit trail of the version ends with {steps}"))
def _(client, version_url, steps):
    expected = []
    for item in steps.split(", "):
        action, _, actor = item.partition(" by ")
        expected.append((action.strip('"'), actor.strip('"')))
    subject = "{}@{}".format(*version_url.split("/apis/")[1].split("/versions/"))
    entries = client.get("/api/v1/audit", query_string={"subject": subject, "order": "asc"},
                         headers=bearer_for(client.application, "auditor@stagegate.test")) \
        .get_json()["entries"]
    actual = [(e["action"], e["actor"]) for e in entries]
    assert actual[-len(expected):] == expected


@then(parsers.parse('the signed gate record of the promotion lists the approval by "{who}" '
                    'saying "{comment}"'))
def _(client, version_url, response, who, comment):
    run = response.get_json()["transition"]["check_run"]["id"]
    (row,) = [r for r in client.get(f"{version_url}/gate-records").get_json()["records"]
              if r["check_run"] == run]
    payload = client.get(row["url"]).get_data(as_text=True).split(".")[1]
    record = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert record["decision"] == "passed"
    assert [(a["approver"], a["comment"]) for a in record["approvals"]] == [(who, comment)]


# ----------------------------------------------------------------------------- waivers
@when(parsers.parse('the approver "{who}" waives "{rule}" for {days:d} days because '
                    '"{reason}"'), target_fixture="response")
def _(client, version_url, review, who, rule, days, reason):
    response = client.post(f"{version_url}/waivers",
                           json={"rule": rule, "reason": reason, "days": days},
                           headers=person(client, who))
    if response.status_code == 201:
        review["waiver"] = response.get_json()
    return response


@when(parsers.parse('the approver "{who}" revokes the waiver'))
def _(client, review, who):
    response = client.post(review["waiver"]["revoke_url"], json={},
                           headers=person(client, who))
    assert response.status_code == 200, response.get_data(as_text=True)


@when(parsers.parse("{count:d} days pass"))
@when(parsers.parse("{count:d} more day passes"))
def _(clock, count):
    clock.now += timedelta(days=count)


@then(parsers.parse('the finding "{rule}" shows as waived by "{who}"'))
def _(client, version_url, rule, who):
    body = client.get(f"{version_url}/compliance").get_json()
    (finding,) = [f for f in body["findings"] if f["rule"] == rule]
    assert finding["status"] == "waived"
    assert f"by {who}" in finding["message"]


@then(parsers.parse('the gate into "{stage}" is blocked by "{rule}" again'))
def _(client, version_url, stage, rule):
    body = client.get(f"{version_url}/compliance").get_json()
    assert (body["target"], body["passed"]) == (stage, False)
    assert [(f["rule"], f["status"]) for f in body["blocking"]] == [(rule, "fail")]


@then(parsers.parse('promoting the version to "{stage}" is refused by the gate'))
def _(client, version_url, stage):
    response = client.post(f"{version_url}/transitions", json={"to": stage})
    assert_error(response, 409, "gate_failed")


@then("the waiver is refused because it would last longer than 90 days")
def _(response):
    body = assert_error(response, 422, "validation_failed")
    assert "at most 90 days" in body["details"]["fields"]["expires_at"]


@then("the waiver is refused because critical findings cannot be waived")
def _(response):
    body = assert_error(response, 422, "not_waivable")
    assert "critical" in body["message"]

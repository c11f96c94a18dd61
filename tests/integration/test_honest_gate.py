"""Honest counts and buttons (issue 9 point 14): the version page says what blocks in words,
offers no Promote / Request / Approve button the gate would refuse without saying why beside
it, answers a refused request with one sentence and a link to the findings (not the rule
ids), and gives each role hints it can act on."""

from __future__ import annotations

import re

import pytest
from approvalkit import deployment_ready, request_promotion
from evidencekit import SPEC, new_version

REST = "/api/v1/apis/orders/versions/1.0.0"
PAGE = "/apis/orders/versions/1.0.0"
HX = {"HX-Request": "true"}
PUBLIC_OPERATION = SPEC.replace(b"      responses:", b"      security: []\n      responses:", 1)
RULE_ID = re.compile(r"\b(?:TOK|JWE|JWS|HDR|CLM|KEY|GW|SPEC)-[A-Z0-9-]+\b")


def body(response) -> str:
    return response.get_data(as_text=True)


def flash_error(page: str) -> str:
    return page.split('class="flash flash--error"')[1].split("</p>")[0]


@pytest.fixture
def in_testing(client):
    """``orders 1.0.0`` in testing with a good spec and no token, key or gateway evidence:
    the deployment gate waits for evidence."""
    new_version(client, SPEC, stages=("development", "testing"))
    return client


def test_the_verdict_names_the_missing_evidence_instead_of_counting_findings(in_testing):
    page = body(in_testing.get(PAGE))
    verdict = page.split('id="gate-verdict">')[1].split("</p>")[0]
    assert "Blocked in revision 1: missing token, JWKS and gateway configuration evidence." \
        in verdict
    assert "finding" not in verdict


def test_no_request_form_while_the_gate_blocks_but_a_sentence_saying_why(in_testing, auth):
    for who in (in_testing, auth.client("approver")):
        page = body(who.get(PAGE))
        assert 'action="/apis/orders/versions/1.0.0/promotion-requests"' not in page
        why = page.split('id="request-why">')[1].split("</p>")[0]
        assert "once the gate passes" in why and "missing token, JWKS and gateway" in why
        assert 'href="#gate"' in why
        hint = page.split('id="actions-h"')[1].split("</p>")[0]
        assert "takes a request once the gate passes" in hint


def test_a_refused_request_is_one_sentence_linking_to_the_findings(in_testing):
    refused = in_testing.post(PAGE + "/promotion-requests",
                              data={"request-to": "deployment", "request-reason": "Go"},
                              headers=HX)
    assert refused.status_code == 409
    message = flash_error(body(refused))
    assert "The Deployment gate blocks this version" in message
    assert "missing token evidence" in message and "missing JWKS evidence" in message
    assert '<a href="#gate">See what blocks it</a>' in message
    assert not RULE_ID.search(message), message   # no paragraph of rule ids
    assert len(re.sub(r"<[^>]+>", "", message)) < 300
    # the REST answer keeps its machine-readable details
    rest = request_promotion(in_testing, REST)
    assert rest.status_code == 409 and rest.get_json()["error"] == "gate_failed"


def test_a_refused_promotion_says_what_blocks_in_one_sentence(client):
    new_version(client, PUBLIC_OPERATION, stages=("development",))
    page = body(client.get(PAGE))
    assert re.search(r'type="submit" disabled aria-describedby="promote-why">Promote to Testing',
                     page)
    # a form posted anyway (an old tab) is refused with the short message
    refused = client.post(PAGE + "/promote", data={"promote-to": "testing"}, headers=HX)
    assert refused.status_code == 409
    message = flash_error(body(refused))
    assert "The Testing gate blocks this version: 1 failing rule." in message
    assert '<a href="#gate">' in message and not RULE_ID.search(message)


def test_approve_is_disabled_with_the_reason_when_the_gate_blocks_since_the_request(
        app, client, auth, clock):
    deployment_ready(client, clock.unix)
    assert request_promotion(client, REST).status_code == 201
    approver = auth.client("approver")
    assert re.search(r'promotion-requests/\d+/approve"', body(approver.get(PAGE)))
    assert client.put(REST + "/spec", data=PUBLIC_OPERATION).status_code == 201
    page = body(approver.get(PAGE))
    assert not re.search(r'promotion-requests/\d+/approve"', page)
    why = page.split('id="approve-why">')[1].split("</p>")[0]
    assert "would not promote it" in why and "1 failing rule" in why and 'href="#gate"' in why
    assert re.search(r'type="button" disabled aria-describedby="approve-why">Approve', page)
    assert re.search(r'promotion-requests/\d+/reject"', page)   # rejecting still works


def test_hints_fit_the_role(app, in_testing, auth):
    viewer = auth.client("viewer")
    page = body(viewer.get(PAGE))
    actions = page.split('id="actions-h"')[1].split("</section>")[0]
    assert "request it in the Approval panel" not in actions
    assert "a developer of the owning team (shop) or an approver requests it" in actions
    gate = page.split('id="gate"')[1].split("</section>")[0]
    assert 'href="#token-form"' not in gate and 'href="#jwks-form"' not in gate
    assert "A developer of the owning team supplies it." in gate
    # the developer is given the forms
    own = body(in_testing.get(PAGE)).split('id="gate"')[1].split("</section>")[0]
    assert 'href="#token-form"' in own and "supplies it" not in own

    assert in_testing.post("/api/v1/apis/orders/versions", json={"version": "2.0.0"}) \
        .status_code == 201
    empty = body(viewer.get("/apis/orders/versions/2.0.0"))
    verdict = empty.split('id="gate-verdict">')[1].split("</p>")[0]
    assert "Upload one" not in verdict and "once a developer of the owning team uploads" in verdict
    assert "Upload one to see what the gate checks" in body(
        in_testing.get("/apis/orders/versions/2.0.0"))

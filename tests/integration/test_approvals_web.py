"""The version page's Approval and Waivers panels: plain forms (303), htmx (fragment), CSRF."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from approvalkit import deployment_ready
from evidencekit import SPEC

PAGE = "/apis/orders/versions/1.0.0"
REST = "/api/v1" + PAGE
HX = {"HX-Request": "true"}
PUBLIC_OPERATION = SPEC.replace(b"      responses:", b"      security: []\n      responses:", 1)
RULE = "SPEC-OPERATIONS-SECURED"


@pytest.fixture
def ready(client, clock):
    deployment_ready(client, int(clock.now.timestamp()))
    return client


@pytest.fixture
def blocked(client, clock):
    """In development; the testing gate is blocked by :data:`RULE` (high)."""
    client.post("/api/v1/apis", json={"name": "orders", "title": "Orders", "team": "shop"})
    client.post("/api/v1/apis/orders/versions", json={"version": "1.0.0"})
    client.put(REST + "/spec", data=PUBLIC_OPERATION)
    client.post(REST + "/transitions", json={"to": "development"})
    return client


def text(response) -> str:
    return response.get_data(as_text=True)


def stage(client) -> str:
    return client.get(REST).get_json()["stage"]


def request_id(client) -> int:
    """The id of the version's newest promotion request (ids are not reset between tests
    on PostgreSQL)."""
    return client.get(REST + "/promotion-requests").get_json()["requests"][0]["id"]


def waiver_id(client) -> int:
    return client.get(REST + "/waivers").get_json()["waivers"][0]["id"]


def csrf_token(page: str) -> str:
    match = re.search(r'name="request-csrf_token" type="hidden" value="([^"]+)"', page)
    assert match, "no CSRF token in the request form"
    return match.group(1)


def test_request_and_approve_through_the_page(app, ready, auth):
    approver = auth.client("approver")
    page = text(approver.get(PAGE))
    assert "Request promotion to Deployment" in page
    requested = approver.post(PAGE + "/promotion-requests",
                              data={"request-to": "deployment", "request-reason": "Go live"})
    assert requested.status_code == 303
    rid = request_id(ready)
    page = text(approver.get(PAGE))
    assert "Pending request" in page and "Go live" in page
    assert "You requested this promotion; another approver must approve it." in page
    assert f'promotion-requests/{rid}/approve"' not in page  # no approve form for the requester

    own = approver.post(f"{PAGE}/promotion-requests/{rid}/approve",
                        data={"approve-comment": "me"}, headers=HX)
    assert own.status_code == 403
    assert "another approver must approve it" in text(own)
    assert stage(ready) == "testing"

    other = auth.client("approver")
    assert f'promotion-requests/{rid}/approve"' in text(other.get(PAGE))
    done = other.post(f"{PAGE}/promotion-requests/{rid}/approve",
                      data={"approve-comment": "Reviewed"}, headers=HX)
    assert done.status_code == 200
    fragment = text(done)
    assert fragment.lstrip().startswith('<div id="version"')
    assert "Approved; the version was promoted to deployment." in fragment
    assert stage(ready) == "deployment"
    assert f"approved by {other.user_email} (“Reviewed”)" in fragment


def test_reject_needs_a_comment_and_closes_the_request(ready, auth):
    requester, reviewer = auth.client("approver"), auth.client("approver")
    requester.post(PAGE + "/promotion-requests", data={"request-to": "deployment"})
    rid = request_id(ready)
    empty = reviewer.post(f"{PAGE}/promotion-requests/{rid}/reject",
                          data={"reject-comment": " "})
    assert empty.status_code == 422
    assert "Say why the request is rejected." in text(empty)
    rejected = reviewer.post(f"{PAGE}/promotion-requests/{rid}/reject",
                             data={"reject-comment": "Not this week"})
    assert rejected.status_code == 303
    late = reviewer.post(f"{PAGE}/promotion-requests/{rid}/approve", data={}, headers=HX)
    assert late.status_code == 409
    assert "rejected" in text(late)


def test_the_promote_button_into_deployment_explains_approval(ready, auth):
    response = auth.client("approver").post(PAGE + "/promote",
                                            data={"promote-to": "deployment"}, headers=HX)
    assert response.status_code == 409
    assert "needs 1 approval by an approver other than" in text(response)
    assert stage(ready) == "testing"


def test_viewers_see_the_panel_without_forms(ready, auth):
    page = text(auth.client("viewer").get(PAGE))
    assert "needs 1 approval by an approver other than the requester" in page
    assert "promotion-requests" not in page


def test_waive_from_the_page_then_it_shows_who_why_until(blocked, auth, clock):
    approver = auth.client("approver")
    page = text(approver.get(PAGE))
    assert f"Waive <code>{RULE}</code> (high)…" in page
    until = (clock.now + timedelta(days=14)).date().isoformat()
    waived = approver.post(PAGE + "/waivers", data={
        "waive-rule": RULE, "waive-reason": "Health check is public on purpose",
        "waive-expires": until}, headers=HX)
    assert waived.status_code == 200, text(waived)
    fragment = text(waived)
    assert f"{RULE} waived until {until}T00:00:00Z." in fragment
    assert "Health check is public on purpose" in fragment
    assert f"by {approver.user_email} until" in fragment
    assert "gate__status--pass" in fragment  # the gate passes now
    # a developer sees the waiver but gets no waive or revoke forms
    dev_page = text(auth.client("developer").get(PAGE))
    assert "Health check is public on purpose" in dev_page
    wid = waiver_id(blocked)
    assert f"/waivers/{wid}/revoke" in text(approver.get(PAGE))
    assert f"/waivers/{wid}/revoke" not in dev_page
    revoked = approver.post(f"{PAGE}/waivers/{wid}/revoke",
                            data={"revoke-waiver-reason": "fixed"})
    assert revoked.status_code == 303
    page = text(approver.get(PAGE))
    assert "revoked by " + approver.user_email in page
    assert "gate__status--blocked" in page


def test_waive_form_refusals_rerender_with_422(blocked, auth, clock):
    approver = auth.client("approver")
    too_far = (clock.now + timedelta(days=120)).date().isoformat()
    response = approver.post(PAGE + "/waivers", data={
        "waive-rule": RULE, "waive-reason": "r", "waive-expires": too_far}, headers=HX)
    assert response.status_code == 422
    assert "at most 90 days" in text(response)
    missing = approver.post(PAGE + "/waivers", data={"waive-rule": RULE, "waive-expires": ""})
    assert missing.status_code == 422


def test_critical_findings_offer_no_waiver(client, auth, clock):
    client.post("/api/v1/apis", json={"name": "orders", "title": "Orders", "team": "shop"})
    client.post("/api/v1/apis/orders/versions", json={"version": "1.0.0"})
    client.put(REST + "/spec", data=SPEC.replace(b"https://api.example.com/orders/v1",
                                                 b"http://api.example.com/orders/v1", 1))
    client.post(REST + "/transitions", json={"to": "development"})
    approver = auth.client("approver")
    page = text(approver.get(PAGE))
    assert "<code>TRN-HTTPS-ONLY</code> is critical and cannot be waived" in page
    assert "Waive <code>TRN-HTTPS-ONLY</code>" not in page
    forced = approver.post(PAGE + "/waivers", data={
        "waive-rule": "TRN-HTTPS-ONLY", "waive-reason": "r",
        "waive-expires": (clock.now + timedelta(days=3)).date().isoformat()}, headers=HX)
    assert forced.status_code == 422
    assert "critical findings cannot be waived" in text(forced)


# ------------------------------------------------------------------------------ CSRF
FORMS = [
    ("/promotion-requests", {"request-to": "deployment"}),
    ("/promotion-requests/1/approve", {}),
    ("/promotion-requests/1/reject", {"reject-comment": "no"}),
    ("/waivers", {"waive-rule": RULE, "waive-reason": "r", "waive-expires": "2099-01-01"}),
    ("/waivers/1/revoke", {}),
]


@pytest.mark.parametrize("path,data", FORMS)
@pytest.mark.parametrize("headers", [{}, HX], ids=["form", "htmx"])
def test_forms_without_the_csrf_token_are_refused(app, ready, auth, path, data, headers):
    approver = auth.client("approver")
    approver.get(PAGE)
    app.config["WTF_CSRF_ENABLED"] = True
    response = approver.post(PAGE + path, data=data, headers=headers)
    assert response.status_code == 400
    assert "Form expired" in text(response) or "csrf" in text(response).lower()
    assert stage(ready) == "testing"


def test_a_form_with_the_csrf_token_is_accepted(app, ready, auth):
    app.config["WTF_CSRF_ENABLED"] = True
    approver = auth.client("approver")
    token = csrf_token(text(approver.get(PAGE)))
    response = approver.post(PAGE + "/promotion-requests",
                             data={"request-csrf_token": token, "request-to": "deployment"})
    assert response.status_code == 303
    assert approver.get(REST + "/promotion-requests").get_json()["requests"][0]["state"] \
        == "pending"

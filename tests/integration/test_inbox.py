"""The approver inbox (issue 9 point 13): pending promotion requests are visible on the board
("Awaiting approval"), on ``/inbox`` for the approvers who may decide them (four eyes: never
their own, never one they decided) with a count in the navigation, and to the requester as
"My requests"; and the board says what blocks in words (point 14)."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from accountkit import DEVELOPER_EMAIL
from approvalkit import bearer_for, deployment_ready, request_promotion
from evidencekit import SPEC

from lifecycle.core.extensions import db

REST = "/api/v1/apis/orders/versions/1.0.0"
PAGE = "/apis/orders/versions/1.0.0"
PUBLIC_OPERATION = SPEC.replace(b"      responses:", b"      security: []\n      responses:", 1)


def text(response) -> str:
    assert response.status_code == 200, response.get_data(as_text=True)[:400]
    return response.get_data(as_text=True)


def nav_count(page: str) -> int | None:
    """The number beside "Inbox" in the navigation (``None``: no number shown)."""
    nav = page.split('aria-label="Main"')[1].split("</nav>")[0]
    found = re.search(r'class="nav__count">(\d+)<', nav)
    return int(found.group(1)) if found else None


def section(page: str, heading_id: str) -> str:
    return page.split(f'id="{heading_id}"')[1].split("</section>")[0]


@pytest.fixture
def requested(client, clock):
    """``orders 1.0.0`` ready for deployment, its promotion requested by the developer."""
    deployment_ready(client, clock.unix)
    response = request_promotion(client, REST, reason="Ship the orders API")
    assert response.status_code == 201
    return response.get_json()["id"]


def test_an_approver_sees_what_waits_for_them_and_the_count_in_the_navigation(
        app, client, auth, requested):
    approver = auth.client("approver")
    page = text(approver.get("/inbox"))
    waiting = section(page, "awaiting-h")
    assert "Orders" in waiting and "v1.0.0" in waiting
    assert DEVELOPER_EMAIL in waiting                       # requester
    assert "Testing" in waiting and "Deployment" in waiting  # from → to
    assert "Ship the orders API" in waiting
    assert "Gate passes" in waiting and "0 of 1" in waiting
    assert re.search(r"<time datetime=\"\d{4}-\d\d-\d\dT", waiting)
    assert f'href="{PAGE}#approvals"' in waiting            # where to decide
    assert nav_count(page) == 1
    assert nav_count(text(approver.get("/"))) == 1
    assert nav_count(text(approver.get("/rules"))) == 1


def test_four_eyes_the_requester_is_not_asked_and_a_decided_request_leaves_the_inbox(
        app, client, auth, clock):
    deployment_ready(client, clock.unix)
    first = auth.client("approver")
    assert first.post(PAGE + "/promotion-requests",
                      data={"request-to": "deployment", "request-reason": "Mine"}).status_code \
        == 303
    own = text(first.get("/inbox"))
    assert "Nothing waits for you" in section(own, "awaiting-h")
    assert nav_count(own) is None
    mine = section(own, "mine-h")
    assert "Orders" in mine and "pending" in mine and "Waiting for an approver other than you" \
        in mine

    second = auth.client("approver")
    assert nav_count(text(second.get("/"))) == 1
    rid = client.get(REST + "/promotion-requests").get_json()["requests"][0]["id"]
    approved = second.post(f"{PAGE}/promotion-requests/{rid}/approve",
                           data={"approve-comment": "ok"})
    assert approved.status_code == 303
    after = text(second.get("/inbox"))
    assert "Nothing waits for you" in section(after, "awaiting-h") and nav_count(after) is None
    assert "approved" in section(text(first.get("/inbox")), "mine-h")


def test_a_developer_sees_their_requests_and_no_count_a_viewer_is_not_told_to_request(
        app, client, auth, requested):
    page = text(client.get("/inbox"))
    assert 'id="awaiting-h"' not in page       # developers decide nothing
    assert nav_count(page) is None
    mine = section(page, "mine-h")
    assert "Orders" in mine and "pending" in mine and "Gate passes" in mine

    viewer = text(auth.client("viewer").get("/inbox"))
    assert 'id="awaiting-h"' not in viewer
    assert "Your account reads only" in viewer
    assert "Request one in the Approval panel" not in viewer


def test_the_board_shows_awaiting_approval_even_when_the_gate_blocks_since(
        app, client, auth, requested):
    board = text(client.get("/"))
    card = board.split(f'href="{PAGE}"')[1].split("</li>")[0]
    assert "Awaiting approval" in card and "Ready for Deployment" in card
    # a new revision that fails the deployment gate: the card is blocked (sorted first) and
    # still says a request waits
    assert client.put(REST + "/spec", data=PUBLIC_OPERATION).status_code == 201
    card = text(client.get("/")).split(f'href="{PAGE}"')[1].split("</li>")[0]
    assert "Blocked · 1 failing rule" in card and "Awaiting approval" in card
    (listed,) = client.get("/api/v1/versions").get_json()["versions"]
    assert listed["awaiting_approval"] is True and listed["attention"] == "blocked"
    assert listed["failing_rules"] == 1 and listed["missing_evidence"] == []
    assert "Blocked" in section(text(auth.client("approver").get("/inbox")), "awaiting-h")


def test_the_board_names_the_missing_evidence_instead_of_counting_waiting_rules(
        app, client, clock):
    assert client.post("/api/v1/apis", json={"name": "orders", "title": "Orders",
                                             "team": "shop"}).status_code == 201
    assert client.post("/api/v1/apis/orders/versions", json={"version": "1.0.0"}).status_code \
        == 201
    assert client.put(REST + "/spec", data=PUBLIC_OPERATION).status_code == 201
    for stage in ("development", "testing"):
        client.post(REST + "/transitions", json={"to": stage})
    # the testing gate blocks on the open operation: one failing rule
    card = text(client.get("/")).split(f'href="{PAGE}"')[1].split("</li>")[0]
    assert "Blocked · 1 failing rule<" in card or "Blocked · 1 failing rule\n" in card
    assert client.put(REST + "/spec", data=SPEC).status_code == 201
    assert client.post(REST + "/transitions", json={"to": "testing"}).status_code == 201
    card = text(client.get("/")).split(f'href="{PAGE}"')[1].split("</li>")[0]
    badge = re.search(r"Blocked · ([^<]+)<", card).group(1).strip()
    # dozens of token and key rules wait for evidence; the card names the evidence instead
    assert badge == "missing token, JWKS and gateway configuration evidence", badge
    assert "finding" not in badge
    (listed,) = client.get("/api/v1/versions").get_json()["versions"]
    assert listed["missing_evidence"] == ["gateway", "jwks", "token"]
    assert listed["failing_rules"] == 0 and listed["blocking_missing"] > 3
    assert listed["awaiting_approval"] is False


def test_inbox_queries_are_bounded(app, client, auth, clock):
    approver = auth.client("approver")

    def queries(path: str) -> int:
        seen: list[str] = []
        approver.get(path)
        with app.app_context():
            engine = db.engine
        listener = lambda *args: seen.append(args[2])  # noqa: E731
        sa.event.listen(engine, "before_cursor_execute", listener)
        try:
            assert approver.get(path).status_code == 200
        finally:
            sa.event.remove(engine, "before_cursor_execute", listener)
        return len(seen)

    deployment_ready(client, clock.unix, name="one", team="shop")
    assert request_promotion(client, "/api/v1/apis/one/versions/1.0.0").status_code == 201
    small = {p: queries(p) for p in ("/", "/inbox")}
    for name in ("two", "three", "four"):
        deployment_ready(client, clock.unix, name=name, team="shop")
        assert request_promotion(client, f"/api/v1/apis/{name}/versions/1.0.0").status_code \
            == 201
    bearer_for(app, "someone@stagegate.test")
    large = {p: queries(p) for p in ("/", "/inbox")}
    assert small == large
    assert max(large.values()) <= 12
    assert nav_count(text(approver.get("/inbox"))) == 4

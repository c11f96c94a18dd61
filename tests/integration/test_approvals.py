"""Four-eyes approval of promotions into deployment through the REST API (acceptance 2).

A version in ``testing`` whose deployment gate passes (good spec, issuer JWKS, a sample
token encrypted to its managed key) is requested by one person and approved by another.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from accountkit import make_user
from approvalkit import approve, bearer_for, deployment_ready, request_promotion
from evidencekit import SPEC

from lifecycle.catalog.models import Transition
from lifecycle.core.extensions import db
from lifecycle.review.models import Approval, PromotionRequest
from policies.packs import PACKS_DIR

V = "/api/v1/apis/orders/versions/1.0.0"
ALICE = "alice-approver@stagegate.test"
#: SPEC with GET /orders/{id} open to anyone (SPEC-OPERATIONS-SECURED, high, fails)
PUBLIC_OPERATION = SPEC.replace(b"      responses:", b"      security: []\n      responses:", 1)
assert PUBLIC_OPERATION != SPEC
BOB = "bob-approver@stagegate.test"


@pytest.fixture
def ready(app, client, clock):
    """``orders@1.0.0`` (team Checkout) in testing; its deployment gate passes."""
    assert deployment_ready(client, clock.unix) == V
    return client


def as_user(app, email, roles=("approver",)):
    return bearer_for(app, email, roles)


def stage(client) -> str:
    return client.get(V).get_json()["stage"]


def audit_actions(client) -> list[tuple[str, str]]:
    """The version's audit trail, read by an auditor (approvers read the trail)."""
    auditor = bearer_for(client.application, "auditor@stagegate.test")
    entries = client.get("/api/v1/audit", query_string={"subject": "orders@1.0.0",
                                                        "order": "asc"},
                         headers=auditor).get_json()["entries"]
    return [(e["action"], e["actor"]) for e in entries]


def record_payload(client, check_run: int) -> dict:
    records = client.get(V + "/gate-records").get_json()["records"]
    (row,) = [r for r in records if r["check_run"] == check_run]
    jws = client.get(row["url"]).get_data(as_text=True)
    payload = jws.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


# ------------------------------------------------------------------------------ acceptance 2
def test_requester_cannot_approve_own_promotion_another_approver_makes_it_happen(app, ready):
    alice, bob = as_user(app, ALICE), as_user(app, BOB)
    requested = request_promotion(ready, V, "deployment", "Release 1.0", headers=alice)
    assert requested.status_code == 201, requested.get_data(as_text=True)
    req = requested.get_json()
    assert (req["state"], req["requested_by"], req["required_approvals"], req["approvals"]) == \
        ("pending", ALICE, 1, 0)
    assert req["check_run"] is not None
    assert requested.headers["Location"].endswith(f"/promotion-requests/{req['id']}")

    own = ready.post(f"{V}/promotion-requests/{req['id']}/approve", json={"comment": "mine"},
                     headers=alice)
    assert own.status_code == 403
    assert own.get_json()["error"] == "self_approval"
    assert "another approver" in own.get_json()["message"]
    assert stage(ready) == "testing"

    done = ready.post(f"{V}/promotion-requests/{req['id']}/approve",
                      json={"comment": "Gate record reviewed"}, headers=bob)
    assert done.status_code == 200, done.get_data(as_text=True)
    body = done.get_json()
    assert body["request"]["state"] == "approved"
    assert body["transition"]["to"] == "deployment"
    assert body["transition"]["actor"] == BOB
    assert body["transition"]["reason"] == "Release 1.0"
    assert stage(ready) == "deployment"

    actions = audit_actions(ready)
    assert ("promotion.requested", ALICE) in actions
    assert ("promotion.approved", BOB) in actions
    assert ("transition.promotion", BOB) in actions
    tail = [a for a, _ in actions][-3:]
    assert tail == ["promotion.requested", "promotion.approved", "transition.promotion"]
    assert ("promotion.approved", ALICE) not in actions

    record = record_payload(ready, body["transition"]["check_run"]["id"])
    assert record["decision"] == "passed"
    assert record["requested_by"] == ALICE
    (approval,) = record["approvals"]
    assert approval["approver"] == BOB
    assert approval["comment"] == "Gate record reviewed"
    assert approval["request"] == req["id"]
    assert approval["approved_at"].endswith("Z")


def test_a_plain_transition_into_deployment_asks_for_approval(app, ready):
    # an approver may move into deployment, but only through a promotion request
    refused = ready.post(V + "/transitions", json={"to": "deployment"},
                         headers=as_user(app, ALICE))
    assert refused.status_code == 409
    body = refused.get_json()
    assert body["error"] == "approval_required"
    assert "promotion-requests" in body["message"]
    assert body["details"] == {"to": "deployment", "required_approvals": 1}
    assert stage(ready) == "testing"
    # other transitions are unchanged
    assert ready.post(V + "/transitions", json={"to": "development", "reason": "rework"}) \
        .status_code == 201


def test_a_developer_of_the_team_may_request_but_not_approve(app, ready):
    with app.app_context():
        make_user("dev@stagegate.test", ["developer"], teams=("Checkout",))
    dev = as_user(app, "dev@stagegate.test", ("developer",))
    requested = request_promotion(ready, V, headers=dev)
    assert requested.status_code == 201, requested.get_data(as_text=True)
    rid = requested.get_json()["id"]
    assert ready.post(f"{V}/promotion-requests/{rid}/approve", json={}, headers=dev) \
        .status_code == 403
    outsider = as_user(app, "viewer@stagegate.test", ("viewer",))
    assert request_promotion(ready, V, headers=outsider).status_code == 403
    assert approve(ready, V, rid).status_code == 200
    assert stage(ready) == "deployment"


def test_a_rejected_request_cannot_be_approved(app, ready):
    alice, bob = as_user(app, ALICE), as_user(app, BOB)
    rid = request_promotion(ready, V, headers=alice).get_json()["id"]
    no_comment = ready.post(f"{V}/promotion-requests/{rid}/reject", json={}, headers=bob)
    assert no_comment.status_code == 422
    assert "comment" in no_comment.get_json()["details"]["fields"]
    rejected = ready.post(f"{V}/promotion-requests/{rid}/reject",
                          json={"comment": "Wait for the pen test"}, headers=bob)
    assert rejected.status_code == 200
    assert rejected.get_json()["request"]["state"] == "rejected"
    late = approve(ready, V, rid)
    assert late.status_code == 409
    assert "rejected" in late.get_json()["message"]
    assert stage(ready) == "testing"
    actions = [a for a, _ in audit_actions(ready)]
    assert "promotion.rejected" in actions
    assert actions.count("promotion.approved") == 0


def test_a_superseded_request_cannot_be_approved(app, ready):
    alice = as_user(app, ALICE)
    first = request_promotion(ready, V, headers=alice).get_json()["id"]
    second = request_promotion(ready, V, "deployment", "Again", headers=alice)
    assert second.status_code == 201
    assert ready.get(f"{V}/promotion-requests/{first}").get_json()["state"] == "superseded"
    assert approve(ready, V, first).status_code == 409
    # the version moves back meanwhile: the pending request is superseded too
    assert ready.post(V + "/transitions", json={"to": "development", "reason": "rework"}) \
        .status_code == 201
    moved = approve(ready, V, second.get_json()["id"])
    assert moved.status_code == 409
    assert "superseded" in moved.get_json()["message"]
    listed = ready.get(V + "/promotion-requests").get_json()["requests"]
    assert [r["state"] for r in listed] == ["superseded", "superseded"]


def test_approval_when_the_gate_fails_by_then_is_kept_but_refused(app, ready):
    alice = as_user(app, ALICE)
    rid = request_promotion(ready, V, headers=alice).get_json()["id"]
    # a new revision with a blocking finding arrives after the request
    assert ready.put(V + "/spec", data=PUBLIC_OPERATION.replace(
        b"Orders API", b"Orders API changed")).status_code == 201
    refused = approve(ready, V, rid, "ok by me")
    assert refused.status_code == 409
    body = refused.get_json()
    assert body["error"] == "gate_failed"
    assert "SPEC-OPERATIONS-SECURED" in body["details"]["rules"]
    assert stage(ready) == "testing"
    req = ready.get(f"{V}/promotion-requests/{rid}").get_json()
    assert req["state"] == "blocked"
    assert [(d["approver"], d["decision"]) for d in req["decisions"]] == \
        [("second-approver@stagegate.test", "approve")]
    actions = [a for a, _ in audit_actions(ready)]
    assert actions[-2:] == ["promotion.approved", "gate.blocked"]
    record = record_payload(ready, body["details"]["check_run"])
    assert record["decision"] == "blocked"
    assert [a["approver"] for a in record["approvals"]] == ["second-approver@stagegate.test"]


def test_a_blocked_gate_refuses_the_request(app, client, clock):
    client.post("/api/v1/apis", json={"name": "orders", "title": "Orders", "team": "shop"})
    client.post("/api/v1/apis/orders/versions", json={"version": "1.0.0"})
    client.put(V + "/spec", data=SPEC)
    for to in ("development", "testing"):
        client.post(V + "/transitions", json={"to": to})
    refused = request_promotion(client, V)
    assert refused.status_code == 409
    assert refused.get_json()["error"] == "gate_failed"
    assert client.get(V + "/promotion-requests").get_json()["requests"] == []


def test_moves_without_approval_cannot_be_requested(client, clock):
    client.post("/api/v1/apis", json={"name": "orders", "title": "Orders", "team": "shop"})
    client.post("/api/v1/apis/orders/versions", json={"version": "1.0.0"})
    client.put(V + "/spec", data=SPEC)
    response = request_promotion(client, V, "development")
    assert response.status_code == 422
    assert response.get_json()["error"] == "no_approval_needed"
    assert request_promotion(client, V, "testing").get_json()["error"] == "invalid_transition"


def test_the_pack_sets_how_many_approvals(app, ready, tmp_path: Path):
    pack = (PACKS_DIR / "default.yaml").read_text().replace("approvals: 1", "approvals: 2")
    assert "approvals: 2" in pack
    (tmp_path / "two.yaml").write_text(pack)
    app.config["POLICY_PACK"] = str(tmp_path / "two.yaml")
    alice = as_user(app, ALICE)
    rid = request_promotion(ready, V, headers=alice).get_json()["id"]
    first = approve(ready, V, rid, approver=BOB)
    assert first.status_code == 200
    assert first.get_json()["transition"] is None
    assert first.get_json()["request"]["approvals"] == 1
    assert approve(ready, V, rid, approver=BOB).status_code == 409  # once per approver
    assert stage(ready) == "testing"
    second = approve(ready, V, rid, approver="carol@stagegate.test")
    assert second.status_code == 200
    assert stage(ready) == "deployment"
    record = record_payload(ready, second.get_json()["transition"]["check_run"]["id"])
    assert [a["approver"] for a in record["approvals"]] == [BOB, "carol@stagegate.test"]


def test_approval_rows_are_append_only(app, ready):
    alice = as_user(app, ALICE)
    rid = request_promotion(ready, V, headers=alice).get_json()["id"]
    assert approve(ready, V, rid).status_code == 200
    with app.app_context():
        from lifecycle.core.db import AppendOnlyError

        row = db.session.execute(db.select(Approval)).scalar_one()
        row.comment = "rewritten"
        with pytest.raises(AppendOnlyError):
            db.session.commit()
        db.session.rollback()
        req = db.session.get(PromotionRequest, rid)
        assert req.transition_id == db.session.execute(
            db.select(Transition.id).where(Transition.to_stage == "deployment")).scalar_one()


def test_unknown_request_and_bad_bodies_are_answered_cleanly(app, ready):
    assert ready.get(V + "/promotion-requests/4242").status_code == 404
    assert approve(ready, V, 4242).status_code == 404
    assert ready.post(V + "/promotion-requests", data="x").status_code == 415
    assert ready.post(V + "/promotion-requests", json=[1]).status_code == 400
    assert ready.post(V + "/promotion-requests", json={"to": 5}).status_code == 422
    assert ready.post(V + "/promotion-requests", json={}).status_code == 422

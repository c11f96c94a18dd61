"""Every documented REST operation is exercised with a success status, and that success
response was checked against the contract (``tests/contractkit.py``).

The walk below uses the API the way a pipeline and its reviewers do, then compares what the
contract checker saw in this test with the contract's operations.  An operation added to
``openapi.yaml`` (or a route added to the app and documented) without a successful call here
fails :func:`test_every_documented_operation_succeeds_and_is_validated` — no endpoint escapes
response validation.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from accountkit import make_pat, make_user
from approvalkit import approve, bearer_for, deployment_ready, request_promotion
from contractkit import CONTRACT
from evidencekit import GATEWAY_SETTINGS, SPEC

from lifecycle.core.extensions import db
from lifecycle.jobs.backends import ThreadBackend

V = "/api/v1/apis/orders/versions/1.0.0"
W = "/api/v1/apis/legacy/versions/1.0.0"
#: SPEC with one public operation: SPEC-OPERATIONS-SECURED (high, waivable) fails
PUBLIC_OPERATION = SPEC.replace(b"      responses:", b"      security: []\n      responses:", 1)
APPROVER = "coverage-approver@stagegate.test"
REVIEWER = "coverage-reviewer@stagegate.test"
ADMIN = "coverage-admin@stagegate.test"


def _ok(response, *statuses: int):
    assert response.status_code in statuses, (response.status_code,
                                              response.get_data(as_text=True)[:500])
    return response


@pytest.fixture
def seen(monkeypatch) -> set[tuple[str, str, str]]:
    """What the contract checker records during this test only."""
    fresh: set[tuple[str, str, str]] = set()
    monkeypatch.setattr(CONTRACT, "seen", fresh)
    return fresh


def _walk(app, client, anon, clock) -> None:
    # public documents
    _ok(anon.get("/api/v1/openapi.json"), 200)
    _ok(anon.get("/api/v1/token/jwks.json"), 200)
    _ok(anon.get("/api/v1/signing-keys.json"), 200)
    # a PAT exchanged for an access token (client credentials)
    with app.app_context():
        user = make_user("pipeline@stagegate.test", ["developer"], teams=("Checkout",))
        db.session.commit()
        pat = make_pat(user)
    _ok(anon.post("/api/v1/token", data={"grant_type": "client_credentials",
                                         "client_secret": pat}), 200)

    # catalog + evidence up to a passing deployment gate
    assert deployment_ready(client, clock.unix) == V
    _ok(client.get("/api/v1/apis"), 200)
    _ok(client.get("/api/v1/versions"), 200)
    _ok(client.get("/api/v1/apis/orders"), 200)
    _ok(client.get(V), 200)
    _ok(client.get(V + "/history"), 200)
    _ok(client.get(V + "/keys"), 200)
    _ok(client.post(V + "/keys/rotate", json={"grace_seconds": 3600}), 201)
    _ok(client.get(V + "/evidence/jwks"), 200)
    _ok(client.get(V + "/evidence/tokens"), 200)

    # the gateway: settings, generated configuration, its checks, a proof (real nginx)
    g = V + "/gateway"
    _ok(client.get(g + "/settings"), 200)
    _ok(client.put(g + "/settings", json=GATEWAY_SETTINGS), 200)
    _ok(client.get(g + "/config?target=nginx"), 200)
    _ok(client.put(g + "/config", json={"generate": "nginx"}), 200, 201)
    _ok(client.get(g + "/config"), 200)
    _ok(client.get(g + "/check"), 200)
    proof = _ok(client.post(g + "/proofs", headers={"Prefer": "wait"}), 201).get_json()
    _ok(client.get(g + "/proofs"), 200)
    _ok(client.get(f"{g}/proofs/{proof['proof']['id']}"), 200)

    # four eyes: one request rejected, the next approved
    reviewer = bearer_for(app, REVIEWER)
    rejected_id = _ok(request_promotion(client, V), 201).get_json()["id"]
    _ok(client.get(V + "/promotion-requests"), 200)
    _ok(client.get(f"{V}/promotion-requests/{rejected_id}"), 200)
    _ok(client.post(f"{V}/promotion-requests/{rejected_id}/reject",
                    json={"comment": "Wait for the pen test"}, headers=reviewer), 200)
    approved_id = _ok(request_promotion(client, V), 201).get_json()["id"]
    _ok(approve(client, V, approved_id, approver=REVIEWER), 200)
    records = _ok(client.get(V + "/gate-records"), 200).get_json()["records"]
    _ok(client.get(records[0]["url"]), 200)

    # a time-boxed waiver, granted and revoked by an approver
    _ok(client.post("/api/v1/apis", json={"name": "legacy", "title": "Legacy",
                                          "team": "Checkout"}), 201)
    _ok(client.post("/api/v1/apis/legacy/versions", json={"version": "1.0.0"}), 201)
    _ok(client.put(W + "/spec", data=PUBLIC_OPERATION), 201)
    _ok(client.post(W + "/transitions", json={"to": "development"}), 201)
    approver = bearer_for(app, APPROVER)
    waiver = _ok(client.post(W + "/waivers", json={
        "rule": "SPEC-OPERATIONS-SECURED", "reason": "Health check, fixed in 1.1",
        "expires_at": (clock.now + timedelta(days=5)).isoformat()}, headers=approver),
        201).get_json()
    _ok(client.get(W + "/waivers"), 200)
    _ok(client.post(waiver["revoke_url"], json={"reason": "Fixed"}, headers=approver), 200)

    # long work as jobs: an asynchronous upload and a queued proof, followed at /jobs/{id}
    upload = _ok(client.put(W + "/spec", data=SPEC, headers={"Prefer": "respond-async"}),
                 202).get_json()
    _ok(client.get(upload["url"]), 200)
    _ok(client.post(V + "/gateway/proofs"), 202)
    backend = app.extensions["stagegate.jobs"]
    if isinstance(backend, ThreadBackend):
        backend.join(timeout=60)

    # headless administration by an admin: users and teams
    admin = bearer_for(app, ADMIN, roles=("admin",))
    _ok(client.get("/api/v1/users", headers=admin), 200)
    user = _ok(client.post("/api/v1/users", headers=admin, json={
        "email": "new-dev@stagegate.test", "password": "a long enough password 1",
        "roles": ["developer"]}), 201).get_json()
    _ok(client.get(f"/api/v1/users/{user['id']}", headers=admin), 200)
    _ok(client.put(f"/api/v1/users/{user['id']}/roles", headers=admin,
                   json={"roles": ["developer", "viewer"]}), 200)
    _ok(client.post(f"/api/v1/users/{user['id']}/password", headers=admin,
                    json={"password": "another long password 2"}), 200)
    _ok(client.post(f"/api/v1/users/{user['id']}/deactivate", headers=admin), 200)
    _ok(client.post(f"/api/v1/users/{user['id']}/activate", headers=admin), 200)
    _ok(client.get("/api/v1/teams", headers=admin), 200)
    team = _ok(client.post("/api/v1/teams", headers=admin, json={"name": "Coverage"}),
               201).get_json()
    _ok(client.post(f"/api/v1/teams/{team['id']}/members", headers=admin,
                    json={"user_id": user["id"]}), 200, 201)

    # the audit trail, read by an approver
    _ok(client.get("/api/v1/audit", headers=approver), 200)
    _ok(client.get("/api/v1/audit.jsonl", headers=approver), 200)


def test_every_documented_operation_succeeds_and_is_validated(app, client, anon, clock,
                                                              seen) -> None:
    _walk(app, client, anon, clock)
    succeeded = {(template, method) for template, method, status in seen
                 if status.startswith("2")}
    missing = sorted(set(CONTRACT.documented()) - succeeded)
    assert not missing, ("documented operations this walk never called with a success "
                         f"status (add them to _walk): {missing}")


def test_the_coverage_check_sees_only_what_was_validated(client, seen) -> None:
    """The ``seen`` set is filled by the response checker, not by the test: a request that
    answers 404 for an unknown API counts as seen with 404, never as a success."""
    assert client.get("/api/v1/apis/nope").status_code == 404
    assert seen == {("/apis/{name}", "get", "404")}

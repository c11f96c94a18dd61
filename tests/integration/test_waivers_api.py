"""Time-boxed waivers through the REST API (acceptance 3: a waiver expires).

``orders@1.0.0`` sits in development with a document whose GET /orders/{id} is public:
SPEC-OPERATIONS-SECURED (high) fails and blocks the testing gate (block on high).  The
app's clock (``CLOCK``) is moved past expiries instead of sleeping.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from approvalkit import bearer_for
from evidencekit import SPEC

from lifecycle.core.extensions import db
from lifecycle.gates import waivers
from lifecycle.gates.models import Waiver

V = "/api/v1/apis/orders/versions/1.0.0"
RULE = "SPEC-OPERATIONS-SECURED"
#: SPEC with GET /orders/{id} open to anyone (SPEC-OPERATIONS-SECURED, high)
PUBLIC_OPERATION = SPEC.replace(b"      responses:", b"      security: []\n      responses:", 1)
#: ... and also served over plain HTTP (TRN-HTTPS-ONLY, critical)
PLAIN_HTTP = PUBLIC_OPERATION.replace(b"https://api.example.com/orders/v1",
                                      b"http://api.example.com/orders/v1", 1)
assert len({SPEC, PUBLIC_OPERATION, PLAIN_HTTP}) == 3


def _version(client, spec: bytes) -> None:
    client.post("/api/v1/apis", json={"name": "orders", "title": "Orders", "team": "shop"})
    client.post("/api/v1/apis/orders/versions", json={"version": "1.0.0"})
    assert client.put(V + "/spec", data=spec).status_code == 201
    assert client.post(V + "/transitions", json={"to": "development"}).status_code == 201


@pytest.fixture
def blocked(client, clock):
    """The version in development, its testing gate blocked by :data:`RULE` only."""
    _version(client, PUBLIC_OPERATION)
    body = client.get(V + "/compliance").get_json()
    assert (body["target"], body["passed"]) == ("testing", False)
    assert [f["rule"] for f in body["blocking"]] == [RULE]
    return client


#: who grants and revokes the waivers of these tests (approvers waive; the version's
#: developer, ``client``'s user, does the rest)
APPROVER = "waiver-approver@stagegate.test"


def as_approver(client) -> dict[str, str]:
    """A fresh ``Authorization`` header of :data:`APPROVER` (at the app's current clock)."""
    return bearer_for(client.application, APPROVER)


def waive(client, rule=RULE, days=10, reason="Public health check, fix in 1.1", **extra):
    body = {"rule": rule, "reason": reason, **extra}
    if days is not None and "expires_at" not in extra:
        body["days"] = days
    return client.post(V + "/waivers", json=body, headers=as_approver(client))


def gate(client) -> dict:
    return client.get(V + "/compliance").get_json()


def findings_of(body: dict, rule: str) -> list[dict]:
    return [f for f in body["findings"] if f["rule"] == rule]


# ------------------------------------------------------------------------------ acceptance 3
def test_a_waiver_counts_as_passing_until_it_expires_then_the_version_is_blocked_again(
        blocked, clock):
    granted = waive(blocked, days=10)
    assert granted.status_code == 201, granted.get_data(as_text=True)
    waiver = granted.get_json()
    assert (waiver["rule"], waiver["severity"], waiver["status"]) == (RULE, "high", "active")
    assert waiver["granted_by"] == APPROVER

    body = gate(blocked)
    assert body["passed"] is True
    (finding,) = findings_of(body, RULE)
    assert finding["status"] == "waived"
    assert f"waiver {waiver['id']}" in finding["message"]

    clock.now += timedelta(days=10)  # the expiry is exclusive
    body = gate(blocked)
    assert body["passed"] is False
    assert [f["rule"] for f in body["blocking"]] == [RULE]
    assert findings_of(body, RULE)[0]["status"] == "fail"
    listed = blocked.get(V + "/waivers").get_json()["waivers"]
    assert [w["status"] for w in listed] == ["expired"]
    refused = blocked.post(V + "/transitions", json={"to": "testing"})
    assert refused.status_code == 409
    assert refused.get_json()["details"]["rules"] == [RULE]


def test_a_promotion_inside_the_waiver_records_the_finding_as_waived(blocked, clock):
    assert waive(blocked, days=5).status_code == 201
    clock.now += timedelta(days=4, hours=23)
    promoted = blocked.post(V + "/transitions", json={"to": "testing"})
    assert promoted.status_code == 201, promoted.get_data(as_text=True)
    assert promoted.get_json()["version"]["stage"] == "testing"


def test_critical_findings_cannot_be_waived(client, clock):
    _version(client, PLAIN_HTTP)
    refused = waive(client, rule="TRN-HTTPS-ONLY")
    assert refused.status_code == 422
    assert refused.get_json()["error"] == "not_waivable"
    assert "critical" in refused.get_json()["message"]
    assert client.get(V + "/waivers").get_json()["waivers"] == []


def test_the_expiry_is_capped_at_90_days_and_must_lie_ahead(app, blocked, clock):
    assert waive(blocked, days=91).status_code == 422
    past = waive(blocked, expires_at=(clock.now - timedelta(days=1)).date().isoformat())
    assert past.status_code == 422
    assert "future" in past.get_json()["details"]["fields"]["expires_at"]
    too_far = waive(blocked, expires_at=(clock.now + timedelta(days=90, seconds=1)).isoformat())
    assert too_far.status_code == 422
    assert "90 days" in too_far.get_json()["details"]["fields"]["expires_at"]
    assert waive(blocked, expires_at="next tuesday").status_code == 422
    exactly = waive(blocked, expires_at=(clock.now + timedelta(days=90)).isoformat())
    assert exactly.status_code == 201
    app.config["WAIVER_MAX_DAYS"] = 7
    with app.app_context():
        assert waivers.max_days() == 7


def test_a_shorter_configured_cap_is_enforced(app, blocked):
    app.config["WAIVER_MAX_DAYS"] = 7
    assert waive(blocked, days=8).status_code == 422
    assert waive(blocked, days=7).status_code == 201


def test_only_a_failing_rule_with_a_reason_can_be_waived_once(blocked):
    assert waive(blocked, rule="TRN-NO-TOKEN-IN-URL").status_code == 422  # passes
    assert waive(blocked, rule="NO-SUCH-RULE").status_code == 422
    assert waive(blocked, reason="  ").status_code == 422
    assert waive(blocked).status_code == 201
    again = waive(blocked)
    assert again.status_code == 409
    assert "already in force" in again.get_json()["message"]


def test_revocation_blocks_again_and_is_audited(blocked):
    waiver = waive(blocked).get_json()
    revoked = blocked.post(waiver["revoke_url"], json={"reason": "Fixed differently"},
                           headers=as_approver(blocked))
    assert revoked.status_code == 200
    assert revoked.get_json()["status"] == "revoked"
    assert revoked.get_json()["revoked_by"] == APPROVER
    assert gate(blocked)["passed"] is False
    assert blocked.post(waiver["revoke_url"], json={},
                        headers=as_approver(blocked)).status_code == 409
    assert blocked.post(V + "/waivers/4242/revoke",
                        headers=as_approver(blocked)).status_code == 404
    entries = blocked.get("/api/v1/audit", query_string={"action": "waiver."},
                          headers=as_approver(blocked)).get_json()
    actions = [(e["action"], e["data"]["rule"]) for e in entries["entries"]]
    assert actions == [("waiver.revoked", RULE), ("waiver.granted", RULE)]
    granted = entries["entries"][1]["data"]
    assert granted["reason"] == "Public health check, fix in 1.1"
    assert granted["expires_at"].endswith("Z")


def test_only_approvers_waive_and_revoke(app, blocked):
    developer = bearer_for(app, "dev@stagegate.test", ("developer",))
    assert blocked.post(V + "/waivers", json={"rule": RULE, "reason": "r", "days": 1},
                        headers=developer).status_code == 403
    waiver = waive(blocked).get_json()
    assert blocked.post(waiver["revoke_url"], json={}, headers=developer).status_code == 403
    approver = bearer_for(app, "approver@stagegate.test", ("approver",))
    assert blocked.post(waiver["revoke_url"], json={}, headers=approver).status_code == 200


def test_a_waiver_never_excuses_a_finding_the_stage_raises_to_critical(app, blocked, tmp_path):
    from policies.packs import PACKS_DIR

    pack = (PACKS_DIR / "default.yaml").read_text().replace(
        "    block_on: high\n",
        "    block_on: high\n    severity_overrides: {SPEC-OPERATIONS-SECURED: critical}\n", 1)
    (tmp_path / "strict.yaml").write_text(pack)
    assert waive(blocked).status_code == 201
    app.config["POLICY_PACK"] = str(tmp_path / "strict.yaml")
    body = gate(blocked)
    assert body["passed"] is False
    assert findings_of(body, RULE)[0]["status"] == "fail"
    assert findings_of(body, RULE)[0]["severity"] == "critical"


def test_waiver_rows_keep_who_why_and_until(app, blocked, clock):
    waive(blocked, days=3)
    with app.app_context():
        row = db.session.execute(db.select(Waiver)).scalar_one()
        assert row.expires_at == clock.now + timedelta(days=3)
        assert row.status_at(clock.now) == "active"
        assert row.status_at(clock.now + timedelta(days=3)) == "expired"

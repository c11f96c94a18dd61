"""The REST API under /api/v1 (DESIGN.md "Interfaces"), through the test client."""

from __future__ import annotations

import json

import pytest

V = "/api/v1/apis/orders/versions/3.2.0"


def _error(response, status, code):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json
    body = response.get_json()
    assert set(body) == {"error", "message", "details"}
    assert body["error"] == code
    assert body["message"]
    assert "Traceback" not in response.get_data(as_text=True)
    return body


@pytest.fixture
def orders(client):
    """API ``orders`` with version 3.2.0 (no document yet)."""
    r = client.post("/api/v1/apis", json={"name": "orders", "title": "Orders API",
                                          "team": "Checkout"})
    assert r.status_code == 201
    r = client.post("/api/v1/apis/orders/versions", json={"version": "3.2.0"})
    assert r.status_code == 201
    return client


def test_acceptance_flow_missing_security_blocks_then_fixed_spec_promotes(orders, demo_spec):
    client = orders
    broken = demo_spec("orders.json")
    fixed = broken.replace(b'        "security": [],\n', b"")
    assert fixed != broken

    r = client.put(V + "/spec", data=broken, content_type="application/json")
    assert r.status_code == 201
    assert r.get_json()["revision"]["number"] == 1
    # The development gate only needs a valid document.
    r = client.post(V + "/transitions", json={"to": "development", "actor": "ci"})
    assert r.status_code == 201, r.get_json()

    r = client.get(V + "/compliance")
    assert r.status_code == 200
    body = r.get_json()
    assert (body["stage"], body["target"], body["passed"], body["revision"]) == (
        "development", "testing", False, 1)
    (finding,) = body["blocking"]
    assert finding["rule"] == "SPEC-OPERATIONS-SECURED"
    assert finding["severity"] == "high" and finding["status"] == "fail"
    assert finding["pointer"] == "/paths/~1orders~1{orderId}~1status/get/security"
    assert finding["line"] == 47
    assert finding["column"] >= 1
    assert finding["remediation"] and finding["message"]
    assert finding["sources"] and all(s["url"].startswith("https://") for s in finding["sources"])

    r = client.post(V + "/transitions", json={"to": "testing"})
    body = _error(r, 409, "gate_failed")
    assert body["details"]["rules"] == ["SPEC-OPERATIONS-SECURED"]
    assert body["details"]["blocking"][0]["line"] == 47
    assert body["details"]["target"] == "testing"

    r = client.put(V + "/spec", data=fixed, content_type="application/json")
    assert r.status_code == 201
    assert r.get_json()["revision"]["number"] == 2
    assert r.get_json()["compliance"]["passed"] is True

    r = client.post(V + "/transitions", json={"to": "testing"})
    assert r.status_code == 201
    tr = r.get_json()["transition"]
    assert (tr["from"], tr["to"], tr["kind"]) == ("development", "testing", "promotion")
    assert tr["check_run"]["passed"] is True and tr["check_run"]["revision"] == 2
    assert r.get_json()["version"]["stage"] == "testing"

    r = client.get(V + "/history")
    events = r.get_json()["events"]
    assert [(e["type"], e.get("number") or e.get("to")) for e in events] == [
        ("revision", 1), ("transition", "development"), ("revision", 2),
        ("transition", "testing")]
    assert events[1]["actor"] == client.user_email  # the token's user, not a body field


def test_identical_reupload_answers_200_with_the_same_revision(orders, demo_spec):
    raw = demo_spec("orders.json")
    first = orders.put(V + "/spec", data=raw, content_type="application/json")
    again = orders.put(V + "/spec", data=raw, content_type="text/plain")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json()["created"] is False
    assert again.get_json()["revision"] == first.get_json()["revision"]
    version = orders.get(V).get_json()
    assert [r["number"] for r in version["revisions"]] == [1]


def test_unreadable_spec_is_422_with_line_and_keeps_earlier_revisions(orders, demo_spec):
    orders.put(V + "/spec", data=demo_spec("orders.json"))
    r = orders.put(V + "/spec", data=b"openapi: 3.1.0\ninfo:\n  title: [x\n",
                   content_type="application/yaml")
    body = _error(r, 422, "spec_unreadable")
    assert body["details"]["code"] == "syntax"
    assert isinstance(body["details"]["line"], int)
    assert [x["number"] for x in orders.get(V).get_json()["revisions"]] == [1]


def test_a_document_over_the_limit_is_413_json(app, orders):
    app.config["SPEC_MAX_BYTES"] = 200
    r = orders.put(V + "/spec", data=b"openapi: 3.1.0\n" + b"#" * 300)
    body = _error(r, 413, "too_large")
    assert body["details"]["code"] == "too_large"
    # Bodies past MAX_CONTENT_LENGTH are refused by Werkzeug before the view runs.
    app.config["MAX_CONTENT_LENGTH"] = 1000
    r = orders.put(V + "/spec", data=b"#" * 2000)
    _error(r, 413, "too_large")


def test_a_form_upload_is_415(orders):
    r = orders.put(V + "/spec", data={"file": "x"})
    _error(r, 415, "unsupported_media_type")


class TestApis:
    def test_create_list_and_get(self, auth):
        client = auth.client("admin")  # only admins register an API without an owning team
        r = client.post("/api/v1/apis", json={"name": "payments", "title": "Payments",
                                              "description": "Cards"})
        assert r.status_code == 201
        assert r.headers["Location"].endswith("/api/v1/apis/payments")
        client.post("/api/v1/apis/payments/versions", json={"version": "1.0.0"})
        listing = client.get("/api/v1/apis").get_json()["apis"]
        assert [(a["name"], [v["version"] for v in a["versions"]]) for a in listing] == [
            ("payments", ["1.0.0"])]
        one = client.get("/api/v1/apis/payments").get_json()
        assert (one["title"], one["description"], one["team"]) == ("Payments", "Cards", None)
        version = client.get("/api/v1/apis/payments/versions/1.0.0").get_json()
        assert (version["stage"], version["next_stage"], version["current_revision"]) == (
            "design", "development", None)

    def test_duplicate_api_is_409(self, orders):
        r = orders.post("/api/v1/apis", json={"name": "orders", "title": "Again", "team": "shop"})
        _error(r, 409, "conflict")
        r = orders.post("/api/v1/apis/orders/versions", json={"version": "3.2.0"})
        _error(r, 409, "conflict")

    def test_invalid_fields_are_422_with_field_messages(self, client):
        r = client.post("/api/v1/apis", json={"name": "Bad Name", "title": "", "team": "shop"})
        body = _error(r, 422, "validation_failed")
        assert set(body["details"]["fields"]) == {"name", "title"}
        r = client.post("/api/v1/apis", json={"name": 5, "title": "x", "team": "shop"})
        assert _error(r, 422, "validation_failed")["details"]["fields"] == {
            "name": "Must be a string."}

    def test_bad_json_is_400_and_non_json_is_415(self, auth):
        client = auth.client("admin")  # may register without naming a team: the body is read
        r = client.post("/api/v1/apis", data="{not json", content_type="application/json")
        _error(r, 400, "bad_request")
        r = client.post("/api/v1/apis", data=json.dumps([1]), content_type="application/json")
        _error(r, 400, "bad_request")
        r = client.post("/api/v1/apis", data="name=x", content_type="text/plain")
        _error(r, 415, "unsupported_media_type")

    @pytest.mark.parametrize("body", [
        b'{"name": "a", "name": "b", "title": "x", "team": "shop"}',
        b'{"name": "a", "title": "x", "team": "shop", "n": NaN}',
        b"not json",
    ], ids=["duplicate-member", "nan", "not-json"])
    def test_a_developer_sending_an_unreadable_body_gets_400_not_a_team_403(self, client,
                                                                           body):
        # the team check reads the body strictly too (found by a new user: a 403 naming
        # "no owning team" for a body that named one twice)
        r = client.post("/api/v1/apis", data=body, content_type="application/json")
        _error(r, 400, "bad_request")

    def test_unknown_things_are_404(self, orders):
        _error(orders.get("/api/v1/apis/nope"), 404, "not_found")
        _error(orders.get("/api/v1/apis/orders/versions/9.9.9"), 404, "not_found")
        _error(orders.get("/api/v1/apis/orders/versions/9.9.9/compliance"), 404, "not_found")
        _error(orders.put("/api/v1/apis/nope/versions/1/spec", data=b"{}"), 404, "not_found")
        _error(orders.get("/api/v1/no-such-route"), 404, "not_found")

    def test_wrong_method_is_405_with_allow(self, client):
        r = client.delete("/api/v1/apis")
        _error(r, 405, "method_not_allowed")
        assert "POST" in r.headers["Allow"]

    def test_the_api_is_csrf_exempt(self, app, client):
        app.config["WTF_CSRF_ENABLED"] = True
        r = client.post("/api/v1/apis", json={"name": "payments", "title": "Payments",
                                              "team": "shop"})
        assert r.status_code == 201

    @pytest.mark.outside_contract
    def test_an_unexpected_error_is_a_500_json_without_traceback(self, app, auth):
        client = auth.client("admin")  # a route without a declared requirement: admins only
        app.config["PROPAGATE_EXCEPTIONS"] = False

        def boom():
            raise RuntimeError("secret internals")

        app.add_url_rule("/api/v1/boom", "boom", boom)
        r = client.get("/api/v1/boom")
        body = _error(r, 500, "internal_error")
        assert "secret internals" not in r.get_data(as_text=True)
        assert body["details"] is None


class TestTransitions:
    @pytest.fixture
    def in_testing(self, orders, demo_spec):
        fixed = demo_spec("orders.json").replace(b'        "security": [],\n', b"")
        orders.put(V + "/spec", data=fixed)
        for stage in ("development", "testing"):
            assert orders.post(V + "/transitions", json={"to": stage}).status_code == 201
        return orders

    def test_demotion_without_reason_is_422_and_with_reason_201(self, in_testing):
        r = in_testing.post(V + "/transitions", json={"to": "design"})
        body = _error(r, 422, "invalid_transition")
        assert body["details"] == {"from": "testing", "to": "design"}
        r = in_testing.post(V + "/transitions", json={"to": "design", "reason": "new auth"})
        assert r.status_code == 201
        tr = r.get_json()["transition"]
        assert (tr["kind"], tr["reason"], tr["check_run"]) == ("demotion", "new auth", None)

    def test_skipping_a_stage_or_unknown_stage_is_422(self, in_testing):
        _error(in_testing.post(V + "/transitions", json={"to": "testing"}), 422,
               "invalid_transition")
        _error(in_testing.post(V + "/transitions", json={"to": "prod"}), 422,
               "invalid_transition")
        _error(in_testing.post(V + "/transitions", json={}), 422, "validation_failed")

    def test_abandon_to_retirement_needs_a_reason_and_is_terminal(self, orders):
        _error(orders.post(V + "/transitions", json={"to": "retirement"}), 422,
               "invalid_transition")
        r = orders.post(V + "/transitions", json={"to": "retirement", "reason": "superseded"})
        assert r.status_code == 201
        assert r.get_json()["transition"]["kind"] == "retirement"
        body = orders.get(V + "/compliance").get_json()
        assert (body["stage"], body["target"], body["passed"]) == ("retirement", None, None)
        _error(orders.post(V + "/transitions", json={"to": "design", "reason": "x"}), 422,
               "invalid_transition")
        _error(orders.put(V + "/spec", data=b"openapi: 3.1.0\n"), 409, "conflict")

    def test_without_a_document_the_gate_blocks_with_missing_evidence(self, orders):
        body = orders.get(V + "/compliance").get_json()
        assert body["passed"] is False and body["revision"] is None
        assert {f["status"] for f in body["blocking"]} == {"missing-evidence"}
        r = orders.post(V + "/transitions", json={"to": "development"})
        assert "SPEC-VALID" in _error(r, 409, "gate_failed")["details"]["rules"]


def test_non_api_errors_are_html_pages_and_htmx_fragments(client):
    r = client.get("/no-such-page")
    assert r.status_code == 404
    assert r.mimetype == "text/html"
    assert "<html" in r.get_data(as_text=True).lower()
    r = client.get("/no-such-page", headers={"HX-Request": "true"})
    assert r.status_code == 404
    assert "<html" not in r.get_data(as_text=True).lower()
    assert "HX-Request" in r.headers["Vary"]
    r = client.get("/no-such-page",
                   headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})
    assert "<html" in r.get_data(as_text=True).lower()

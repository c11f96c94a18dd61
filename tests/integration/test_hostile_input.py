"""Input that used to answer 500 (issue 9, point 5): deeply nested JSON on every JSON
endpoint, integer path ids beyond the id columns' range (above 64 bits on SQLite, above
2**31 - 1 on PostgreSQL), non-ASCII digits in ``limit``/``cursor``/``after``,
and a huge waiver ``days``.  Each is a clear 4xx in the API's error shape."""

from __future__ import annotations

import re

import pytest
from accountkit import make_user
from flask import Flask

from lifecycle.core.extensions import db
from specs import strictjson

NESTED = b"[" * 100_000 + b"]" * 100_000
NESTED_OBJECT = b'{"a":' * 50_000 + b"1" + b"}" * 50_000
#: endpoints whose body is a document, not a JSON request object: they must refuse or
#: record it without a 500, but are not parsed as a request body
RAW_BODY = {"api.put_spec", "api.put_jwks"}
FORM_BODY = {"api.token"}
#: actions without a request body (a body sent anyway is not read)
NO_BODY = {"api.deactivate_user", "api.activate_user", "api.post_gateway_proof"}
HUGE = "9" * 30


def _json_endpoints(app: Flask) -> list[tuple[str, str, str]]:
    rules = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.endpoint in FORM_BODY:
            continue
        for method in sorted(rule.methods - {"GET", "HEAD", "OPTIONS"}):
            rules.append((rule.endpoint, method, rule.rule))
    return rules


def _path(template: str) -> str:
    values = {"name": "shop-api", "version": "1.0.0"}
    return re.sub(r"<(?:int:)?(\w+)>", lambda m: values.get(m.group(1), "1"), template)


@pytest.fixture
def superuser(app: Flask):
    """A client allowed every JSON endpoint (developer of shop, approver, admin, enrolled)
    and an API with a version, so each request reaches its view's body parsing."""
    with app.app_context():
        make_user("root@stagegate.test", ["developer", "approver", "admin"], teams=("shop",),
                  totp=True)
    client = app.test_client(user="root@stagegate.test")
    assert client.post("/api/v1/apis", json={"name": "shop-api", "title": "Shop",
                                             "team": "shop"}).status_code == 201
    assert client.post("/api/v1/apis/shop-api/versions",
                       json={"version": "1.0.0"}).status_code == 201
    return client


def test_every_json_endpoint_is_listed(app: Flask) -> None:
    endpoints = {e for e, _, _ in _json_endpoints(app)}
    assert {"api.create_api", "api.create_transition", "api.create_waiver",
            "api.create_user", "api.add_member"} <= endpoints


@pytest.mark.parametrize("body", [NESTED, NESTED_OBJECT], ids=["arrays", "objects"])
def test_deeply_nested_json_is_400_on_every_json_endpoint(app: Flask, superuser,
                                                          body: bytes) -> None:
    for endpoint, method, template in _json_endpoints(app):
        response = superuser.open(_path(template), method=method, data=body,
                                  content_type="application/json")
        assert response.status_code < 500, (endpoint, response.status_code)
        if endpoint in RAW_BODY | NO_BODY:
            continue
        assert response.status_code == 400, (endpoint, response.get_json())
        answer = response.get_json()
        assert answer["error"] == "bad_request", endpoint
        assert "nested deeper than 64 levels" in answer["message"]
        assert answer["details"] == {"max_depth": 64}


def test_nesting_within_the_limit_is_parsed(superuser) -> None:
    body = b'{"version": "2.0.0", "x": ' + b"[" * 60 + b"]" * 60 + b"}"
    response = superuser.post("/api/v1/apis/shop-api/versions", data=body,
                              content_type="application/json")
    assert response.status_code == 201


def test_duplicate_members_are_refused(superuser) -> None:
    response = superuser.post("/api/v1/apis/shop-api/versions",
                              data=b'{"version": "2.0.0", "version": "3.0.0"}',
                              content_type="application/json")
    assert response.status_code == 400
    assert "duplicate member" in response.get_json()["message"]


def test_depth_scan_ignores_brackets_in_strings() -> None:
    assert strictjson.nesting_depth(b'{"a": "[[[[{{{{", "b": [1, [2]]}') == 3
    assert strictjson.nesting_depth(b'["\\"[[[", []]') == 2
    with pytest.raises(strictjson.TooDeep):
        strictjson.loads(NESTED, max_depth=64)


@pytest.mark.parametrize("template", [
    "/api/v1/apis/shop-api/versions/1.0.0/promotion-requests/{}",
    "/api/v1/apis/shop-api/versions/1.0.0/promotion-requests/{}/approve",
    "/api/v1/apis/shop-api/versions/1.0.0/waivers/{}/revoke",
    "/api/v1/users/{}",
    "/api/v1/users/{}/deactivate",
    "/api/v1/teams/{}/members",
])
@pytest.mark.parametrize("number", [HUGE, str(2**63), str(2**31), "٣"])
def test_path_ids_beyond_the_id_range_are_404(superuser, template: str, number: str) -> None:
    path = template.format(number)
    method = "GET" if template.endswith("{}") and "requests" in template or \
        template == "/api/v1/users/{}" else "POST"
    response = superuser.open(path, method=method, json={"email": "x@stagegate.test"})
    assert response.status_code == 404
    assert response.get_json()["error"] == "not_found"


def test_largest_id_is_an_ordinary_not_found(superuser) -> None:
    response = superuser.get(f"/api/v1/users/{2**31 - 1}")
    assert response.status_code == 404


def test_web_path_ids_beyond_the_id_range_are_404(app: Flask) -> None:
    with app.app_context():
        make_user("webadmin@stagegate.test", ["admin"], totp=True)
    admin = app.test_client(user="webadmin@stagegate.test")
    assert admin.get(f"/admin/users/{HUGE}").status_code == 404
    assert admin.get(f"/admin/teams/{HUGE}").status_code == 404
    assert admin.post(f"/account/tokens/{HUGE}/revoke").status_code == 404


@pytest.mark.parametrize("name,value", [("limit", "²"), ("limit", "١٠"), ("cursor", "٣"),
                                        ("cursor", "¹")])
def test_non_ascii_digits_in_audit_paging_are_422(superuser, name: str, value: str) -> None:
    response = superuser.get("/api/v1/audit", query_string={name: value})
    assert response.status_code == 422
    assert response.get_json()["details"]["fields"] == {name: "Must be a whole number."}


@pytest.mark.parametrize("value", ["²", "٣"])
def test_non_ascii_digits_in_export_after_are_422(superuser, value: str) -> None:
    response = superuser.get("/api/v1/audit.jsonl", query_string={"after": value})
    assert response.status_code == 422


@pytest.mark.parametrize("days", [10**12, 2**70, 91])
def test_huge_waiver_days_are_422(superuser, days: int) -> None:
    response = superuser.post("/api/v1/apis/shop-api/versions/1.0.0/waivers",
                              json={"rule": "CLM-JTI", "reason": "because",
                                    "days": days})
    assert response.status_code == 422
    assert "at most 90 days" in response.get_json()["details"]["fields"]["expires_at"], \
        response.get_json()
    with superuser.application.app_context():
        db.session.remove()

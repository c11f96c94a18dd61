"""Acceptance 1: every route and API endpoint × every role (and anonymous) gets exactly the
expected allow or deny.

The expectations below are written out by hand (they do not call :mod:`lifecycle.accounts.authz`).
:func:`test_every_route_has_an_expectation` enumerates ``app.url_map`` and fails for any
(endpoint, method) without a case, so a new route cannot slip through unreviewed.

A request counts as *denied* when the app's ``access_denied`` signal fires for it (and then
it must also answer 401, 403, or a redirect to the sign-in page); otherwise it reached the
view, which may still answer 404/409/422 for its own reasons.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pytest
from accountkit import make_user
from actorkit import TESTER

from lifecycle.accounts import authz
from lifecycle.catalog import services
from lifecycle.core.extensions import db

ROLES = ("anonymous", "viewer", "developer", "outsider", "approver", "admin")
#: who may do what (``developer`` is in the owning team, ``outsider`` is a developer of
#: another team)
ALLOWED: dict[str, frozenset[str]] = {
    "public": frozenset(ROLES),
    "user": frozenset(ROLES) - {"anonymous"},
    "change": frozenset({"developer", "admin"}),
    "deploy": frozenset({"approver"}),
    "audit": frozenset({"approver", "admin"}),
    "admin": frozenset({"admin"}),
    # four-eyes approval: a developer of the owning team, an admin or an approver may ask
    "request": frozenset({"developer", "approver", "admin"}),
}

V = "/apis/orders/versions/1.0.0"
A = "/api/v1" + V


@dataclass(frozen=True)
class Case:
    endpoint: str
    method: str
    path: str
    who: str
    data: dict[str, Any] | None = None  # form fields
    json: Any = None
    body: bytes | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


SPEC = b"openapi: 3.1.0\ninfo: {title: Orders, version: 1.0.0}\npaths: {}\n"

CASES: tuple[Case, ...] = (
    Case("static", "GET", "/static/css/stagegate.css", "public"),
    # ---- sign-in and account
    Case("accounts.login", "GET", "/login", "public"),
    Case("accounts.login", "POST", "/login", "public", data={"email": "x@y.z", "password": "p"}),
    Case("accounts.login_totp", "GET", "/login/second-factor", "public"),
    Case("accounts.login_totp", "POST", "/login/second-factor", "public", data={"code": "1"}),
    Case("accounts.logout", "POST", "/logout", "user"),
    Case("accounts.account", "GET", "/account", "user"),
    Case("accounts.create_token", "POST", "/account/tokens", "user",
         data={"name": "ci", "expires_days": "3"}),
    Case("accounts.revoke_token", "POST", "/account/tokens/{token_id}/revoke", "user"),
    Case("accounts.change_password", "POST", "/account/password", "user",
         data={"current": "wrong", "new": "also wrong but long"}),
    Case("accounts.logout_everywhere", "POST", "/account/logout-everywhere", "user"),
    Case("accounts.totp_enrol", "GET", "/account/second-factor", "user"),
    Case("accounts.totp_enrol", "POST", "/account/second-factor", "user", data={"code": "1"}),
    Case("accounts.totp_renew", "POST", "/account/second-factor/new", "user"),
    # ---- admin
    Case("accounts.admin_users", "GET", "/admin/users", "admin"),
    Case("accounts.admin_create_user", "POST", "/admin/users", "admin",
         data={"email": "new@stagegate.test", "password": "a long enough pw", "roles": "viewer"}),
    Case("accounts.admin_user", "GET", "/admin/users/{target_id}", "admin"),
    Case("accounts.admin_set_roles", "POST", "/admin/users/{target_id}/roles", "admin",
         data={"roles": "viewer"}),
    Case("accounts.admin_set_active", "POST", "/admin/users/{target_id}/active", "admin",
         data={"active": "y"}),
    Case("accounts.admin_reset_password", "POST", "/admin/users/{target_id}/password", "admin",
         data={"password": "a long enough temporary pw"}),
    Case("accounts.admin_reset_totp", "POST", "/admin/users/{target_id}/reset-second-factor",
         "admin"),
    Case("accounts.admin_teams", "GET", "/admin/teams", "admin"),
    Case("accounts.admin_create_team", "POST", "/admin/teams", "admin", data={"name": "New"}),
    Case("accounts.admin_team", "GET", "/admin/teams/{team_id}", "admin"),
    Case("accounts.admin_add_member", "POST", "/admin/teams/{team_id}/members", "admin",
         data={"user_id": "{target_id}"}),
    Case("accounts.admin_remove_member", "POST",
         "/admin/teams/{team_id}/members/{target_id}/remove", "admin"),
    # ---- web UI
    Case("web.board", "GET", "/", "user"),
    Case("web.rules", "GET", "/rules", "user"),
    Case("web.inbox", "GET", "/inbox", "user"),
    Case("web.audit_page", "GET", "/audit", "audit"),
    Case("web.audit_export", "GET", "/audit/export.csv", "audit"),
    Case("web.audit_export", "GET", "/audit/export.json", "audit"),
    Case("web.audit_verify", "POST", "/audit/verify", "audit"),
    Case("web.gate_record", "GET", V + "/gate-records/1", "user"),
    Case("web.api_page", "GET", "/apis/orders", "user"),
    Case("web.version_page", "GET", V, "user"),
    Case("web.create_api", "POST", "/apis", "change",
         data={"name": "made", "title": "Made", "team": "Owners"}),
    Case("web.create_api", "POST", "/apis", "admin", note="a team no developer is in",
         data={"name": "made", "title": "Made", "team": "Strangers"}),
    Case("web.create_version", "POST", "/versions", "change",
         data={"api": "orders", "version": "2.0.0"}),
    Case("web.create_api_version", "POST", "/apis/orders/versions", "change",
         data={"version": "2.0.0"}),
    Case("web.upload", "POST", V + "/spec", "change", data={"spec_text": SPEC.decode()}),
    Case("web.promote", "POST", V + "/promote", "change", data={"promote-to": "development"}),
    Case("web.promote", "POST", "/apis/orders/versions/0.9.0/promote", "deploy",
         data={"promote-to": "deployment"}, note="into deployment: approvers only"),
    Case("web.demote", "POST", V + "/demote", "change",
         data={"demote-to": "design", "demote-reason": "r"}),
    Case("web.retire", "POST", V + "/retire", "change", data={"retire-reason": "r"}),
    Case("web.generate_key", "POST", V + "/keys", "change"),
    Case("web.rotate_key", "POST", V + "/keys/rotate", "change",
         data={"rotate-grace": "1", "rotate-unit": "days"}),
    Case("web.submit_jwks", "POST", V + "/evidence/jwks", "change"),
    Case("web.analyse_token", "POST", V + "/evidence/tokens", "change"),
    Case("web.gateway_settings", "POST", V + "/gateway/settings", "change",
         data={"gw-server_name": "api.example.com"}),
    Case("web.gateway_generate", "POST", V + "/gateway/generate", "change",
         data={"gwgen-target": "nginx"}),
    Case("web.gateway_upload", "POST", V + "/gateway/upload", "change"),
    Case("web.gateway_config", "GET", V + "/gateway/config", "user"),
    Case("web.gateway_proof", "POST", V + "/gateway/proofs", "change"),
    # ---- REST API
    # ---- headless administration (REST)
    Case("api.list_users", "GET", "/api/v1/users", "admin"),
    Case("api.create_user", "POST", "/api/v1/users", "admin",
         json={"email": "rest@stagegate.test", "password": "a long enough pw"}),
    Case("api.get_user", "GET", "/api/v1/users/{target_id}", "admin"),
    Case("api.set_roles", "PUT", "/api/v1/users/{target_id}/roles", "admin",
         json={"roles": ["viewer"]}),
    Case("api.reset_password", "POST", "/api/v1/users/{target_id}/password", "admin",
         json={"password": "a long enough pw"}),
    Case("api.deactivate_user", "POST", "/api/v1/users/{target_id}/deactivate", "admin"),
    Case("api.activate_user", "POST", "/api/v1/users/{target_id}/activate", "admin"),
    Case("api.list_teams", "GET", "/api/v1/teams", "admin"),
    Case("api.create_team", "POST", "/api/v1/teams", "admin", json={"name": "Rest team"}),
    Case("api.add_member", "POST", "/api/v1/teams/{team_id}/members", "admin",
         json={"user_id": "{target_id}"}),
    Case("api.token", "POST", "/api/v1/token", "public",
         data={"grant_type": "client_credentials", "client_secret": "sgp_nope_nope"}),
    Case("api.token_jwks", "GET", "/api/v1/token/jwks.json", "public"),
    Case("api.signing_keys", "GET", "/api/v1/signing-keys.json", "public"),
    Case("api.openapi_json", "GET", "/api/v1/openapi.json", "public"),
    Case("api.version_jwks", "GET", A + "/jwks.json", "public"),
    Case("api.list_apis", "GET", "/api/v1/apis", "user"),
    Case("api.list_versions", "GET", "/api/v1/versions", "user"),
    Case("api.get_api", "GET", "/api/v1/apis/orders", "user"),
    Case("api.get_version", "GET", A, "user"),
    Case("api.compliance", "GET", A + "/compliance", "user"),
    Case("api.history", "GET", A + "/history", "user"),
    Case("api.list_keys", "GET", A + "/keys", "user"),
    Case("api.get_jwks", "GET", A + "/evidence/jwks", "user"),
    Case("api.list_tokens", "GET", A + "/evidence/tokens", "user"),
    # long work: any signed-in user may follow a job (an unknown one answers 404 after authz)
    Case("api.get_job", "GET", "/api/v1/jobs/0123456789abcdef", "user"),
    Case("web.job_status", "GET", "/jobs/0123456789abcdef", "user"),
    Case("api.list_gate_records", "GET", A + "/gate-records", "user"),
    Case("api.get_gate_record", "GET", A + "/gate-records/no-such-record", "user"),
    Case("api.list_audit", "GET", "/api/v1/audit", "audit"),
    Case("api.export_audit", "GET", "/api/v1/audit.jsonl", "audit"),
    Case("api.create_api", "POST", "/api/v1/apis", "change",
         json={"name": "made", "title": "Made", "team": "Owners"}),
    Case("api.create_api", "POST", "/api/v1/apis", "admin", note="no team: admins only",
         json={"name": "made", "title": "Made"}),
    Case("api.create_version", "POST", "/api/v1/apis/orders/versions", "change",
         json={"version": "2.0.0"}),
    Case("api.put_spec", "PUT", A + "/spec", "change", body=SPEC),
    Case("api.create_transition", "POST", A + "/transitions", "change",
         json={"to": "development"}),
    Case("api.create_transition", "POST", "/api/v1/apis/orders/versions/0.9.0/transitions",
         "deploy", json={"to": "deployment"}, note="into deployment: approvers only"),
    Case("api.generate_key", "POST", A + "/keys", "change", json={}),
    Case("api.rotate_key", "POST", A + "/keys/rotate", "change", json={"grace_seconds": 0}),
    Case("api.put_jwks", "PUT", A + "/evidence/jwks", "change", body=b'{"keys": []}'),
    Case("api.post_token", "POST", A + "/evidence/tokens", "change", json={"token": "x.y.z"}),
    # ---- gateway evidence (lifecycle/api/gateway.py)
    Case("api.get_gateway_settings", "GET", A + "/gateway/settings", "user"),
    Case("api.put_gateway_settings", "PUT", A + "/gateway/settings", "change",
         json={"server_name": "a.example"}),
    Case("api.get_gateway_config", "GET", A + "/gateway/config", "user"),
    Case("api.put_gateway_config", "PUT", A + "/gateway/config", "change",
         json={"files": {}}),
    Case("api.get_gateway_check", "GET", A + "/gateway/check", "user"),
    Case("api.post_gateway_proof", "POST", A + "/gateway/proofs", "change"),
    Case("api.list_gateway_proofs", "GET", A + "/gateway/proofs", "user"),
    Case("api.get_gateway_proof", "GET", A + "/gateway/proofs/999999", "user"),
    # ---- four-eyes approval and waivers (lifecycle/api/approvals.py, lifecycle/web/approvals.py)
    Case("api.list_promotion_requests", "GET", A + "/promotion-requests", "user"),
    Case("api.create_promotion_request", "POST", A + "/promotion-requests", "request",
         json={"to": "development"}),
    Case("api.get_promotion_request", "GET", A + "/promotion-requests/999999", "user"),
    Case("api.approve_promotion_request", "POST", A + "/promotion-requests/999999/approve",
         "deploy", json={}),
    Case("api.reject_promotion_request", "POST", A + "/promotion-requests/999999/reject",
         "deploy", json={"comment": "no"}),
    Case("api.list_waivers", "GET", A + "/waivers", "user"),
    Case("api.create_waiver", "POST", A + "/waivers", "deploy",
         json={"rule": "SPEC-VALID", "reason": "r", "days": 1}),
    Case("api.revoke_waiver", "POST", A + "/waivers/999999/revoke", "deploy", json={}),
    Case("web.request_promotion", "POST", V + "/promotion-requests", "request",
         data={"request-to": "development"}),
    Case("web.approve_request", "POST", V + "/promotion-requests/999999/approve", "deploy"),
    Case("web.reject_request", "POST", V + "/promotion-requests/999999/reject", "deploy",
         data={"reject-comment": "no"}),
    Case("web.waive", "POST", V + "/waivers", "deploy",
         data={"waive-rule": "SPEC-VALID", "waive-reason": "r", "waive-expires": "2099-01-01"}),
    Case("web.revoke_waiver", "POST", V + "/waivers/999999/revoke", "deploy"),
    # ---- end four-eyes approval and waivers
)


@pytest.fixture
def world(app):
    """Team ``Owners`` owning API ``orders`` (1.0.0 in design, 0.9.0 in testing), one user
    per role, and an admin target user; returns the ids the paths need."""
    with app.app_context():
        services.create_api("orders", "Orders", team="Owners", actor=TESTER)
        services.create_version("orders", "1.0.0", actor=TESTER)
        services.create_version("orders", "0.9.0", actor=TESTER)
        from lifecycle.catalog.models import ApiVersion

        db.session.execute(db.update(ApiVersion).where(ApiVersion.version == "0.9.0")
                           .values(stage="testing"))
        db.session.commit()
        users = {
            "viewer": make_user("viewer@t.test", ["viewer"]),
            "developer": make_user("developer@t.test", ["developer"], teams=("Owners",)),
            "outsider": make_user("outsider@t.test", ["developer"], teams=("Elsewhere",)),
            "approver": make_user("approver@t.test", ["approver"]),
            "admin": make_user("admin@t.test", ["admin"]),
        }
        target = make_user("target@t.test", ["viewer"], teams=("Owners",))
        from lifecycle.accounts.models import Team

        team_id = db.session.execute(db.select(Team.id).where(Team.name == "Owners")).scalar()
        return {"emails": {r: u.email for r, u in users.items()},
                "ids": {"target_id": target.id, "team_id": team_id, "token_id": 999_999}}


def _request(client, case: Case, ids: dict[str, int]):
    def fill(text: str) -> str:
        for name, value in ids.items():
            text = text.replace("{" + name + "}", str(value))
        return text

    path = fill(case.path)
    kwargs: dict[str, Any] = {}
    if case.data is not None:
        kwargs["data"] = {k: fill(str(v)) for k, v in case.data.items()}
    if case.json is not None:
        kwargs["json"] = case.json
    if case.body is not None:
        kwargs["data"] = case.body
        kwargs["content_type"] = "application/json" if case.body.startswith(b"{") else \
            "application/yaml"
    return client.open(path, method=case.method, **kwargs)


def test_every_route_has_an_expectation(app):
    declared = {(c.endpoint, c.method) for c in CASES}
    missing = sorted(
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        for method in rule.methods - {"HEAD", "OPTIONS"}
        if (rule.endpoint, method) not in declared
    )
    assert missing == [], f"routes without an authorization expectation: {missing}"
    assert authz.undeclared_endpoints(app) == []


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_exactly_the_expected_answers(app, world, role):
    wrong = []
    for case in CASES:
        email = world["emails"].get(role)
        client = app.test_client(user=email)
        denied: list[str] = []

        def record(sender, endpoint, reason, _denied=denied):
            _denied.append(reason)

        with authz.access_denied.connected_to(record, app):
            response = _request(client, case, world["ids"])
        expected_allowed = role in ALLOWED[case.who]
        was_denied = bool(denied)
        if was_denied:
            location = response.headers.get("Location", "")
            assert response.status_code in (401, 403) or (
                response.status_code in (302, 303) and location.startswith("/login")), (
                case, response.status_code)
        else:
            # (the token endpoint's own 401 is invalid client credentials, RFC 6749 §5.2)
            assert response.status_code not in (401, 403) or case.endpoint == "api.token", (
                case, response.status_code)
            assert response.status_code < 500, (case, response.get_data(as_text=True)[:500])
        if was_denied == expected_allowed:
            wrong.append((case.endpoint, case.method, case.note or case.who,
                          "denied" if was_denied else "allowed", response.status_code))
        response.close()
    assert wrong == []


def test_anonymous_web_requests_go_to_the_login_page_and_api_requests_get_401(anon, world):
    page = anon.get("/apis/orders?x=1")
    assert page.status_code == 302
    assert page.headers["Location"] == "/login?next=/apis/orders?x%3D1"
    fragment = anon.get("/", headers={"HX-Request": "true"})
    assert fragment.headers["HX-Redirect"].startswith("/login")
    api = anon.get("/api/v1/apis")
    assert api.status_code == 401
    assert api.headers["WWW-Authenticate"] == 'Bearer realm="stagegate"'
    assert api.get_json()["error"] == "unauthorized"


def test_session_cookies_do_not_authenticate_the_rest_api(app, world):
    client = app.test_client(user=world["emails"]["admin"])
    assert client.get("/account").status_code == 200  # signed in for the web UI
    response = client.get("/api/v1/apis", headers={"Authorization": ""})
    assert response.status_code == 401


def test_an_approver_without_a_second_factor_must_enrol_before_anything_else(app, auth):
    user = auth.user("approver", totp=False)
    client = app.test_client(user=user.email)
    for path in ("/", "/rules", "/account", "/admin/users"):
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"] == "/account/second-factor"
    assert client.get("/account/second-factor").status_code == 200
    assert client.post("/logout").status_code == 303


def test_the_ui_hides_what_a_user_may_not_do(app, world):
    viewer = app.test_client(user=world["emails"]["viewer"])
    developer = app.test_client(user=world["emails"]["developer"])
    outsider = app.test_client(user=world["emails"]["outsider"])
    approver = app.test_client(user=world["emails"]["approver"])

    def page(client, path):
        return client.get(path).get_data(as_text=True)

    assert "Create API" not in page(viewer, "/") and "Create version" not in page(viewer, "/")
    assert "Create API" in page(developer, "/")
    version = page(viewer, V)
    assert "Promote to" not in version and "Upload and check" not in version
    assert "Promote to Development" in page(developer, V)
    assert "Upload and check" in page(developer, V)
    assert "Promote to" not in page(outsider, V) and "Upload and check" not in page(outsider, V)
    testing = "/apis/orders/versions/0.9.0"
    # Entering deployment is never a one-click promotion: it is requested, then approved.
    assert "Promote to Deployment" not in page(approver, testing)
    assert "Promote to Deployment" not in page(developer, testing)
    # the hint fits the role: those who may request are sent to the Approval panel (which
    # takes a request once the gate passes), a viewer is told who requests
    for who in (approver, developer):
        hint = page(who, testing).split('id="actions-h"')[1].split("</p>")[0]
        assert re.search(r'<a href="#approvals">(request it in )?the Approval panel</a>', hint)
    hint = page(viewer, testing).split('id="actions-h"')[1].split("</p>")[0]
    assert "Approval panel" not in hint and "or an approver requests it" in hint
    assert "Users" not in page(developer, "/").split("<main")[0]
    admin = app.test_client(user=world["emails"]["admin"])
    assert "/admin/users" in page(admin, "/").split("<main")[0]

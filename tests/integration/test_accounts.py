"""Accounts and sessions through the real forms: sign-in with and without a second factor,
identical refusals, throttling (memory and Redis), timeouts, log out everywhere, CSRF,
security headers, admin pages and the ``users`` CLI."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pyotp
import pytest
import sqlalchemy as sa
from accountkit import PASSWORD
from clockkit import Clock

from lifecycle.accounts import services
from lifecycle.accounts.models import RecoveryCode, Team, User
from lifecycle.core.extensions import db
from lifecycle.core.security import CSP

HX = {"HX-Request": "true"}


@pytest.fixture
def clock(app) -> Clock:
    app.config["CLOCK"] = clock = Clock(whole_seconds=False)
    return clock


def login(client, email, password=PASSWORD, **extra):
    return client.post("/login", data={"email": email, "password": password, **extra})


def second_factor(client, code):
    return client.post("/login/second-factor", data={"code": code})


def body(response) -> str:
    return response.get_data(as_text=True)


def audit_actions(app) -> list[tuple[str, str, str]]:
    from lifecycle.audit.models import AuditEntry

    with app.app_context():
        rows = db.session.execute(sa.select(AuditEntry).order_by(AuditEntry.seq)).scalars()
        return [(r.action, r.actor, r.subject) for r in rows]


# ------------------------------------------------------------------ sign-in
def test_a_viewer_signs_in_and_out(app, anon, auth):
    user = auth.user("viewer")
    assert anon.get("/").status_code == 302
    response = login(anon, user.email, next="/rules")
    assert response.status_code == 303
    assert response.headers["Location"] == "/rules"
    assert anon.get("/").status_code == 200
    assert anon.post("/logout").status_code == 303
    assert anon.get("/").status_code == 302
    actions = audit_actions(app)
    assert ("user.login", user.email, f"user:{user.email}") in actions


def test_next_never_leaves_the_site(anon, auth):
    user = auth.user("viewer")
    response = login(anon, user.email, next="//evil.example/x")
    assert response.headers["Location"] == "/"


class _CountingHasher:
    """The real argon2 hasher, counting how many hashes each login verifies."""

    def __init__(self, real):
        self.real, self.verified = real, 0

    def verify(self, stored, password):
        self.verified += 1
        return self.real.verify(stored, password)

    def __getattr__(self, name):
        return getattr(self.real, name)


def test_unknown_email_wrong_password_and_deactivated_get_identical_answers(
        app, make_app, auth, monkeypatch):
    from lifecycle.accounts import services as account_services

    hasher = _CountingHasher(account_services._hasher)
    monkeypatch.setattr(account_services, "_hasher", hasher)
    roomy = make_app(LOGIN_RATE_LIMIT="1000 per minute")
    known = auth.user("viewer", email="known@stagegate.test")
    auth.user("viewer", email="gone@stagegate.test", active=False)
    client = roomy.test_client(user=None)
    answers = {}
    verified: dict[str, int] = {}
    for _ in range(2):
        for kind, email, password in (("unknown", "nobody@stagegate.test", PASSWORD),
                                      ("wrong", known.email, PASSWORD + "x"),
                                      ("inactive", "gone@stagegate.test", PASSWORD)):
            before = hasher.verified
            response = login(client, email, password)
            verified[kind] = hasher.verified - before
            text = body(response).replace(email, "EMAIL")
            # the CSRF token carries a timestamp: the one part that may differ
            answers[kind] = (response.status_code, re.sub(r'"X-CSRFToken": "[^"]+"', "T", text))
    assert answers["unknown"] == answers["wrong"] == answers["inactive"]
    assert answers["unknown"][0] == 422
    assert "The email or password is not correct." in answers["unknown"][1]
    # every refusal costs exactly one real argon2 verification, so none answers faster
    # (no timing assertion: timings on a loaded CI machine are noise)
    assert verified == {"unknown": 1, "wrong": 1, "inactive": 1}
    failed = [a for a in audit_actions(app) if a[0] == "user.login_failed"]
    with app.app_context():  # an email no account has is recorded as a keyed hash only
        unknown = services.login_subject("nobody@stagegate.test")
    assert unknown.startswith("login:")
    assert {a[2] for a in failed} == {unknown, f"user:{known.email}",
                                      "user:gone@stagegate.test"}
    assert all(a[1] == "anonymous" for a in failed)


@pytest.mark.parametrize("storage", ["memory", "redis"])
def test_login_throttling_engages_after_repeated_failures(make_app, auth, storage):
    prefix = f"stagegate-test-{uuid.uuid4().hex[:8]}"
    settings = {"RATELIMIT_KEY_PREFIX": prefix}
    if storage == "redis":
        settings["RATELIMIT_STORAGE_URI"] = "redis://127.0.0.1:6379"
    app = make_app(**settings)
    user = auth.user("viewer")
    client = app.test_client(user=None)
    try:
        for _ in range(3):  # successes do not count
            assert login(client, user.email).status_code == 303
            client.post("/logout")
        for _ in range(5):
            assert login(client, user.email, "wrong password!").status_code == 422
        throttled = login(client, user.email)  # even the right password now
        assert throttled.status_code == 429
        assert "<html" in body(throttled).lower()
        if storage == "redis":
            import redis

            keys = redis.Redis.from_url("redis://127.0.0.1:6379").keys(f"*{prefix}*")
            assert keys, "the counters live in Redis"
    finally:
        if storage == "redis":
            import redis

            server = redis.Redis.from_url("redis://127.0.0.1:6379")
            for key in server.keys(f"*{prefix}*"):
                server.delete(key)


def test_throttling_also_counts_per_account_across_addresses(make_app, auth):
    app = make_app(RATELIMIT_KEY_PREFIX=f"t-{uuid.uuid4().hex[:8]}")
    user = auth.user("viewer")
    client = app.test_client(user=None)
    for n in range(5):
        client.environ_base["REMOTE_ADDR"] = f"10.0.0.{n + 1}"
        assert login(client, user.email, "wrong password!").status_code == 422
    client.environ_base["REMOTE_ADDR"] = "10.0.0.99"
    assert login(client, user.email).status_code == 429
    assert login(client, "someone.else@stagegate.test").status_code == 422


# ------------------------------------------------------------------ second factor
def test_an_approver_needs_the_totp_code_and_a_code_works_once(app, anon, auth):
    user = auth.user("approver")
    totp = pyotp.TOTP(user.test_totp_secret)
    response = login(anon, user.email)
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/login/second-factor")
    assert anon.get("/").status_code == 302  # not signed in between the two steps
    assert second_factor(anon, "000000" if totp.now() != "000000" else "111111").status_code \
        == 422
    code = totp.now()
    assert second_factor(anon, code).status_code == 303
    assert anon.get("/").status_code == 200
    anon.post("/logout")
    login(anon, user.email)
    replay = second_factor(anon, code)  # the same time step again
    assert replay.status_code == 422
    assert "That code is not correct or was used already." in body(replay)


def test_enrolment_shows_a_qr_code_and_recovery_codes_once(app, anon, auth):
    user = auth.user("admin", totp=False)
    assert login(anon, user.email).status_code == 303
    assert anon.get("/").headers["Location"] == "/account/second-factor"
    page = anon.get("/account/second-factor")
    html = body(page)
    assert page.headers["Cache-Control"] == "no-store"
    assert re.search(r'<img class="qr" src="data:image/svg\+xml;base64,', html)
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', html).group(1)
    assert second_factor_enrol(anon, "12345x").status_code == 422
    done = second_factor_enrol(anon, pyotp.TOTP(secret).now())
    assert done.status_code == 200
    codes = re.findall(r"<li>([0-9a-f]{5}(?:-[0-9a-f]{5}){3})</li>", body(done))
    assert len(codes) == 10
    assert anon.get("/").status_code == 200
    with app.app_context():
        stored = db.session.execute(sa.select(RecoveryCode.code_hash)).scalars().all()
        assert len(stored) == 10 and not set(codes) & set(stored)
        sealed = db.session.get(User, user.id).totp_sealed
        assert secret.encode() not in sealed
    # a recovery code signs in once
    anon.post("/logout")
    login(anon, user.email)
    assert second_factor(anon, codes[0]).status_code == 303
    anon.post("/logout")
    login(anon, user.email)
    assert second_factor(anon, codes[0]).status_code == 422
    assert "user.totp_enrolled" in {a[0] for a in audit_actions(app)}


def second_factor_enrol(client, code):
    return client.post("/account/second-factor", data={"code": code})


# ------------------------------------------------------------------ sessions
def test_idle_timeout_ends_the_session(app, anon, auth, clock):
    user = auth.user("viewer")
    login(anon, user.email)
    clock.now += timedelta(minutes=29)
    assert anon.get("/").status_code == 200  # activity keeps it alive
    clock.now += timedelta(minutes=29)
    assert anon.get("/").status_code == 200
    clock.now += timedelta(minutes=31)
    response = anon.get("/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_absolute_timeout_ends_even_an_active_session(app, anon, auth, clock):
    user = auth.user("viewer")
    login(anon, user.email)
    for _ in range(12 * 3):  # a request every 20 minutes for 12 hours
        clock.now += timedelta(minutes=20)
        assert anon.get("/rules").status_code == 200
    clock.now += timedelta(minutes=20)
    assert anon.get("/rules").status_code == 302


def test_log_out_everywhere_ends_every_session_of_the_user(app, auth):
    user = auth.user("developer")
    laptop, phone = app.test_client(user=None), app.test_client(user=None)
    login(laptop, user.email)
    login(phone, user.email)
    assert phone.get("/").status_code == 200
    assert laptop.post("/account/logout-everywhere").status_code == 303
    assert phone.get("/").status_code == 302
    assert laptop.get("/").status_code == 302
    login(phone, user.email)  # signing in again works
    assert phone.get("/").status_code == 200


def test_deactivation_ends_the_sessions_of_the_user(app, auth):
    user = auth.user("viewer")
    browser = app.test_client(user=None)
    login(browser, user.email)
    admin = auth.client("admin")
    assert admin.post(f"/admin/users/{user.id}/active", data={}).status_code == 303
    assert browser.get("/").status_code == 302
    assert login(browser, user.email).status_code == 422


def test_session_cookie_flags(make_app, auth):
    user = auth.user("viewer")
    plain = make_app().test_client(user=None)
    cookie = login(plain, user.email).headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    https = make_app(PREFERRED_URL_SCHEME="https").test_client(user=None)
    cookie = login(https, user.email).headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie


# ------------------------------------------------------------------ CSRF and headers
def test_csrf_is_required_on_login_logout_admin_and_htmx_requests(make_app, auth):
    app = make_app(WTF_CSRF_ENABLED=True)
    user = auth.user("admin")
    anon = app.test_client(user=None)
    assert login(anon, user.email).status_code == 400  # no token
    signed_in = app.test_client(user=user.email)
    for path, data in (("/logout", {}), ("/admin/teams", {"name": "T"}),
                       ("/account/tokens", {"name": "x", "expires_days": "1"})):
        assert signed_in.post(path, data=data).status_code == 400
        assert signed_in.post(path, data=data, headers=HX).status_code == 400
    page = body(signed_in.get("/admin/teams"))
    token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
    ok = signed_in.post("/admin/teams", data={"name": "T"},
                        headers={**HX, "X-CSRFToken": token})
    assert ok.status_code == 303
    login_page = body(anon.get("/login"))
    field = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login_page).group(1)
    assert login(anon, user.email, csrf_token=field).status_code == 303


@pytest.mark.parametrize("path", ["/login", "/", "/api/v1/apis", "/no-such-page",
                                  "/static/css/stagegate.css"])
def test_security_headers_on_every_response(client, path):
    response = client.get(path)
    assert response.headers["Content-Security-Policy"] == CSP
    assert "'unsafe-inline'" not in CSP
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in response.headers  # plain HTTP
    response.close()
    secure = client.get(path, base_url="https://stagegate.example")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=")
    secure.close()


def test_templates_have_no_inline_script_or_style():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "lifecycle" / "templates"
    offenders = []
    for template in root.rglob("*.html"):
        text = re.sub(r"\{#.*?#\}", "", template.read_text(), flags=re.S)  # comments
        if re.search(r"<script(?![^>]*\bsrc=)", text) or re.search(r"\sstyle=", text) or \
                re.search(r"<style", text) or re.search(r"\son[a-z]+=", text):
            offenders.append(str(template.relative_to(root)))
    assert offenders == []


# ------------------------------------------------------------------ admin pages
def test_admin_creates_a_user_sets_roles_teams_and_deactivates(app, auth):
    admin_user = auth.user("admin")
    admin = app.test_client(user=admin_user.email)
    created = admin.post("/admin/users", data={"email": "New@Stagegate.test",
                                               "password": "a long enough pw",
                                               "roles": ["developer"]})
    assert created.status_code == 303
    with app.app_context():
        user = db.session.execute(sa.select(User).where(User.email == "new@stagegate.test")
                                  ).scalar_one()
        assert user.roles == ["developer"] and user.password_hash.startswith("$argon2id$")
        assert "a long enough pw" not in user.password_hash
        uid = user.id
    assert admin.post("/admin/users", data={"email": "x@stagegate.test", "password": "short",
                                            "roles": ["viewer"]}).status_code == 422
    assert admin.post(f"/admin/users/{uid}/roles",
                      data={"roles": ["viewer", "approver"]}).status_code == 303
    assert admin.post("/admin/teams", data={"name": "Payments"}).status_code == 303
    with app.app_context():
        team_id = db.session.execute(sa.select(Team.id).where(Team.name == "Payments")).scalar()
    assert admin.post(f"/admin/teams/{team_id}/members", data={"user_id": uid}).status_code \
        == 303
    def members() -> str:
        return body(admin.get(f"/admin/teams/{team_id}")).split('id="members-h"')[1] \
            .split("</section>")[0]

    assert "new@stagegate.test" in members()
    assert admin.post(f"/admin/teams/{team_id}/members/{uid}/remove").status_code == 303
    assert "new@stagegate.test" not in members()
    assert admin.post(f"/admin/users/{uid}/active", data={}).status_code == 303
    refused = admin.post(f"/admin/users/{admin_user.id}/active", data={})
    assert refused.status_code == 409
    refused = admin.post(f"/admin/users/{admin_user.id}/roles", data={"roles": ["viewer"]})
    assert refused.status_code == 409
    with app.app_context():
        user = db.session.get(User, uid)
        assert (user.roles, user.active) == (["viewer", "approver"], False)
    actions = [a[0] for a in audit_actions(app)]
    for action in ("user.created", "user.roles_changed", "team.created", "team.member_added",
                   "team.member_removed", "user.deactivated"):
        assert action in actions


def test_a_developer_changes_only_the_apis_of_their_teams(app, auth):
    dev = auth.client("developer", teams=("Payments",))
    assert dev.post("/apis", data={"name": "pay", "title": "Pay", "team": "Payments"}
                    ).status_code == 303
    assert dev.post("/apis", data={"name": "other", "title": "O", "team": "Logistics"}
                    ).status_code == 403
    assert dev.post("/apis/pay/versions", data={"version": "1.0.0"}).status_code == 303
    logistics = auth.client("developer", teams=("Logistics",))
    assert logistics.post("/apis", data={"name": "stock", "title": "Stock",
                                         "team": "Logistics"}).status_code == 303
    assert logistics.post("/apis/stock/versions", data={"version": "1.0.0"}).status_code == 303
    assert dev.post("/apis/stock/versions", data={"version": "2.0.0"}).status_code == 403
    assert dev.get("/apis/stock/versions/1.0.0").status_code == 200  # reading is fine
    api = dev.get("/api/v1/apis/pay").get_json()
    assert api["team"] == "Payments"


# ------------------------------------------------------------------ CLI
def test_create_admin_reads_the_password_from_stdin_never_an_argument(app, runner):
    result = runner.invoke(args=["users", "create-admin", "--email", "Root@Stagegate.test"],
                           input="a very long admin password\n")
    assert result.exit_code == 0, result.output
    assert "a very long admin password" not in result.output
    with app.app_context():
        user = db.session.execute(sa.select(User).where(User.email == "root@stagegate.test")
                                  ).scalar_one()
        assert user.roles == ["admin"] and user.password_hash.startswith("$argon2id$")
    again = runner.invoke(args=["users", "create-admin", "--email", "root@stagegate.test"],
                          input="a very long admin password\n")
    assert again.exit_code == 1 and "exists already" in again.output
    short = runner.invoke(args=["users", "create-admin", "--email", "b@stagegate.test"],
                          input="short\n")
    assert short.exit_code == 1 and "password" in short.output
    argument = runner.invoke(args=["users", "create-admin", "--email", "c@stagegate.test",
                                   "--password", "a very long admin password"])
    assert argument.exit_code == 2  # no such option
    client = app.test_client(user=None)
    assert login(client, "root@stagegate.test", "a very long admin password").status_code \
        == 303
    assert client.get("/").headers["Location"] == "/account/second-factor"


def test_the_demo_prints_random_passwords_of_demo_users_once(app, runner):
    from lifecycle.cli import main

    result = runner.invoke(main, ["demo"])
    assert result.exit_code == 0, result.output
    found = dict(re.findall(r"^  (\S+@demo\.stagegate)\s+\S+\s+(\S+)$", result.output, re.M))
    assert set(found) == {"viewer@demo.stagegate", "developer@demo.stagegate",
                          "approver@demo.stagegate", "admin@demo.stagegate"}
    assert len(set(found.values())) == 4
    client = app.test_client(user=None)
    assert login(client, "developer@demo.stagegate", found["developer@demo.stagegate"]
                 ).status_code == 303
    teams = body(client.get("/account"))
    assert "Payments" in teams  # the developer works in every demo team
    again = runner.invoke(main, ["demo"])
    assert "@demo.stagegate" not in again.output


def test_behind_a_trusted_proxy_hsts_follows_the_forwarded_scheme(make_app):
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    direct = make_app().test_client(user=None).get("/login", headers=forwarded)
    assert "Strict-Transport-Security" not in direct.headers  # headers not trusted
    proxied = make_app(PROXY_COUNT=1).test_client(user=None).get("/login", headers=forwarded)
    assert proxied.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_second_factor_guessing_is_throttled_per_user(make_app, auth):
    app = make_app(RATELIMIT_KEY_PREFIX=f"t-{uuid.uuid4().hex[:8]}")
    user = auth.user("approver")
    client = app.test_client(user=None)
    login(client, user.email)
    for n in range(5):
        client.environ_base["REMOTE_ADDR"] = f"10.1.0.{n + 1}"
        assert second_factor(client, "000000").status_code in (422,)
    client.environ_base["REMOTE_ADDR"] = "10.1.0.99"
    assert second_factor(client, pyotp.TOTP(user.test_totp_secret).now()).status_code == 429

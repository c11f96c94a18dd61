"""Headless administration (issue 9, point 10 and acceptance 5) and one-line CLI errors
(point 11): ``stagegate users|teams`` commands, the admin REST endpoints, the token
endpoint's reasons, an admin's password reset, and ``scripts/headless-setup.sh`` run as is
against a live server."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from accountkit import PASSWORD, make_pat
from flask import Flask
from werkzeug.serving import make_server

from lifecycle import audit
from lifecycle.accounts import services
from lifecycle.accounts.models import Membership, Team, User
from lifecycle.catalog.models import Api
from lifecycle.core.extensions import db

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
NEW = "a brand new password 42"


def _basic(pat: str) -> dict[str, str]:
    cid = pat.rsplit("_", 1)[0]
    return {"Authorization": "Basic " + base64.b64encode(f"{cid}:{pat}".encode()).decode()}


def _exchange(client, pat: str):
    return client.post("/api/v1/token", data={"grant_type": "client_credentials"},
                       headers=_basic(pat))


# ------------------------------------------------------------------ CLI
def test_cli_creates_users_and_teams_and_adds_members(app, runner):
    result = runner.invoke(args=["users", "create", "--email", "Dev@Example.com", "--role",
                                 "developer", "--role", "viewer"], input=NEW + "\n")
    assert result.exit_code == 0, result.output
    assert runner.invoke(args=["teams", "create", "--name", "payments"]).exit_code == 0
    result = runner.invoke(args=["teams", "add-member", "--team", "payments",
                                 "--email", "dev@example.com"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = services.user_by_email("dev@example.com")
        assert user.roles == ["viewer", "developer"]
        assert [t.name for t in user.teams] == ["payments"]
        entries = audit.search(audit.AuditQuery(actor="cli"), limit=10, newest_first=False)
        assert [e["action"] for e in entries] == ["user.created", "team.created",
                                                 "team.member_added"]


@pytest.mark.parametrize("args,message", [
    (["teams", "add-member", "--team", "nope", "--email", "x@example.com"], "no team 'nope'"),
    (["users", "deactivate", "--email", "ghost@example.com"], "no user 'ghost@example.com'"),
    (["users", "create", "--email", "short@example.com"], "password: Use at least 12"),
    (["teams", "create", "--name", " "], "name: Use 1–100 characters"),
])
def test_cli_refusals_are_one_line_and_exit_1(runner, args, message):
    result = runner.invoke(args=args, input="short\n")
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("stagegate: ") and message in lines[0]


def test_cli_set_password_forces_a_change_and_kills_tokens(app, runner, auth):
    user = auth.user("viewer")
    access = auth.token(user.email)
    result = runner.invoke(args=["users", "set-password", "--email", user.email],
                           input=NEW + "\n")
    assert result.exit_code == 0, result.output
    anon = app.test_client(user=None)
    assert anon.get("/api/v1/apis", headers={"Authorization": f"Bearer {access}"}) \
        .status_code == 401
    with app.app_context():
        row = services.user_by_email(user.email)
        assert row.must_change_password is True
        assert services.authenticate(user.email, NEW) is not None


def test_cli_deactivate_ends_everything(app, runner, auth):
    user = auth.user("developer")
    with app.app_context():
        pat = make_pat(db.session.get(User, user.id))
    assert runner.invoke(args=["users", "deactivate", "--email", user.email]).exit_code == 0
    assert runner.invoke(args=["users", "activate", "--email", user.email]).exit_code == 0
    response = _exchange(app.test_client(user=None), pat)
    assert response.status_code == 401  # the PAT was revoked with the deactivation


# ------------------------------------------------------------------ REST for admins
def test_rest_admin_manages_users_and_teams(app, auth):
    admin = auth.client("admin")
    created = admin.post("/api/v1/users", json={"email": "ci@example.com", "password": NEW,
                                                "roles": ["developer"]})
    assert created.status_code == 201
    user = created.get_json()
    assert user["roles"] == ["developer"] and user["must_change_password"] is False
    assert created.headers["Location"].endswith(f"/api/v1/users/{user['id']}")
    team = admin.post("/api/v1/teams", json={"name": "payments"})
    assert team.status_code == 201
    member = admin.post(f"/api/v1/teams/{team.get_json()['id']}/members",
                        json={"email": "ci@example.com"})
    assert member.status_code == 200 and member.get_json()["members"] == ["ci@example.com"]
    assert admin.get(f"/api/v1/users/{user['id']}").get_json()["teams"] == ["payments"]
    assert admin.put(f"/api/v1/users/{user['id']}/roles",
                     json={"roles": ["viewer"]}).get_json()["roles"] == ["viewer"]
    assert admin.post("/api/v1/users", json={"email": "ci@example.com", "password": NEW}) \
        .status_code == 409
    assert admin.post(f"/api/v1/users/{user['id']}/deactivate").get_json()["active"] is False
    assert admin.post(f"/api/v1/users/{user['id']}/activate").get_json()["active"] is True
    emails = [u["email"] for u in admin.get("/api/v1/users").get_json()["users"]]
    assert "ci@example.com" in emails
    assert [t["name"] for t in admin.get("/api/v1/teams").get_json()["teams"]] == ["payments"]


def test_rest_admin_endpoints_are_for_admins_only(auth):
    developer = auth.client("developer")
    assert developer.get("/api/v1/users").status_code == 403
    assert developer.post("/api/v1/teams", json={"name": "x"}).status_code == 403


def test_an_admin_cannot_deactivate_or_reset_themselves(app, auth):
    admin = auth.client("admin")
    with app.app_context():
        me = services.user_by_email(admin.user_email)
        my_id = me.id
    assert admin.post(f"/api/v1/users/{my_id}/deactivate").status_code == 409
    assert admin.post(f"/api/v1/users/{my_id}/password", json={"password": NEW}) \
        .status_code == 409


# ------------------------------------------------------------------ password reset
def test_a_reset_password_must_be_changed_before_anything_else(app, auth):
    user = auth.user("developer", teams=("shop",))
    admin = auth.client("admin")
    reset = admin.post(f"/api/v1/users/{user.id}/password", json={"password": NEW})
    assert reset.status_code == 200 and reset.get_json()["must_change_password"] is True
    browser = app.test_client(user=None)
    assert auth.login(browser, user.email, PASSWORD).status_code == 422  # old one is gone
    assert auth.login(browser, user.email, NEW).status_code == 303
    for page in ("/", "/rules", "/apis/anything"):
        response = browser.get(page)
        assert response.status_code == 302
        assert response.headers["Location"].endswith("/account")
    account = browser.get("/account")
    assert account.status_code == 200 and b"An admin reset your password" in account.data
    with app.app_context():  # the PAT is refused with the reason, to its holder only
        pat = make_pat(db.session.get(User, user.id))
    refused = _exchange(app.test_client(user=None), pat)
    assert refused.status_code == 401
    assert refused.get_json()["error"] == "invalid_client"
    assert refused.get_json()["error_description"].startswith("Password change required")
    changed = browser.post("/account/password", data={"current": NEW,
                                                      "new": "my own choice of password"})
    assert changed.status_code == 303
    assert browser.get("/").status_code == 200
    assert _exchange(app.test_client(user=None), pat).status_code == 200


def test_an_admin_resets_a_password_on_the_web(app, auth):
    user = auth.user("viewer")
    admin = auth.client("admin")
    page = admin.get(f"/admin/users/{user.id}")
    assert b"Set temporary password" in page.data
    short = admin.post(f"/admin/users/{user.id}/password", data={"password": "short"})
    assert short.status_code == 422 and b"at least 12" in short.data
    done = admin.post(f"/admin/users/{user.id}/password", data={"password": NEW})
    assert done.status_code == 303
    with app.app_context():
        row = services.user_by_email(user.email)
        assert row.must_change_password is True
        assert services.authenticate(user.email, NEW) is not None
        entry = audit.search(audit.AuditQuery(action="user.password_reset"), limit=1)[0]
        assert entry["actor"] == admin.user_email and entry["data"] == {"must_change": True}


# ------------------------------------------------------------------ token endpoint reasons
def test_an_admin_without_a_second_factor_is_told_why_only_with_a_valid_pat(app, auth):
    admin = auth.user("admin", totp=False)
    with app.app_context():
        pat = make_pat(db.session.get(User, admin.id))
    anon = app.test_client(user=None)
    refused = _exchange(anon, pat)
    assert refused.status_code == 401
    body = refused.get_json()
    assert body["error"] == "invalid_client"
    assert body["error_description"].startswith("Second factor required")
    # a wrong secret for the same client id learns nothing about the account
    wrong = pat[:-4] + ("0000" if not pat.endswith("0000") else "1111")
    unknown = _exchange(anon, wrong).get_json()
    assert unknown["error"] == "invalid_client"
    assert "second factor" not in unknown["error_description"].lower()
    assert unknown == _exchange(anon, "sgp_0123456789abcdef_" + "0" * 64).get_json()


# ------------------------------------------------------------------ acceptance 5
@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


def _env(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("STAGEGATE_") and k not in ("DATABASE_URL", "FLASK_APP")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["DATABASE_URL"] = database_url
    env.update(extra)
    return env


def test_the_headless_setup_script_runs_as_is(app, live_server, database_url, tmp_path):
    with app.app_context():  # the empty database: no user, team or API
        assert db.session.execute(db.select(User)).first() is None
        assert db.session.execute(db.select(Team)).first() is None
    env = _env(database_url, STAGEGATE_KEY_ENCRYPTION_KEY=str(app.config["KEY_ENCRYPTION_KEY"]),
               STAGEGATE_SECRET_KEY=str(app.config["SECRET_KEY"]), STAGEGATE_URL=live_server)
    done = subprocess.run(["sh", str(ROOT / "scripts" / "headless-setup.sh")], env=env,
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert '"name":"payments"' in done.stdout.replace(" ", "")
    with app.app_context():
        db.session.remove()
        api = db.session.execute(db.select(Api).where(Api.name == "payments")).scalar_one()
        dev = services.user_by_email("dev@example.com")
        assert dev.roles == ["developer"]
        assert db.session.get(Membership, (dev.id, api.team_id)) is not None
        created = audit.search(audit.AuditQuery(action="api.created"), limit=5,
                               newest_first=False)
        assert [e["actor"] for e in created] == ["dev@example.com"]


# ------------------------------------------------------------------ point 11
@pytest.mark.parametrize("database,args", [
    ("no-kek", ["demo"]),
    ("unreachable", ["demo"]),
    ("unreachable", ["users", "set-password", "--email", "nobody@example.com"]),
    ("unreachable", ["audit", "verify"]),
    ("unreachable", ["tokens", "create", "--email", "x@example.com", "--name", "n"]),
    ("unreachable", ["db", "upgrade"]),
])
def test_cli_errors_are_one_line_without_a_traceback(tmp_path, database, args):
    """``DATABASE_URL`` set without ``STAGEGATE_KEY_ENCRYPTION_KEY`` (the demo signs gate
    records), or a database that cannot be reached: one line, exit status 1."""
    url = f"sqlite:///{tmp_path / 'sg.sqlite'}" if database == "no-kek" \
        else "postgresql://nobody@127.0.0.1:1/none"
    done = subprocess.run([str(BIN / "stagegate"), *args], env=_env(url), cwd=tmp_path,
                          input="a long enough password\n", capture_output=True, text=True,
                          timeout=120)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr + done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("stagegate: "), done.stderr
    if database == "no-kek":
        assert "STAGEGATE_KEY_ENCRYPTION_KEY is not set" in lines[0]

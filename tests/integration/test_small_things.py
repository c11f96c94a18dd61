"""Issue 9 point 16, the small things users noticed: the sign-in card when the rate limit
refuses an attempt, human dates, plurals, JSON pointers, file sizes, the CLI's wording, SARIF
URIs, Swagger 2.0 sources and the actor of a PAT created on the command line."""

from __future__ import annotations

import re
import uuid

import sqlalchemy as sa
from accountkit import PASSWORD

from lifecycle.audit.models import AuditEntry
from lifecycle.core.extensions import db
from lifecycle.web.accounts import TOO_MANY_ATTEMPTS


def _login(client, email, password=PASSWORD):
    return client.post("/login", data={"email": email, "password": password})


def test_a_rate_limited_sign_in_shows_a_sentence_on_the_sign_in_card(make_app, auth):
    app = make_app(RATELIMIT_KEY_PREFIX=f"t-{uuid.uuid4().hex[:8]}")
    user = auth.user("viewer")
    client = app.test_client(user=None)
    for _ in range(5):
        assert _login(client, user.email, "wrong password!").status_code == 422
    refused = _login(client, user.email)
    html = refused.get_data(as_text=True)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "60"
    assert re.search(r'<h1 id="login-h">Sign in</h1>', html)  # the sign-in card, not an error page
    assert TOO_MANY_ATTEMPTS in html
    assert f'value="{user.email}"' in html  # what was typed stays (the password does not)
    assert PASSWORD not in html


def test_a_rate_limited_password_change_shows_the_sentence_on_the_account_page(make_app, auth):
    app = make_app(RATELIMIT_KEY_PREFIX=f"t-{uuid.uuid4().hex[:8]}")
    user = auth.user("viewer")
    client = app.test_client(user=user.email)
    wrong = {"current": "wrong password!", "new": "a new password of some length"}
    for _ in range(5):
        assert client.post("/account/password", data=wrong).status_code == 422
    refused = client.post("/account/password", data=wrong)
    assert refused.status_code == 429
    html = refused.get_data(as_text=True)
    assert "<h1>Your account</h1>" in html and TOO_MANY_ATTEMPTS in html


def _audited(app, action):
    with app.app_context():
        rows = db.session.execute(sa.select(AuditEntry).where(AuditEntry.action == action)
                                  .order_by(AuditEntry.seq)).scalars()
        return [(r.actor, r.subject) for r in rows]


def test_a_pat_created_on_the_command_line_is_audited_as_done_by_the_operator(app, runner,
                                                                           auth):
    user = auth.user("developer")
    result = runner.invoke(args=["tokens", "create", "--email", user.email, "--name", "ci"])
    assert result.exit_code == 0, result.output
    assert _audited(app, "token.created") == [("cli", f"user:{user.email}")]


def test_a_pat_created_on_the_account_page_is_audited_as_done_by_its_owner(app, auth):
    user = auth.user("developer")
    client = app.test_client(user=user.email)
    assert client.post("/account/tokens", data={"name": "laptop", "expires_days": "30"}) \
        .status_code == 201
    assert _audited(app, "token.created") == [(user.email, f"user:{user.email}")]

"""Access tokens die with deactivation (for good) and with a password change; refused
sign-ins never put typed text into the audit log; emails are validated (issue 9, points 6
and 7)."""

from __future__ import annotations

import pytest
from accountkit import PASSWORD, make_pat

from lifecycle import audit
from lifecycle.accounts import apitokens, services
from lifecycle.accounts.models import PersonalAccessToken, User
from lifecycle.core.errors import ValidationFailed
from lifecycle.core.extensions import db

NEW_PASSWORD = "a brand new password 42"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _status(app, token: str) -> int:
    return app.test_client(user=None).get("/api/v1/apis", headers=bearer(token)).status_code


def test_a_token_stays_dead_after_deactivation_and_reactivation(app, auth):
    user = auth.user("viewer")
    access = auth.token(user.email)
    assert _status(app, access) == 200
    with app.app_context():
        services.set_active(user.id, False, actor="cli")
        assert _status(app, access) == 401
        services.set_active(user.id, True, actor="cli")
    assert _status(app, access) == 401  # reactivation does not revive old tokens
    fresh = auth.token(user.email)  # a new PAT and token after reactivation work
    assert _status(app, fresh) == 200


def test_deactivation_revokes_the_users_pats(app, auth):
    user = auth.user("viewer")
    with app.app_context():
        pat = make_pat(db.session.get(User, user.id))
        services.set_active(user.id, False, actor="cli")
        services.set_active(user.id, True, actor="cli")
        assert apitokens.exchange(pat) is None
        row = apitokens.find_pat(pat)
        assert row is not None and row.revoked_at is not None


def test_a_password_change_kills_access_tokens_but_keeps_pats(app, auth):
    user = auth.user("viewer")
    access = auth.token(user.email)
    with app.app_context():
        pat = make_pat(db.session.get(User, user.id))
        assert _status(app, access) == 200
        services.change_password(db.session.get(User, user.id), PASSWORD, NEW_PASSWORD)
        assert _status(app, access) == 401
        issued = apitokens.exchange(pat)
        assert isinstance(issued, tuple)  # the PAT still works: a new access token
    assert _status(app, issued[0]) == 200


def test_a_token_without_the_epoch_claim_is_refused(app, auth):
    user = auth.user("viewer")
    with app.app_context():
        row = db.session.get(User, user.id)
        pat = apitokens.find_pat(make_pat(row))
        row.token_epoch = 3
        db.session.commit()
        token, _ = apitokens.mint(row, pat)
        row.token_epoch = 4
        db.session.commit()
    assert _status(app, token) == 401


# ------------------------------------------------------------------ failed sign-ins
def _failed_subjects(app) -> list[str]:
    with app.app_context():
        return [e["subject"] for e in audit.search(audit.AuditQuery(action="user.login_failed"),
                                                    limit=50, newest_first=False)]


def test_text_typed_as_email_is_never_written_to_the_audit_log(app, anon, auth):
    typed = "My Secret Passw0rd!"  # a password typed into the email field
    response = auth.login(anon, typed, "whatever it is")
    assert response.status_code == 422
    subjects = _failed_subjects(app)
    assert len(subjects) == 1
    assert typed.lower() not in subjects[0] and "secret" not in subjects[0]
    assert subjects[0].startswith("login:") and len(subjects[0]) == len("login:") + 16
    with app.app_context():
        # keyed (SECRET_KEY), normalised: an admin can compute it for a suspected value
        assert services.login_subject("  " + typed.upper()) == subjects[0]


def test_a_failed_sign_in_for_an_existing_account_names_it(app, anon, auth):
    user = auth.user("viewer")
    auth.login(anon, user.email, "not the password at all")
    assert _failed_subjects(app) == [f"user:{user.email}"]


def test_the_hash_depends_on_the_secret_key(app, make_app):
    other = make_app(SECRET_KEY="another secret")
    with app.app_context():
        mine = services.login_subject("someone@example.com")
    with other.app_context():
        theirs = services.login_subject("someone@example.com")
    assert mine != theirs


# ------------------------------------------------------------------ email validation
@pytest.mark.parametrize("email", [
    "no-at-sign", "two@@example.com", "space in@example.com", "a@b", "x@localhost",
    "dot..dot@example.com", "trailing.@example.com", "a@-example.com", "a@example..com",
    "<a@example.com>", "Name <a@example.com>", "a@[127.0.0.1]", "a@exa\nmple.com",
])
def test_bad_emails_are_refused_everywhere(app, auth, runner, email):
    with app.app_context():
        with pytest.raises(ValidationFailed) as caught:
            services.create_user(email, NEW_PASSWORD, [], actor="cli")
        assert "email" in caught.value.errors
    result = runner.invoke(args=["users", "create", "--email", email], input=NEW_PASSWORD + "\n")
    assert result.exit_code == 1
    assert "email" in result.output.lower()
    admin = auth.client("admin")
    response = admin.post("/api/v1/users", json={"email": email, "password": NEW_PASSWORD})
    assert response.status_code == 422
    assert "email" in response.get_json()["details"]["fields"]
    page = admin.post("/admin/users", data={"email": email, "password": NEW_PASSWORD})
    assert page.status_code == 422


@pytest.mark.parametrize("email", ["alice@example.com", "Bob.Smith+ci@Corp.Example.org",
                                   "ops@stagegate.test", "dev@corp.internal"])
def test_good_emails_are_accepted(app, email):
    with app.app_context():
        user = services.create_user(email, NEW_PASSWORD, [], actor="cli")
        assert user.email == email.lower()
        assert db.session.execute(db.select(PersonalAccessToken)).first() is None

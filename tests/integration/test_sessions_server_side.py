"""Sign-out ends the session on the server (issue 9.2).

A session cookie is signed, not encrypted state of the server: replaying a copy of it after
``POST /logout`` must find the session ended.  Each sign-in has a server-side record
(``login_session``, only the SHA-256 of the random session id); sign-out, "log out
everywhere", a password change and deactivation end the records.
"""

from __future__ import annotations

import sqlalchemy as sa
from accountkit import PASSWORD

from lifecycle.accounts.models import LoginSession
from lifecycle.core.extensions import db


def login(client, email, password=PASSWORD):
    return client.post("/login", data={"email": email, "password": password})


def _cookie(client, app) -> str:
    return client.get_cookie(app.config.get("SESSION_COOKIE_NAME", "session")).value


def _replay(app, cookie: str):
    thief = app.test_client(user=None)
    thief.set_cookie(app.config.get("SESSION_COOKIE_NAME", "session"), cookie)
    return thief


def test_a_cookie_replayed_after_sign_out_is_signed_out(app, anon, auth):
    user = auth.user("viewer")
    assert login(anon, user.email).status_code == 303
    assert anon.get("/account").status_code == 200
    copied = _cookie(anon, app)
    assert _replay(app, copied).get("/account").status_code == 200  # the copy works ...
    assert anon.post("/logout").status_code == 303
    replayed = _replay(app, copied).get("/account")
    assert replayed.status_code == 302  # ... until sign-out: then it is signed out
    assert "/login" in replayed.headers["Location"]
    with app.app_context():
        rows = db.session.execute(sa.select(LoginSession).where(
            LoginSession.user_id == user.id)).scalars().all()
        assert [r.ended_at is not None for r in rows] == [True]
        assert copied not in {r.sid_hash for r in rows}


def test_a_password_change_ends_other_sessions_but_keeps_this_one(app, auth):
    user = auth.user("viewer")
    laptop, phone = app.test_client(user=None), app.test_client(user=None)
    login(laptop, user.email)
    login(phone, user.email)
    copied = _cookie(phone, app)
    changed = laptop.post("/account/password", data={
        "current": PASSWORD, "new": PASSWORD + " renewed", "confirm": PASSWORD + " renewed"})
    assert changed.status_code == 303, changed.get_data(as_text=True)
    assert laptop.get("/account").status_code == 200
    assert phone.get("/account").status_code == 302
    assert _replay(app, copied).get("/account").status_code == 302


def test_a_session_without_a_server_record_is_not_accepted(app, auth, clock):
    user = auth.user("viewer")
    forged = app.test_client(user=None)
    now = int(clock.now.timestamp())
    with forged.session_transaction() as session:  # a validly signed cookie, never signed in
        session.update({"_user_id": f"{user.id}:0", "_fresh": True,
                        "_sg_login": now, "_sg_seen": now})
    assert forged.get("/account").status_code == 302

"""Issue 9, point 9: the TOTP set-up page keeps its secret until it is confirmed (reloads, other
browsers), only the "new code" button replaces it, the secret never travels in the session
cookie, forced enrolment offers nothing but signing out, and a wrong code gets an accurate
message (the device clock is blamed only when the code is this key's code of another time)."""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
import pytest
from accountkit import PASSWORD

from lifecycle.accounts import services
from lifecycle.accounts.models import User
from lifecycle.core.clock import clock
from lifecycle.core.extensions import db

ENROL = "/account/second-factor"


def _signed_in(app, auth, *roles):
    """An anonymous client signed in through the real form as a new user without a second
    factor (an admin or approver is then forced to enrol)."""
    user = auth.user(*roles, totp=False)
    client = app.test_client(user=None)
    assert client.post("/login", data={"email": user.email, "password": PASSWORD}
                       ).status_code == 303
    return client, user


def _secret(response) -> str:
    found = re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', response.get_data(as_text=True))
    assert found, response.get_data(as_text=True)
    return found.group(1)


def test_reloading_the_set_up_page_keeps_the_secret_and_the_first_code_enrols(app, auth):
    client, user = _signed_in(app, auth, "approver")
    first = _secret(client.get(ENROL))
    assert _secret(client.get(ENROL)) == first  # reloads
    assert _secret(client.get(ENROL)) == first
    # another browser of the same user (e.g. the phone's) sees the same secret too
    other = app.test_client(user=user.email)
    assert _secret(other.get(ENROL)) == first
    # the secret is not in the (signed, readable) session cookie
    with client.session_transaction() as session:
        assert first not in repr(dict(session))
    # sealed on the server, and it cannot sign in before it is confirmed
    with app.app_context():
        row = db.session.get(User, user.id)
        assert row.totp_sealed is not None and first.encode() not in row.totp_sealed
        assert not row.totp_enrolled
        assert services.verify_second_factor(row, pyotp.TOTP(first).now()) is None
    done = client.post(ENROL, data={"code": pyotp.TOTP(first).now()})
    assert done.status_code == 200
    assert "Your second factor is set up" in done.get_data(as_text=True)
    assert client.get("/").status_code == 200


def test_the_new_code_button_replaces_the_secret(app, auth):
    client, _user = _signed_in(app, auth, "admin")
    old = _secret(client.get(ENROL))
    renewed = client.post(ENROL + "/new", follow_redirects=True)
    assert renewed.status_code == 200
    assert "A new key was made" in renewed.get_data(as_text=True)
    new = _secret(renewed)
    assert new != old
    assert _secret(client.get(ENROL)) == new  # the new one stays
    refused = client.post(ENROL, data={"code": pyotp.TOTP(old).now()})
    assert refused.status_code == 422
    assert "does not match the key shown on this page" in refused.get_data(as_text=True)
    assert client.post(ENROL, data={"code": pyotp.TOTP(new).now()}).status_code == 200


def test_the_new_code_button_needs_the_csrf_token(make_app, auth):
    app = make_app(WTF_CSRF_ENABLED=True)
    user = auth.user("developer", totp=False)
    client = app.test_client(user=user.email)
    old = _secret(client.get(ENROL))
    assert client.post(ENROL + "/new").status_code == 400
    assert _secret(client.get(ENROL)) == old


def test_a_wrong_code_says_it_is_not_from_this_key(app, auth):
    client, _user = _signed_in(app, auth, "approver")
    _secret(client.get(ENROL))
    other_key = pyotp.TOTP(pyotp.random_base32(32)).now()
    refused = client.post(ENROL, data={"code": other_key})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "does not match the key shown on this page" in html
    assert "shows this account" in html
    assert "clock" not in html  # not the device clock's fault
    letters = client.post(ENROL, data={"code": "12ab56"})
    assert letters.status_code == 422
    assert "Enter the 6 digits" in letters.get_data(as_text=True)


@pytest.mark.parametrize(("minutes", "way"), [(5, "behind"), (3, "ahead")])
def test_a_code_of_another_time_blames_the_device_clock(app, auth, minutes, way):
    client, _user = _signed_in(app, auth, "approver")
    secret = _secret(client.get(ENROL))
    with app.app_context():
        now = clock()
    offset = timedelta(minutes=-minutes if way == "behind" else minutes)
    skewed = pyotp.TOTP(secret).at(now + offset)
    refused = client.post(ENROL, data={"code": skewed})
    assert refused.status_code == 422
    assert f"clock is about {minutes} minutes {way}" in refused.get_data(as_text=True)


def test_forced_enrolment_offers_only_signing_out(app, auth):
    client, _user = _signed_in(app, auth, "approver")
    page = client.get(ENROL)
    html = page.get_data(as_text=True)
    assert "Your role needs a second factor" in html
    hrefs = set(re.findall(r'href="(/[^"]*)"', html))
    assert {h for h in hrefs if not h.startswith("/static/")} == set()  # no links away
    assert 'action="/logout"' in html
    # every other page still leads back here
    for path in ("/", "/rules", "/account", "/audit"):
        assert client.get(path).headers["Location"] == ENROL
    assert client.post("/logout").status_code == 303


def test_a_voluntary_enrolment_keeps_the_navigation(app, auth):
    user = auth.user("developer", totp=False)
    client = app.test_client(user=user.email)
    html = client.get(ENROL).get_data(as_text=True)
    assert 'href="/rules"' in html and 'href="/account"' in html
    assert "Your role needs a second factor" not in html


def test_an_enrolled_user_cannot_ask_for_a_new_code(app, auth):
    user = auth.user("approver")  # enrolled
    client = app.test_client(user=user.email)
    assert client.post(ENROL + "/new").headers["Location"] == "/account"
    with app.app_context():
        assert db.session.get(User, user.id).totp_enrolled

"""Account helpers for tests: users, personal access tokens and access tokens inserted
directly (no audit entries, no slow hashing per test).  Import as ``from accountkit import
...`` (``tests/`` is on the path, like ``evidencekit``).
"""

from __future__ import annotations

import secrets

import pyotp
from argon2 import PasswordHasher
from flask import current_app

from lifecycle.core.extensions import db

#: the password of every test user (test-only; hashed once here, STYLE §15)
PASSWORD = "test-only password " + secrets.token_hex(4)
PASSWORD_HASH = PasswordHasher().hash(PASSWORD)
#: the user the default clients (and browser contexts) act as: least privilege, a developer
#: of teams ``shop`` and ``Checkout`` (the teams the suites use); tests that need more sign
#: in as ``auth.client("approver")`` etc.
DEVELOPER_EMAIL = "developer@stagegate.test"
DEVELOPER_ROLES = ["developer"]
DEVELOPER_TEAMS = ("shop", "Checkout")


def make_user(email: str, roles: list[str] | tuple[str, ...] = (), *, teams: tuple[str, ...] = (),
              totp: bool | None = None, active: bool = True) -> object:
    """Insert a user directly (no audit entry; inside an app context).

    :param teams: team names (created when missing) the user joins.
    :param totp: enrol a second factor (default: when a role needs one); the secret is
        ``user.test_totp_secret``.
    :returns: the :class:`~lifecycle.accounts.models.User`, with ``test_totp_secret``.
    """
    from lifecycle.accounts.models import Membership, Team, User
    from lifecycle.accounts.roles import MFA_ROLES
    from lifecycle.core import crypto_store

    user = User(email=email, password_hash=PASSWORD_HASH, roles=list(roles), active=active,
                session_epoch=0)
    db.session.add(user)
    db.session.flush()
    for name in teams:
        team = db.session.execute(db.select(Team).where(Team.name == name)).scalar_one_or_none()
        if team is None:
            team = Team(name=name)
            db.session.add(team)
        db.session.add(Membership(user=user, team=team))
    secret = pyotp.random_base32(32)
    if totp or (totp is None and set(roles) & MFA_ROLES):
        if current_app.config.get("KEY_ENCRYPTION_KEY"):
            user.totp_sealed = crypto_store.seal(
                secret.encode(), f"stagegate-totp:{user.id}".encode(), crypto_store.current_kek())
        # without a configured KEK (apps a test builds itself) the user counts as enrolled
        # without a usable secret; never create a KEK file in instance/ from tests
        user.totp_last_step = 0
    db.session.commit()
    user.test_totp_secret = secret  # type: ignore[attr-defined]
    return user


def make_pat(user: object, name: str = "tests", days: int = 30) -> str:
    """Insert a personal access token for ``user`` directly (no audit entry); its text."""
    from datetime import timedelta

    from lifecycle.accounts.apitokens import _hash
    from lifecycle.accounts.models import PersonalAccessToken
    from lifecycle.core.clock import clock

    lookup = secrets.token_hex(8)
    token = f"sgp_{lookup}_{secrets.token_hex(32)}"
    now = clock()
    db.session.add(PersonalAccessToken(user_id=user.id, name=name, lookup=lookup,  # type: ignore[attr-defined]
                                       secret_hash=_hash(token), created_at=now,
                                       expires_at=now + timedelta(days=days)))
    db.session.commit()
    return token


def access_token_for(email: str) -> str:
    """A fresh access token for the user ``email`` (a new PAT minted directly; inside an app
    context)."""
    from lifecycle.accounts import apitokens
    from lifecycle.accounts.services import user_by_email

    user = user_by_email(email)
    pat = apitokens.find_pat(make_pat(user))
    return apitokens.mint(user, pat)[0]



"""Demo accounts for ``stagegate demo``: one user per role with a random password, printed
once by the command and never stored in clear (no password lives in the code).

``developer@demo.stagegate`` joins every team the demo created; the approver and the admin
set up their second factor at their first sign-in, like every approver and admin.
"""

from __future__ import annotations

import secrets

from lifecycle.accounts import services
from lifecycle.accounts.models import Team
from lifecycle.core.extensions import db

DEMO_USERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("viewer@demo.stagegate", ("viewer",)),
    ("developer@demo.stagegate", ("developer",)),
    ("approver@demo.stagegate", ("approver",)),
    ("admin@demo.stagegate", ("admin",)),
)


def create_demo_users() -> list[tuple[str, tuple[str, ...], str]]:
    """Create the demo users that do not exist yet.

    :returns: ``(email, roles, password)`` of each user created now (the only time the
        password is known).
    """
    created = []
    for email, roles in DEMO_USERS:
        if services.user_by_email(email) is not None:
            continue
        password = secrets.token_urlsafe(12)
        user = services.create_user(email, password, roles, actor="demo")
        if "developer" in roles:
            for team in db.session.execute(db.select(Team)).scalars():
                services.add_member(team.id, user.id, actor=user)
        created.append((email, roles, password))
    return created

"""Roles and the second-factor rule (pure; read by services, sessions and tokens)."""

from __future__ import annotations

from typing import Any

#: every role, in the order pages list them
ROLES: tuple[str, ...] = ("viewer", "developer", "approver", "admin")
#: roles that must have a second factor (TOTP) before doing anything
MFA_ROLES = frozenset({"approver", "admin"})


def roles_of(user: Any) -> frozenset[str]:
    """The user's roles (empty for anonymous or inactive users)."""
    if user is None or not getattr(user, "is_authenticated", False) or \
            not getattr(user, "is_active", False):
        return frozenset()
    return frozenset(r for r in (user.roles or ()) if r in ROLES)


def needs_enrolment(user: Any) -> bool:
    """True for an approver or admin who has no second factor yet."""
    return bool(roles_of(user) & MFA_ROLES) and not user.totp_enrolled

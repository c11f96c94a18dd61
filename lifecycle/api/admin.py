"""REST views for headless administration (admins only; registered on the ``api``
blueprint).  The same services as the web's admin pages and ``stagegate users|teams``.

- ``GET /users`` — every user; ``POST /users`` ``{"email", "password", "roles"?}`` → 201.
- ``GET /users/{id}``; ``PUT /users/{id}/roles`` ``{"roles"}``.
- ``POST /users/{id}/password`` ``{"password", "must_change"?: true}`` — an admin's password
  reset: the user's sessions and access tokens end, and (by default) they must choose a new
  password at their next sign-in.
- ``POST /users/{id}/deactivate`` / ``POST /users/{id}/activate``.
- ``GET /teams``; ``POST /teams`` ``{"name"}`` → 201; ``POST /teams/{id}/members``
  ``{"email"}`` or ``{"user_id"}`` → the team.

An admin's access token needs a second factor enrolled first (``POST /token`` says so).
Errors: ``{"error", "message", "details"}`` (``validation_failed`` 422 with
``details.fields``, ``conflict`` 409, ``not_found`` 404).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, url_for
from flask_login import current_user

from lifecycle.accounts import services
from lifecycle.accounts.authz import requires
from lifecycle.accounts.models import Team, User
from lifecycle.api.errors import ApiError
from lifecycle.api.views import _json_object, _text
from lifecycle.core.routing import MAX_ID


def _time(value: Any) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def user_dict(user: User) -> dict[str, Any]:
    """A user as JSON (never the password hash or second-factor secret)."""
    return {"id": user.id, "email": user.email, "roles": list(user.roles or []),
            "active": bool(user.active), "second_factor": user.totp_enrolled,
            "must_change_password": bool(user.must_change_password),
            "teams": [t.name for t in user.teams], "created_at": _time(user.created_at),
            "last_login_at": _time(user.last_login_at)}


def team_dict(team: Team) -> dict[str, Any]:
    """A team as JSON with its members' emails."""
    return {"id": team.id, "name": team.name, "members": [u.email for u in team.members],
            "created_at": _time(team.created_at)}


def _me() -> User:
    return current_user._get_current_object()  # type: ignore[no-any-return]


def _roles(body: dict[str, Any]) -> list[str]:
    roles = body.get("roles", [])
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise ApiError(422, "validation_failed", "Some values are not acceptable.",
                       {"fields": {"roles": "A list of role names."}})
    return roles


@requires("admin")
def list_users() -> Any:
    """Every user by email."""
    return jsonify(users=[user_dict(u) for u in services.list_users()])


@requires("admin")
def create_user() -> Any:
    """Create a user: ``{"email", "password", "roles"?}``."""
    body = _json_object()
    user = services.create_user(_text(body, "email", required=True) or "",
                                _text(body, "password", required=True) or "",
                                _roles(body), actor=_me())
    response = jsonify(user_dict(user))
    response.headers["Location"] = url_for("api.get_user", user_id=user.id)
    return response, 201


@requires("admin")
def get_user(user_id: int) -> Any:
    """One user."""
    return jsonify(user_dict(services.get_user(user_id)))


@requires("admin")
def set_roles(user_id: int) -> Any:
    """Replace a user's roles: ``{"roles": [...]}``."""
    body = _json_object()
    return jsonify(user_dict(services.set_roles(user_id, _roles(body), actor=_me())))


@requires("admin")
def reset_password(user_id: int) -> Any:
    """Set another user's password: ``{"password", "must_change"?}`` (default true)."""
    body = _json_object()
    must_change = body.get("must_change", True)
    if not isinstance(must_change, bool):
        raise ApiError(422, "validation_failed", "Some values are not acceptable.",
                       {"fields": {"must_change": "true or false."}})
    user = services.reset_password(user_id, _text(body, "password", required=True) or "",
                                   actor=_me(), temporary=must_change)
    return jsonify(user_dict(user))


@requires("admin")
def deactivate_user(user_id: int) -> Any:
    """Deactivate a user (sessions end, access tokens die, PATs are revoked)."""
    return jsonify(user_dict(services.set_active(user_id, False, actor=_me())))


@requires("admin")
def activate_user(user_id: int) -> Any:
    """Activate a user again."""
    return jsonify(user_dict(services.set_active(user_id, True, actor=_me())))


@requires("admin")
def list_teams() -> Any:
    """Every team by name, with members."""
    return jsonify(teams=[team_dict(t) for t in services.list_teams()])


@requires("admin")
def create_team() -> Any:
    """Create a team: ``{"name"}``."""
    body = _json_object()
    team = services.create_team(_text(body, "name", required=True) or "", actor=_me())
    return jsonify(team_dict(team)), 201


@requires("admin")
def add_member(team_id: int) -> Any:
    """Add a user to a team: ``{"email"}`` or ``{"user_id"}`` (idempotent)."""
    body = _json_object()
    user_id = body.get("user_id")
    if user_id is None:
        email = _text(body, "email", required=True) or ""
        found = services.user_by_email(email)
        if found is None:
            raise ApiError(422, "validation_failed", "Some values are not acceptable.",
                           {"fields": {"email": "No user has this email."}})
        user_id = found.id
    elif not isinstance(user_id, int) or isinstance(user_id, bool) or \
            not 1 <= user_id <= MAX_ID:
        raise ApiError(422, "validation_failed", "Some values are not acceptable.",
                       {"fields": {"user_id": "A user id."}})
    services.add_member(team_id, user_id, actor=_me())
    return jsonify(team_dict(services.get_team(team_id)))


def register(bp: Blueprint) -> None:
    """Add this module's views to ``bp`` (see ``create_app``)."""
    bp.add_url_rule("/users", view_func=list_users, methods=["GET"])
    bp.add_url_rule("/users", view_func=create_user, methods=["POST"])
    bp.add_url_rule("/users/<int:user_id>", view_func=get_user, methods=["GET"])
    bp.add_url_rule("/users/<int:user_id>/roles", view_func=set_roles, methods=["PUT"])
    bp.add_url_rule("/users/<int:user_id>/password", view_func=reset_password,
                    methods=["POST"])
    bp.add_url_rule("/users/<int:user_id>/deactivate", view_func=deactivate_user,
                    methods=["POST"])
    bp.add_url_rule("/users/<int:user_id>/activate", view_func=activate_user,
                    methods=["POST"])
    bp.add_url_rule("/teams", view_func=list_teams, methods=["GET"])
    bp.add_url_rule("/teams", view_func=create_team, methods=["POST"])
    bp.add_url_rule("/teams/<int:team_id>/members", view_func=add_member, methods=["POST"])

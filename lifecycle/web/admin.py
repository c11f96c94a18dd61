"""Admin pages (role ``admin``): users (create, roles, deactivate, reset second factor) and
teams (create, members).  Plain forms with post-redirect-get (303); 422 re-renders the page
with the errors; a refused change (e.g. an admin deactivating themselves) is a 409."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user

from lifecycle.accounts import services
from lifecycle.accounts.authz import requires
from lifecycle.catalog.models import Api
from lifecycle.core.errors import Conflict, ValidationFailed
from lifecycle.core.extensions import db
from lifecycle.web.account_forms import (
    ActiveForm,
    CreateUserForm,
    MemberForm,
    ResetPasswordForm,
    RolesForm,
    TeamForm,
)


def _me() -> Any:
    return current_user._get_current_object()


def _apply(form: Any, exc: ValidationFailed) -> None:
    for name, message in exc.errors.items():
        field = getattr(form, name, None) or next(iter(form))
        field.errors = [*field.errors, message]


# ------------------------------------------------------------------ users
def _render_users(form: CreateUserForm | None = None, status: int = 200) -> Any:
    return render_template("accounts/admin_users.html", users=services.list_users(),
                           form=form or CreateUserForm(formdata=None)), status


@requires("admin")
def admin_users() -> Any:
    """Every user, and the form to add one."""
    return _render_users()


@requires("admin")
def admin_create_user() -> Any:
    """Create a user with an initial password and roles."""
    form = CreateUserForm()
    if form.validate_on_submit():
        try:
            user = services.create_user(form.email.data, form.password.data,
                                        form.roles.data or [], actor=_me().email)
        except ValidationFailed as exc:
            _apply(form, exc)
        except Conflict as exc:
            form.email.errors = [*form.email.errors, exc.message]
        else:
            flash(f"User {user.email} created.", "success")
            return redirect(url_for("accounts.admin_user", user_id=user.id), 303)
    return _render_users(form, 422)


def _render_user(user_id: int, status: int = 200, roles_form: RolesForm | None = None,
                 password_form: ResetPasswordForm | None = None) -> Any:
    user = services.get_user(user_id)
    if roles_form is None:
        roles_form = RolesForm(formdata=None, roles=list(user.roles))
    return render_template("accounts/admin_user.html", user=user, roles_form=roles_form,
                           active_form=ActiveForm(formdata=None, active=user.active),
                           password_form=password_form or ResetPasswordForm(formdata=None),
                           recovery_left=services.remaining_recovery_codes(user)), status


@requires("admin")
def admin_user(user_id: int) -> Any:
    """One user: roles, teams, state, second factor."""
    return _render_user(user_id)


def _refused(user_id: int, exc: Conflict) -> Any:
    flash(exc.message, "error")
    return _render_user(user_id, 409)


@requires("admin")
def admin_set_roles(user_id: int) -> Any:
    """Replace the user's roles."""
    services.get_user(user_id)
    form = RolesForm()
    if not form.validate_on_submit():
        return _render_user(user_id, 422, form)
    try:
        services.set_roles(user_id, form.roles.data or [], actor=_me())
    except ValidationFailed as exc:
        _apply(form, exc)
        return _render_user(user_id, 422, form)
    except Conflict as exc:
        return _refused(user_id, exc)
    flash("Roles saved.", "success")
    return redirect(url_for("accounts.admin_user", user_id=user_id), 303)


@requires("admin")
def admin_set_active(user_id: int) -> Any:
    """Activate or deactivate the user (deactivation ends their sessions and tokens)."""
    services.get_user(user_id)
    form = ActiveForm()
    if not form.validate_on_submit():
        return _render_user(user_id, 422)
    try:
        user = services.set_active(user_id, bool(form.active.data), actor=_me())
    except Conflict as exc:
        return _refused(user_id, exc)
    flash(f"{user.email} is {'active' if user.active else 'deactivated'}.", "success")
    return redirect(url_for("accounts.admin_user", user_id=user_id), 303)


@requires("admin")
def admin_reset_password(user_id: int) -> Any:
    """Set the user's password; they must choose a new one at their next sign-in."""
    services.get_user(user_id)
    form = ResetPasswordForm()
    if not form.validate_on_submit():
        return _render_user(user_id, 422, password_form=form)
    try:
        user = services.reset_password(user_id, form.password.data, actor=_me())
    except ValidationFailed as exc:
        _apply(form, exc)
        return _render_user(user_id, 422, password_form=form)
    except Conflict as exc:
        return _refused(user_id, exc)
    flash(f"Password of {user.email} set; they must choose a new one at their next sign-in. "
          "Their sessions and access tokens have ended.", "success")
    return redirect(url_for("accounts.admin_user", user_id=user_id), 303)


@requires("admin")
def admin_reset_totp(user_id: int) -> Any:
    """Remove the user's second factor (lost device); they enrol again at next sign-in."""
    user = services.reset_totp(user_id, actor=_me())
    flash(f"Second factor of {user.email} removed; their sessions have ended.", "success")
    return redirect(url_for("accounts.admin_user", user_id=user_id), 303)


# ------------------------------------------------------------------ teams
def _render_teams(form: TeamForm | None = None, status: int = 200) -> Any:
    return render_template("accounts/admin_teams.html", teams=services.list_teams(),
                           form=form or TeamForm(formdata=None)), status


@requires("admin")
def admin_teams() -> Any:
    """Every team, and the form to add one."""
    return _render_teams()


@requires("admin")
def admin_create_team() -> Any:
    """Create a team."""
    form = TeamForm()
    if form.validate_on_submit():
        try:
            team = services.create_team(form.name.data, actor=_me())
        except ValidationFailed as exc:
            _apply(form, exc)
        except Conflict as exc:
            form.name.errors = [*form.name.errors, exc.message]
        else:
            flash(f"Team {team.name} created.", "success")
            return redirect(url_for("accounts.admin_team", team_id=team.id), 303)
    return _render_teams(form, 422)


def _member_form(team: Any, submitted: bool = True) -> MemberForm:
    form = MemberForm() if submitted else MemberForm(formdata=None)
    members = {m.user_id for m in team.memberships}
    form.user_id.choices = [(u.id, u.email) for u in services.list_users()
                            if u.id not in members]
    return form


def _render_team(team_id: int, status: int = 200, form: MemberForm | None = None) -> Any:
    team = services.get_team(team_id)

    apis = list(db.session.execute(db.select(Api).where(Api.team_id == team.id)
                                   .order_by(Api.name)).scalars())
    return render_template("accounts/admin_team.html", team=team, apis=apis,
                           form=form or _member_form(team, submitted=False)), status


@requires("admin")
def admin_team(team_id: int) -> Any:
    """One team: members and the APIs it owns."""
    return _render_team(team_id)


@requires("admin")
def admin_add_member(team_id: int) -> Any:
    """Add a user to the team."""
    team = services.get_team(team_id)
    form = _member_form(team)
    if not form.validate_on_submit():
        return _render_team(team_id, 422, form)
    services.add_member(team_id, form.user_id.data, actor=_me())
    flash("Member added.", "success")
    return redirect(url_for("accounts.admin_team", team_id=team_id), 303)


@requires("admin")
def admin_remove_member(team_id: int, user_id: int) -> Any:
    """Remove a user from the team."""
    services.remove_member(team_id, user_id, actor=_me())
    flash("Member removed.", "success")
    return redirect(url_for("accounts.admin_team", team_id=team_id), 303)


def register(bp: Blueprint) -> None:
    """Add this module's views to ``bp`` (the package builds its blueprints per app;
    see ``create_app``)."""
    bp.add_url_rule("/admin/users", view_func=admin_users, methods=["GET"])
    bp.add_url_rule("/admin/users", view_func=admin_create_user, methods=["POST"])
    bp.add_url_rule("/admin/users/<int:user_id>", view_func=admin_user, methods=["GET"])
    bp.add_url_rule("/admin/users/<int:user_id>/roles", view_func=admin_set_roles, methods=["POST"])
    bp.add_url_rule(
        "/admin/users/<int:user_id>/active", view_func=admin_set_active, methods=["POST"]
    )
    bp.add_url_rule(
        "/admin/users/<int:user_id>/password", view_func=admin_reset_password,
        methods=["POST"],
    )
    bp.add_url_rule(
        "/admin/users/<int:user_id>/reset-second-factor",
        view_func=admin_reset_totp,
        methods=["POST"],
    )
    bp.add_url_rule("/admin/teams", view_func=admin_teams, methods=["GET"])
    bp.add_url_rule("/admin/teams", view_func=admin_create_team, methods=["POST"])
    bp.add_url_rule("/admin/teams/<int:team_id>", view_func=admin_team, methods=["GET"])
    bp.add_url_rule(
        "/admin/teams/<int:team_id>/members", view_func=admin_add_member, methods=["POST"]
    )
    bp.add_url_rule(
        "/admin/teams/<int:team_id>/members/<int:user_id>/remove",
        view_func=admin_remove_member,
        methods=["POST"],
    )

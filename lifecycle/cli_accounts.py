"""``stagegate users …``, ``stagegate teams …`` and ``stagegate tokens …`` (registered on the
app's CLI): headless administration, for an operator or a provisioning script.

- ``stagegate users create --email E [--role R]…`` — a user with the given roles (none: a
  reader); ``users create-admin --email E`` — an admin.  The password is prompted (twice,
  hidden) on a terminal, or read as the first line of stdin otherwise; it is never a
  command-line argument (arguments end up in shell history and ``ps``).
- ``stagegate users set-password --email E [--no-must-change]`` — set a user's password
  (same input); by default they must choose a new one at their next sign-in.  Their
  sessions and access tokens end.
- ``stagegate users deactivate --email E`` / ``users activate --email E`` — deactivating
  ends their sessions, kills their access tokens and revokes their personal access tokens.
- ``stagegate teams create --name N`` and ``teams add-member --team N --email E``.
- ``stagegate tokens create --email E --name N [--expires-days D]`` — a personal access
  token, printed once on stdout.

Every change is audited with the actor ``cli`` (the operator).  Exit status 0 on success,
1 when the input is refused, with one line on stderr (``stagegate: …``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import NoReturn, TypeVar

import click
from flask.cli import AppGroup

from lifecycle.accounts import apitokens, services
from lifecycle.accounts.models import User
from lifecycle.accounts.roles import ROLES
from lifecycle.core.errors import DomainError, ValidationFailed

users_group = AppGroup("users", help="Manage Stagegate user accounts.")
teams_group = AppGroup("teams", help="Manage teams and their members.")
tokens_group = AppGroup("tokens", help="Manage personal access tokens.")

#: the actor recorded in the audit trail for changes made on the command line
CLI_ACTOR = "cli"
T = TypeVar("T")


def _refuse(message: str) -> NoReturn:
    click.echo(f"stagegate: {message}", err=True)
    sys.exit(1)


def _attempt(action: Callable[[], T]) -> T:
    """Run one service call; a refused input is one line on stderr and exit 1."""
    try:
        return action()
    except ValidationFailed as exc:
        _refuse("; ".join(f"{k}: {v}" for k, v in exc.errors.items()))
    except DomainError as exc:
        _refuse(exc.message)


def _read_password() -> str:
    if sys.stdin.isatty():
        return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))
    return sys.stdin.readline().rstrip("\r\n")


def _user(email: str) -> User:
    user = services.user_by_email(email)
    if user is None:
        _refuse(f"no user {services.normalise_email(email)!r}.")
    return user


@users_group.command("create")
@click.option("--email", required=True, help="The user's email (their sign-in name).")
@click.option("--role", "roles", multiple=True, type=click.Choice(ROLES),
              help="A role (repeat for several); none: a reader.")
def create_user(email: str, roles: tuple[str, ...]) -> None:
    """Create a user (password prompted, or the first line of stdin)."""
    password = _read_password()
    user = _attempt(lambda: services.create_user(email, password, roles, actor=CLI_ACTOR))
    click.echo(f"User {user.email} created ({', '.join(user.roles) or 'reader'}).")


@users_group.command("create-admin")
@click.option("--email", required=True, help="The admin's email (their sign-in name).")
def create_admin(email: str) -> None:
    """Create an admin account (password prompted, or the first line of stdin)."""
    password = _read_password()
    user = _attempt(lambda: services.create_user(email, password, ["admin"], actor=CLI_ACTOR))
    click.echo(f"Admin {user.email} created. Sign in and set up the second factor "
               "(required for admins) before anything else.")


@users_group.command("set-password")
@click.option("--email", required=True, help="Whose password to set.")
@click.option("--must-change/--no-must-change", default=True, show_default=True,
              help="Whether the user must choose a new password at their next sign-in.")
def set_password(email: str, must_change: bool) -> None:
    """Set a user's password (prompted, or the first line of stdin); their sessions and
    access tokens end."""
    user = _user(email)
    password = _read_password()
    _attempt(lambda: services.reset_password(user.id, password, actor=CLI_ACTOR,
                                             temporary=must_change))
    click.echo(f"Password of {user.email} set"
               + ("; they must choose a new one at their next sign-in." if must_change
                  else "."))


@users_group.command("deactivate")
@click.option("--email", required=True, help="Whom to deactivate.")
def deactivate(email: str) -> None:
    """Deactivate a user: sessions end, access tokens die, personal access tokens are
    revoked."""
    user = _user(email)
    _attempt(lambda: services.set_active(user.id, False, actor=CLI_ACTOR))
    click.echo(f"User {user.email} deactivated.")


@users_group.command("activate")
@click.option("--email", required=True, help="Whom to activate again.")
def activate(email: str) -> None:
    """Activate a user again (their old access and personal access tokens stay dead)."""
    user = _user(email)
    _attempt(lambda: services.set_active(user.id, True, actor=CLI_ACTOR))
    click.echo(f"User {user.email} activated.")


@teams_group.command("create")
@click.option("--name", required=True, help="The team's name (1–100 characters).")
def create_team(name: str) -> None:
    """Create a team."""
    team = _attempt(lambda: services.create_team(name, actor=CLI_ACTOR))
    click.echo(f"Team {team.name} created.")


@teams_group.command("add-member")
@click.option("--team", "team_name", required=True, help="The team's name.")
@click.option("--email", required=True, help="The user to add.")
def add_member(team_name: str, email: str) -> None:
    """Add a user to a team (nothing changes if they are a member already)."""
    team = services.team_by_name(team_name)
    if team is None:
        _refuse(f"no team {team_name.strip()!r}.")
    user = _user(email)
    _attempt(lambda: services.add_member(team.id, user.id, actor=CLI_ACTOR))
    click.echo(f"{user.email} is a member of {team.name}.")


@tokens_group.command("create")
@click.option("--email", required=True, help="Whose token it is.")
@click.option("--name", required=True, help="A name to recognise the token by.")
@click.option("--expires-days", type=int, default=30, show_default=True,
              help="Days until the token expires.")
def create_token(email: str, name: str, expires_days: int) -> None:
    """Create a personal access token and print it once."""
    user = services.user_by_email(email)
    if user is None or not user.active:
        _refuse(f"no active user {email!r}.")
    token, row = _attempt(lambda: apitokens.create_pat(user, name, expires_days,
                                                                actor=CLI_ACTOR))
    click.echo(token)
    click.echo(f"Token “{row.name}” ({row.client_id}) expires {row.expires_at:%Y-%m-%d %H:%M} "
               "UTC. It is shown only now; store it in your secret manager.", err=True)

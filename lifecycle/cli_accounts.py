"""``stagegate users …`` and ``stagegate tokens …`` (registered on the app's CLI).

- ``stagegate users create-admin --email E`` — the first admin.  The password is prompted
  (twice, hidden) on a terminal, or read as the first line of stdin otherwise; it is never
  a command-line argument (arguments end up in shell history and ``ps``).
- ``stagegate tokens create --email E --name N [--expires-days D]`` — a personal access
  token, printed once on stdout.

Exit status 0 on success, 1 when the input is refused (message on stderr).
"""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from lifecycle.accounts import apitokens, services
from lifecycle.core.errors import Conflict, ValidationFailed

users_group = AppGroup("users", help="Manage Stagegate user accounts.")
tokens_group = AppGroup("tokens", help="Manage personal access tokens.")


def _refuse(message: str) -> None:
    click.echo(f"stagegate: {message}", err=True)
    sys.exit(1)


def _read_password() -> str:
    if sys.stdin.isatty():
        return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))
    return sys.stdin.readline().rstrip("\r\n")


@users_group.command("create-admin")
@click.option("--email", required=True, help="The admin's email (their sign-in name).")
def create_admin(email: str) -> None:
    """Create an admin account (password prompted, or the first line of stdin)."""

    password = _read_password()
    try:
        user = services.create_user(email, password, ["admin"], actor="cli")
    except ValidationFailed as exc:
        _refuse("; ".join(f"{k}: {v}" for k, v in exc.errors.items()))
        return
    except Conflict as exc:
        _refuse(exc.message)
        return
    click.echo(f"Admin {user.email} created. Sign in and set up the second factor "
               "(required for admins) before anything else.")


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
        return
    try:
        token, row = apitokens.create_pat(user, name, expires_days)
    except ValidationFailed as exc:
        _refuse("; ".join(f"{k}: {v}" for k, v in exc.errors.items()))
        return
    click.echo(token)
    click.echo(f"Token “{row.name}” ({row.client_id}) expires {row.expires_at:%Y-%m-%d %H:%M} "
               "UTC. It is shown only now; store it in your secret manager.", err=True)

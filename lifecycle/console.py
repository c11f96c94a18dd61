"""The ``stagegate`` console script: offline commands without the web app (issue 10).

``stagegate check`` (:mod:`lifecycle.offline`), ``jwks check`` and ``token inspect``
(:mod:`lifecycle.offline_evidence`) and ``gateway …`` (:mod:`lifecycle.gateway.cli`) run
importing only their own module — never Flask, SQLAlchemy or the web app; every other
command (``run``, ``demo``, ``audit``, ``db``, ``verify-record``, ``--help`` …) is handed to
the ``FlaskGroup`` of :mod:`lifecycle.cli`.  Same commands, options, outputs and exit codes
either way; ``python -X importtime`` shows the difference (``docs/benchmark.md``).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

import click

#: first argument → (module, click command) run without the web app
OFFLINE_COMMANDS = {
    "check": ("lifecycle.offline", "check_command"),
    "jwks": ("lifecycle.offline_evidence", "jwks_group"),
    "token": ("lifecycle.offline_evidence", "token_group"),
    "gateway": ("lifecycle.gateway.cli", "gateway"),
}
#: subcommands of an offline group that need the app and its database after all
SERVER_SUBCOMMANDS = frozenset({("gateway", "export-key")})


def main(argv: Sequence[str] | None = None) -> None:
    """Run ``stagegate`` with ``argv`` (default ``sys.argv[1:]``); exits with the command's
    status."""
    args = list(sys.argv[1:] if argv is None else argv)
    # Modules are imported by name, on demand: each command pays only for its own imports
    # (the web app's command group — Flask, SQLAlchemy, every feature — costs about 1 s).
    if args and args[0] in OFFLINE_COMMANDS and tuple(args[:2]) not in SERVER_SUBCOMMANDS:
        module, name = OFFLINE_COMMANDS[args[0]]
        command: click.Command = getattr(importlib.import_module(module), name)
        command.main(args=args[1:], prog_name=f"stagegate {args[0]}")
        return
    full = importlib.import_module("lifecycle.cli")
    full.main.main(args=args, prog_name="stagegate")

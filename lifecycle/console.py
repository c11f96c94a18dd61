"""The ``stagegate`` console script: offline commands without the web app (issue 10).

``stagegate check`` (:mod:`lifecycle.offline`), ``jwks check`` and ``token inspect``
(:mod:`lifecycle.offline_evidence`) and ``gateway …`` (:mod:`lifecycle.gateway.cli`) run
importing only their own module — never Flask, SQLAlchemy or the web app; every other
command (``run``, ``demo``, ``audit``, ``db``, ``verify-record``, ``--help`` …) is handed to
the ``FlaskGroup`` of :mod:`lifecycle.cli`.  Same commands, options, outputs and exit codes
either way; ``python -X importtime`` shows the difference (``docs/benchmark.md``).
"""

from __future__ import annotations

import gc
import importlib
import os
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
#: one-shot commands that end the process without tearing the heap down (see :func:`_once`)
ONE_SHOT = frozenset({"check", "jwks", "token"})


def main(argv: Sequence[str] | None = None) -> None:
    """Run ``stagegate`` with ``argv`` (default ``sys.argv[1:]``); exits with the command's
    status."""
    args = list(sys.argv[1:] if argv is None else argv)
    # Modules are imported by name, on demand: each command pays only for its own imports
    # (the web app's command group — Flask, SQLAlchemy, every feature — costs about 1 s).
    if args and args[0] in ONE_SHOT:
        _once(args)
    if args and args[0] in OFFLINE_COMMANDS and tuple(args[:2]) not in SERVER_SUBCOMMANDS:
        module, name = OFFLINE_COMMANDS[args[0]]
        command: click.Command = getattr(importlib.import_module(module), name)
        command.main(args=args[1:], prog_name=f"stagegate {args[0]}")
        return
    full = importlib.import_module("lifecycle.cli")
    full.main.main(args=args, prog_name="stagegate")


def _once(args: list[str]) -> None:
    """Run a one-shot offline command (``check``, ``jwks check``, ``token inspect``) the way
    a short-lived process can: without the cyclic garbage collector (reading a large
    document builds millions of objects and none of them needs collecting before exit:
    about 35 % of OpenAI's check) and without freeing the heap object by object at exit
    (``os._exit`` after flushing stdout and stderr; the command has closed its files and
    left its ``with`` blocks by then).  Exit status as ``sys.exit`` gives it."""
    gc.disable()
    module, name = OFFLINE_COMMANDS[args[0]]
    status: object = 0
    try:
        command: click.Command = getattr(importlib.import_module(module), name)
        command.main(args=args[1:], prog_name=f"stagegate {args[0]}")
    except SystemExit as exc:
        status = exc.code
    if isinstance(status, str):
        print(status, file=sys.stderr)
        status = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status if isinstance(status, int) else 0 if status is None else 1)

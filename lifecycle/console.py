"""The ``stagegate`` console script: offline commands without the web app (issue 10).

``stagegate check``, ``jwks check``, ``token inspect`` and ``gateway …`` run from
:mod:`lifecycle.offline`, which imports neither Flask nor the database layer; every other
command (``run``, ``demo``, ``audit``, ``db``, ``verify-record``, ``--help`` …) is handed to
the ``FlaskGroup`` of :mod:`lifecycle.cli`, imported only then.  Same commands, options,
outputs and exit codes either way; ``python -X importtime`` shows the difference
(``docs/benchmark.md``).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

from lifecycle.offline import offline

#: first arguments handled without the web app
OFFLINE_COMMANDS = frozenset(offline.commands)


def main(argv: Sequence[str] | None = None) -> None:
    """Run ``stagegate`` with ``argv`` (default ``sys.argv[1:]``); exits with the command's
    status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in OFFLINE_COMMANDS:
        offline.main(args=args, prog_name="stagegate")
        return
    # The web app's command group (Flask, SQLAlchemy, every feature) is imported only for
    # the commands that need it: importing it costs about a second.
    full = importlib.import_module("lifecycle.cli")
    full.main.main(args=args, prog_name="stagegate")

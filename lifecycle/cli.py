"""The ``stagegate`` command (a Flask ``FlaskGroup``: ``run``, ``routes``, ``db …`` work too).

- ``stagegate check PATH [--stage STAGE] [--policy PACK] [--format text|json|sarif]`` —
  no server, no database, no app.  Exit 0: the document would pass the gate into STAGE;
  1: blocked; 2: the input could not be checked (unreadable, not OpenAPI, too large, unknown
  pack), with the reason on stderr.
- ``stagegate demo`` — apply the migrations and load the demo APIs into an empty database.
"""

from __future__ import annotations

import json
import os
import sys
from typing import NoReturn

import click
from flask.cli import FlaskGroup

from lifecycle import create_app, stages

EXIT_PASS, EXIT_BLOCKED, EXIT_UNCHECKABLE = 0, 1, 2


main = FlaskGroup(
    create_app=create_app,
    help="Stagegate: API lifecycle management with security gates.",
)


def _fail(message: str) -> NoReturn:
    click.echo(f"stagegate check: {message}", err=True)
    sys.exit(EXIT_UNCHECKABLE)


def _read(path: str, max_bytes: int) -> bytes:
    """The bytes of ``path`` (``-`` is stdin); exits 2 when unreadable or over ``max_bytes``."""
    try:
        if path == "-":
            raw = sys.stdin.buffer.read(max_bytes + 1)
            if len(raw) > max_bytes:
                _fail(f"-: the document is larger than the limit of {max_bytes} bytes "
                      "(--max-bytes).")
            return raw
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size > max_bytes:
                _fail(f"{path}: the document is {size} bytes; the limit is {max_bytes} bytes "
                      "(--max-bytes).")
            return fh.read(max_bytes + 1)
    except OSError as exc:
        _fail(f"{path}: cannot read: {exc.strerror or exc}")


@main.command("check", with_appcontext=False)
@click.argument("path", type=str)
@click.option("--stage", type=click.Choice(stages.STAGES[1:]), default=stages.DEPLOYMENT,
              show_default=True, help="The stage whose gate the document must pass.")
@click.option("--policy", "policy", default="default", show_default=True,
              help="Policy pack: a built-in name or a path to a YAML pack.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif"]), default="text",
              show_default=True, help="Report format on stdout.")
@click.option("--max-bytes", type=click.IntRange(min=1), default=None,
              help="Largest accepted document in bytes (default 25 MiB).")
def check_command(path: str, stage: str, policy: str, fmt: str, max_bytes: int | None) -> None:
    """Check the OpenAPI document at PATH (``-`` for stdin) against a stage's gate."""
    from policies.check import check_spec
    from policies.gate import decide
    from policies.packs import PackError, load_pack
    from policies.report import render_json, render_sarif, render_text
    from specs import LoadLimits, SpecLoadError

    limits = LoadLimits(max_bytes=max_bytes) if max_bytes else LoadLimits()
    try:
        pack = load_pack(policy)
    except PackError as exc:
        _fail(f"cannot load policy pack {policy!r}: {exc}")
    raw = _read(path, limits.max_bytes)
    try:
        result = check_spec(raw, limits)
    except SpecLoadError as exc:
        where = f"line {exc.line}" + (f", column {exc.column}" if exc.column else "") \
            if exc.line else ""
        _fail(f"{path}: {where + ': ' if where else ''}{exc.message}")
    if result.document.openapi_version is None:
        declared = result.document.declared_version
        _fail(
            f"{path}: not an OpenAPI document Stagegate can check "
            + (f"(declares version {declared!r}; " if declared else "(no 'openapi' or "
               "'swagger' member; ")
            + "expected Swagger 2.0 or OpenAPI 3.0, 3.1 or 3.2)."
        )
    decision = decide(pack, stage, result.findings)
    if fmt == "text":
        click.echo(render_text(result, decision, path=path))
    else:
        render = render_json if fmt == "json" else render_sarif
        click.echo(json.dumps(render(result, decision, path=path), indent=2, ensure_ascii=False))
    sys.exit(EXIT_PASS if decision.passed else EXIT_BLOCKED)


@main.command("demo")
def demo_command() -> None:
    """Apply the migrations and load demo APIs into an empty database."""
    import flask_migrate

    from lifecycle import demo

    flask_migrate.upgrade()  # the directory configured in create_app
    if demo.has_data():
        click.echo("The database already holds APIs; the demo loads only into an empty "
                   "database. Nothing was changed.")
        return
    outcomes = demo.load()
    click.echo(f"Loaded {len(outcomes)} demo API versions:")
    for out in outcomes:
        notes = f"  ({'; '.join(out.notes)})" if out.notes else ""
        click.echo(f"  {out.api:<16} {out.version:<14} {out.stage:<12}{notes}")

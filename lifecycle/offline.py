"""``stagegate check``: no Flask, no database, no app (issue 10).

The offline commands judge files alone: ``check`` (here), ``jwks check`` and ``token
inspect`` (:mod:`lifecycle.offline_evidence`), ``gateway render|check|prove``
(:mod:`lifecycle.gateway.cli`).  They live apart from :mod:`lifecycle.cli` (the
``FlaskGroup`` that builds the web app), so the console entry :mod:`lifecycle.console` runs
each importing only what it needs — not Flask, SQLAlchemy or the web app (about 1 s of
imports before reading a byte).  :mod:`lifecycle.cli` adds the same command objects to its
group, so ``lifecycle.cli:main`` offers them too.  Exit codes and outputs are documented in
:mod:`lifecycle.cli`.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import NoReturn
from urllib.parse import quote

import click

from lifecycle.catalog import stages
from policies.check import check_spec
from policies.gate import decide
from policies.packs import PackError, PolicyPack, load_pack
from policies.report import render_json, render_sarif, render_sarif_refusal, render_text
from policies.rules import Evidence, get_rule, has_rule
from specs import LoadLimits, SpecLoadError, too_large

EXIT_PASS, EXIT_BLOCKED, EXIT_UNCHECKABLE = 0, 1, 2


def _fail(message: str) -> NoReturn:
    click.echo(f"stagegate check: {message}", err=True)
    sys.exit(EXIT_UNCHECKABLE)


#: the CLI's own way to raise the size limit, in the ``too_large`` message
RAISE_LIMIT = "raise the limit with --max-bytes"


def _read(path: str, max_bytes: int) -> bytes:
    """The bytes of ``path`` (``-`` is stdin); exits 2 when unreadable.

    :raises SpecLoadError: ``too_large`` over ``max_bytes`` (the upload's wording; stdin is
        read no further than one byte over the limit).
    """
    try:
        if path == "-":
            raw = sys.stdin.buffer.read(max_bytes + 1)
            if len(raw) > max_bytes:
                raise too_large(None, max_bytes, RAISE_LIMIT)
            return raw
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size > max_bytes:
                raise too_large(size, max_bytes, RAISE_LIMIT)
            return fh.read(max_bytes + 1)
    except OSError as exc:
        _fail(f"{path}: cannot read: {exc.strerror or exc}")


def sarif_uri(path: str, cwd: Path | None = None) -> tuple[str, str | None]:
    """``(uri, base_uri)`` of the file ``path`` for a SARIF log: the percent-encoded path
    relative to ``cwd`` (default: the current folder — in CI the repository root) with
    ``base_uri`` the ``file:`` URI of ``cwd`` ending in ``/``; an absolute ``file:`` URI and
    ``None`` for a file outside ``cwd``; ``("-", None)`` for stdin."""
    if path == "-":
        return path, None
    here = Path(os.path.abspath(cwd or Path.cwd()))
    target = Path(os.path.abspath(path))
    try:
        relative = target.relative_to(here)
    except ValueError:
        return target.as_uri(), None
    return quote(relative.as_posix()), here.as_uri().rstrip("/") + "/"


def spec_part(pack: PolicyPack) -> PolicyPack:
    """``pack`` with every gate reduced to its spec rules: ``check`` judges a document alone;
    token and JWKS evidence are judged by ``token inspect`` / ``jwks check`` and, combined,
    by the server's gates."""


    def spec_only(ids: frozenset[str]) -> frozenset[str]:
        return frozenset(i for i in ids if has_rule(i) and get_rule(i).evidence == Evidence.SPEC)

    stages = {
        name: replace(policy, evidence=policy.evidence & {Evidence.SPEC},
                      rules=spec_only(policy.rules), require=spec_only(policy.require))
        for name, policy in pack.stages.items()
    }
    return replace(pack, stages=MappingProxyType(stages))


@click.command("check")
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

    limits = LoadLimits(max_bytes=max_bytes) if max_bytes else LoadLimits()
    try:
        pack = load_pack(policy)
    except PackError as exc:
        _fail(f"cannot load policy pack {policy!r}: {exc}")
    try:
        result = check_spec(_read(path, limits.max_bytes), limits)
    except SpecLoadError as exc:
        if fmt == "json":  # what REST answers to an upload of these bytes
            click.echo(json.dumps(exc.error_body(), indent=2, ensure_ascii=False))
        elif fmt == "sarif":  # a valid log saying why (a CI upload of an empty file fails)
            uri, base = sarif_uri(path)
            log = render_sarif_refusal(exc.message, exc.code, uri, line=exc.line,
                                       column=exc.column, base_uri=base)
            click.echo(json.dumps(log, indent=2, ensure_ascii=False))
        where = f"line {exc.line}" + (f", column {exc.column}" if exc.column else "") \
            if exc.line else ""
        _fail(f"{path}: {where + ': ' if where else ''}{exc.message}")
    # A document of no version Stagegate reads is judged like an upload: SPEC-VALID fails
    # where the version is (or is missing), and the report says so (exit 1, not 2).
    decision = decide(spec_part(pack), stage, result.findings)
    if fmt == "text":
        click.echo(render_text(result, decision, path=path))
    elif fmt == "json":
        click.echo(json.dumps(render_json(result, decision, path=path), indent=2,
                              ensure_ascii=False))
    else:
        uri, base = sarif_uri(path)
        click.echo(json.dumps(render_sarif(result, decision, path=uri, base_uri=base), indent=2,
                              ensure_ascii=False))
    sys.exit(EXIT_PASS if decision.passed else EXIT_BLOCKED)

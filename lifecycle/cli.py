"""The ``stagegate`` command (a Flask ``FlaskGroup``: ``run``, ``routes``, ``db …`` work too).

- ``stagegate check PATH [--stage STAGE] [--policy PACK] [--format text|json|sarif]`` —
  no server, no database, no app.  Exit 0: the document would pass the gate into STAGE;
  1: blocked; 2: the input could not be checked (unreadable, not a mapping, too large, unknown
  pack), with the reason on stderr — and, for a document that cannot be read, with
  ``--format json`` REST's answer to its upload on stdout (``{"error", "message",
  "details": {"code", "message", "line", "column"}}``).  A readable document of no version
  Stagegate reads is reported like its upload (``SPEC-VALID`` fails at its line; exit 1).
  The document alone is judged: the gate's token and JWKS rules are left out (see below).
  ``check``, ``jwks check``, ``token inspect`` and ``gateway …`` live in
  :mod:`lifecycle.offline` and :mod:`lifecycle.offline_evidence`; the console script
  (:mod:`lifecycle.console`) runs them without importing Flask or the database layer.
- ``stagegate demo`` — apply the migrations and load the demo APIs into an empty database.
- ``stagegate worker [--concurrency N]`` — run the job queue's worker (procrastinate) against
  the app's PostgreSQL database until interrupted; on SQLite the serving process runs jobs in
  a background thread and this command exits 2 with one line saying so.
- ``stagegate token inspect TOKEN|- --key FILE --issuer-jwks FILE [--spec FILE]
  [--format text|json|sarif]`` and ``stagegate jwks check FILE [--format ...]`` — offline
  analyses of a sample token and of a key set; same exit codes (0 pass, 1 blocked,
  2 unreadable input).  Tokens and key material are never printed.
- ``stagegate audit verify [--file EXPORT]`` (exit 0 intact, 1 broken: names the first
  broken entry), ``stagegate audit export [--since SEQ] [-o FILE]`` (JSON Lines) and
  ``stagegate verify-record FILE --jwks FILE`` (offline; 0 valid, 1 invalid, 2 unreadable).
"""

from __future__ import annotations

import json
import os
import sys
from typing import TextIO

import click
import flask_migrate
import sqlalchemy as sa
from flask.cli import FlaskGroup, ScriptInfo
from sqlalchemy.exc import SQLAlchemyError

from lifecycle import audit, demo, jobs
from lifecycle.accounts.services import user_by_email
from lifecycle.app import create_app
from lifecycle.core.actor import Actor, ActorKind
from lifecycle.core.crypto_store import KeyStoreError, current_kek
from lifecycle.core.errors import DomainError, KeyStoreUnavailable
from lifecycle.core.extensions import db
from lifecycle.demo.accounts import create_demo_users
from lifecycle.evidence.keys import export_for_gateway
from lifecycle.gateway.cli import gateway as offline_gateway_group
from lifecycle.gateway.serve import (
    DEFAULT_BIND,
    BindError,
    check_bind,
    check_socket_directory,
    serve_validator,
)
from lifecycle.gateway.service import ValidatorService, build_validator
from lifecycle.offline import EXIT_BLOCKED, EXIT_PASS, EXIT_UNCHECKABLE, check_command, spec_part
from lifecycle.offline_evidence import evidence_fail, jwks_group, read_small, token_group
from lifecycle.trust.records import JwksUnreadable, RecordInvalid, verify_record

__all__ = ["EXIT_BLOCKED", "EXIT_PASS", "EXIT_UNCHECKABLE", "main", "spec_part"]


def one_line(exc: BaseException) -> str:
    """The first line of an exception's message (SQLAlchemy appends the statement and a
    link; a CLI user needs the reason), at most 300 characters."""
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    if isinstance(exc, SQLAlchemyError) and getattr(exc, "orig", None) is not None:
        text = str(exc.orig) or text  # type: ignore[attr-defined]
    return str(text).strip().splitlines()[0][:300] if str(text).strip() else type(exc).__name__


class StagegateGroup(FlaskGroup):
    """The ``stagegate`` group: any error a command does not handle itself is one line on
    stderr (``stagegate: …``) and exit status 1 — never a Python traceback.  Click's own
    usage errors (exit 2) and a command's explicit exit statuses pass through unchanged.
    ``STAGEGATE_DEBUG=1`` re-raises, for developers who want the traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit,
                click.exceptions.Abort):
            raise
        except Exception as exc:
            if os.environ.get("STAGEGATE_DEBUG"):
                raise
            if isinstance(exc, DomainError | KeyStoreError):
                message = one_line(exc)
            elif isinstance(exc, SQLAlchemyError):
                message = f"database error: {one_line(exc)} (is DATABASE_URL right, and " \
                          "the schema current? stagegate db upgrade)"
            elif isinstance(exc, OSError):
                message = f"{exc.strerror or one_line(exc)}" + \
                    (f": {exc.filename}" if exc.filename else "")
            else:
                message = f"unexpected error ({type(exc).__name__}): {one_line(exc)} " \
                          "(STAGEGATE_DEBUG=1 shows the traceback)"
            click.echo(f"stagegate: {message}", err=True)
            ctx.exit(1)


main = StagegateGroup(
    create_app=create_app,
    help="Stagegate: API lifecycle management with security gates.",
    add_version_option=False,  # Flask's prints Python/Flask/Werkzeug versions
)
click.version_option(package_name="stagegate", prog_name="stagegate",
                     message="%(prog)s %(version)s")(main)
# the offline commands (lifecycle.offline, lifecycle.offline_evidence, lifecycle.gateway.cli;
# the console entry runs them without this group)
#: ``stagegate gateway``: the offline commands (render, check, prove) of
#: :mod:`lifecycle.gateway.cli` plus the server-side ``export-key`` (below) — a copy of that
#: group, so the offline group itself stays free of the app
gateway_group = click.Group("gateway", commands=dict(offline_gateway_group.commands),
                            help=offline_gateway_group.help)
for _offline_command in (check_command, jwks_group, token_group, gateway_group):
    main.add_command(_offline_command)


@main.command("demo")
def demo_command() -> None:
    """Apply the migrations and load demo APIs into an empty database."""
    try:
        current_kek()  # before anything is written: the demo signs gate records
    except KeyStoreError as exc:
        raise KeyStoreUnavailable(f"cannot load the demo: {exc.message}") from None
    flask_migrate.upgrade()  # the directory configured in create_app
    if demo.has_data():
        click.echo("The database already holds APIs; the demo loads only into an empty "
                   "database. Nothing was changed.")
        return
    outcomes = demo.load()
    click.echo(f"Loaded {len(outcomes)} demo API versions:")
    for out in outcomes:
        notes = f"  ({'; '.join(out.notes)})" if out.notes else ""
        gate = f"  {out.next_gate}" if out.next_gate else ""
        click.echo(f"  {out.api:<16} {out.version:<14} {out.stage:<12}{gate}{notes}")

    users = create_demo_users()
    if users:
        click.echo("Demo users (random passwords, shown only now; the approver and the admin "
                   "set up a second factor at their first sign-in):")
        for email, roles, password in users:
            click.echo(f"  {email:<26} {'+'.join(roles):<10} {password}")


@main.command("worker", with_appcontext=False)
@click.option("--concurrency", type=click.IntRange(1, 32), default=1, show_default=True,
              help="Jobs run at the same time by this worker.")
@click.pass_context
def worker_command(ctx: click.Context, concurrency: int) -> None:
    """Run queued jobs (large uploads' checks, …) until interrupted (PostgreSQL only).

    The worker uses the app's database (``DATABASE_URL``); start one or more next to the web
    workers.  Exit 2 on SQLite: there ``stagegate run`` runs jobs in a background thread.
    """
    flask_app = ctx.ensure_object(ScriptInfo).load_app()
    url = sa.make_url(str(flask_app.config["SQLALCHEMY_DATABASE_URI"]))
    if url.get_backend_name() != "postgresql":
        click.echo(f"stagegate worker: needs PostgreSQL (the database is "
                   f"{url.get_backend_name()}); on SQLite `stagegate run` runs jobs itself.",
                   err=True)
        sys.exit(EXIT_UNCHECKABLE)
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    click.echo(f"stagegate worker: running jobs from {url.render_as_string(hide_password=True)}"
               f" (concurrency {concurrency}); Ctrl-C stops it.", err=True)
    jobs.serve_worker(flask_app, conninfo=conninfo, concurrency=concurrency)


# ------------------------------------------------------------------ audit trail and gate records
EXIT_INTACT, EXIT_BROKEN = 0, 1


@main.group("audit")
def audit_group() -> None:
    """Verify and export the tamper-evident audit trail (docs/audit.md)."""


def _app_context(ctx: click.Context):  # type: ignore[no-untyped-def]

    return ctx.ensure_object(ScriptInfo).load_app().app_context()


def _jsonl_entries(path: str) -> list[dict[str, object]]:
    """The entries of a JSON Lines export; exits 2 when the file cannot be read or a line is
    not a JSON object."""
    raw = read_small("audit verify", path, "export", 1024 * 1024 * 1024)
    entries = []
    for number, line in enumerate(raw.decode("utf-8", "replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            evidence_fail("audit verify", f"{path}: line {number} is not JSON.")
        if not isinstance(entry, dict):
            evidence_fail("audit verify", f"{path}: line {number} is not a JSON object.")
        entries.append(entry)
    return entries


@audit_group.command("verify", with_appcontext=False)
@click.option("--file", "path", default=None,
              help="Verify a JSON Lines export (offline) instead of the database. An export "
                   "that starts after entry 1 is checked from its first entry on.")
@click.pass_context
def audit_verify_command(ctx: click.Context, path: str | None) -> None:
    """Recompute the audit trail's hash chain.

    Exit 0: intact; 1: an entry was edited, deleted or inserted (the first broken entry is
    named, with what mismatched); 2: the export file cannot be read.
    """

    if path is not None:
        entries = _jsonl_entries(path)
        start = (0, audit.GENESIS)
        first = entries[0] if entries else None
        seq = first.get("seq") if first is not None else None
        if first is not None and isinstance(seq, int) and seq > 1:
            start = (seq - 1, str(first.get("prev_hash")))
            click.echo(f"note: the export starts at entry {first['seq']}; entries before it "
                       "are not checked.")
        result = audit.verify_chain(entries, start=start)
    else:
        with _app_context(ctx):
            result = audit.verify()
    if result.ok:
        click.echo(f"audit trail intact: {result.entries} entries checked; head entry "
                   f"{result.head_seq}, hash {result.head_hash}")
        sys.exit(EXIT_INTACT)
    click.echo(f"audit trail BROKEN at entry {result.broken_seq}: {result.problem}")
    click.echo(f"entries up to {result.head_seq} are intact (hash {result.head_hash}).")
    sys.exit(EXIT_BROKEN)


@audit_group.command("export", with_appcontext=False)
@click.option("--since", "since", type=click.IntRange(min=0), default=0, show_default=True,
              help="Export the entries after sequence number SEQ (SEQ itself excluded), e.g. "
                   "the last one an earlier export holds.", metavar="SEQ")
@click.option("--output", "-o", type=click.File("w", encoding="utf-8", lazy=True),
              default="-", help="Write to this file instead of stdout.")
@click.pass_context
def audit_export_command(ctx: click.Context, since: int, output: TextIO) -> None:
    """Write the audit trail as JSON Lines, one canonical JSON entry per line, in order."""

    with _app_context(ctx):
        for line in audit.export_lines(audit.AuditQuery(after=since)):
            output.write(line)


@main.command("verify-record", with_appcontext=False)
@click.argument("path", type=str)
@click.option("--jwks", "jwks_path", required=True,
              help="Stagegate's published signing keys (GET /api/v1/signing-keys.json).")
def verify_record_command(path: str, jwks_path: str) -> None:
    """Verify a downloaded gate record (a compact JWS; ``-`` reads stdin) offline.

    Exit 0: the signature verifies (the record is printed); 1: it does not (tampered, wrong
    algorithm or type, or signed by a key not in the JWKS); 2: a file cannot be read or the
    JWKS is not a JWK Set.
    """

    raw = read_small("verify-record", path, "record", 4 * 1024 * 1024)
    jwks = read_small("verify-record", jwks_path, "JWKS", 256 * 1024)
    try:
        verified = verify_record(raw, jwks)
    except JwksUnreadable as exc:
        evidence_fail("verify-record", f"{jwks_path}: {exc}")
    except RecordInvalid as exc:
        click.echo(f"INVALID: {path}: {exc.reason}")
        sys.exit(EXIT_BROKEN)
    click.echo(f"VALID: {path}: signature verified (ES256).")
    for line in verified.summary():
        click.echo(line)
    sys.exit(EXIT_INTACT)


@gateway_group.command("export-key")
@click.option("--api", "api_name", required=True, help="The API's name.")
@click.option("--version", "api_version", required=True, help="The version.")
@click.option("--out", "out_path", required=True,
              help="The key file to create (mode 0600; an existing file is never replaced).")
@click.option("--admin", "admin_email", required=True,
              help="Your admin account's email: the export is audited under it.")
@click.pass_context
def gateway_export_key_command(ctx: click.Context, api_name: str, api_version: str,
                               out_path: str, admin_email: str) -> None:
    """Export a version's private decryption keys for an NGINX Plus gateway
    (``auth_jwt_key_file``): admin only, audited, written to a new file with mode 0600 and
    never printed.  Open-source nginx + the validator never needs this."""
    with _app_context(ctx):
        user = user_by_email(admin_email)
        if user is None or not user.active or "admin" not in (user.roles or []):
            evidence_fail("gateway export-key", f"{admin_email} is not an active admin.")
        try:
            text = export_for_gateway(api_name, api_version,
                                      Actor.of_user(user, kind=ActorKind.CLI))
        except DomainError as exc:
            evidence_fail("gateway export-key", exc.message)
        try:
            fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            evidence_fail("gateway export-key",
                           f"{out_path}: cannot create the key file: {exc.strerror or exc}")
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, text.encode("utf-8"))
        finally:
            os.close(fd)
        del text
        db.session.commit()  # the audit entry
    click.echo(f"Wrote the decryption keys of {api_name}@{api_version} to {out_path} "
               "(mode 0600). Keep it on the gateway host only.")


@main.command("validator", with_appcontext=False)
@click.option("--bind", default=DEFAULT_BIND, show_default=True,
              help="unix:/path/to.sock (mode 0660) or a loopback HOST:PORT (127.0.0.1:9100).")
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Worker processes (default: the number of CPUs, at most 8).")
@click.option("--threads", type=click.IntRange(1, 64), default=4, show_default=True,
              help="Threads per worker (more than 1: gunicorn's gthread workers, which keep "
                   "nginx's connections open; 1: sync workers, a connection per request).")
@click.option("--replay-uri", default=None,
              help="Redis URI of the shared replay store (default: VALIDATOR_REPLAY_URI, "
                   "else the database).")
@click.option("--allow-remote", is_flag=True, default=False,
              help="Allow a non-loopback TCP address (the gateway on another host).")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]),
              default="info", show_default=True)
def validator_command(bind: str, workers: int | None, threads: int, replay_uri: str | None,
                      allow_remote: bool, log_level: str) -> None:
    """Serve the token validator that nginx asks through auth_request (gunicorn).

    It answers 204 with the verified identity or 401 with the deny rule, records every
    decision in the database (never the token), and keeps replay state in the database or
    Redis. Stop it with SIGTERM (queued decisions are written).
    """

    try:
        checked = check_bind(bind, allow_remote=allow_remote)
        check_socket_directory(checked)
    except BindError as exc:
        click.echo(f"stagegate validator: {exc}", err=True)
        sys.exit(EXIT_UNCHECKABLE)
    def factory() -> ValidatorService:
        return build_validator(create_app(), replay_uri=replay_uri)

    serve_validator(factory, bind=checked, workers=workers or min(os.cpu_count() or 1, 8),
                    threads=threads, log_level=log_level)

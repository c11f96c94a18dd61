"""The ``stagegate`` command (a Flask ``FlaskGroup``: ``run``, ``routes``, ``db …`` work too).

- ``stagegate check PATH [--stage STAGE] [--policy PACK] [--format text|json|sarif]`` —
  no server, no database, no app.  Exit 0: the document would pass the gate into STAGE;
  1: blocked; 2: the input could not be checked (unreadable, not OpenAPI, too large, unknown
  pack), with the reason on stderr.
  The document alone is judged: the gate's token and JWKS rules are left out (see below).
- ``stagegate demo`` — apply the migrations and load the demo APIs into an empty database.
- ``stagegate token inspect TOKEN|- --key FILE --issuer-jwks FILE [--spec FILE]
  [--format text|json|sarif]`` and ``stagegate jwks check FILE [--format ...]`` — offline
  analyses of a sample token and of a key set; same exit codes (0 pass, 1 blocked,
  2 unreadable input).  Tokens and key material are never printed.
- ``stagegate validator [--bind unix:/run/stagegate/validator.sock | 127.0.0.1:9100]
  [--workers N] [--threads N] [--replay-uri redis://…] [--single-use API/VERSION]`` — serve
  the token validator (nginx ``auth_request``) with gunicorn over the database
  (``docs/gateway-validator.md``).
- ``stagegate audit verify [--file EXPORT]`` (exit 0 intact, 1 broken: names the first
  broken entry), ``stagegate audit export [--since SEQ] [-o FILE]`` (JSON Lines) and
  ``stagegate verify-record FILE --jwks FILE`` (offline; 0 valid, 1 invalid, 2 unreadable).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import replace
from types import MappingProxyType
from typing import NoReturn

import click
import flask_migrate
from flask.cli import FlaskGroup, ScriptInfo

from lifecycle import audit, demo
from lifecycle.app import create_app
from lifecycle.catalog import stages
from lifecycle.catalog.token_profile import extension_of
from lifecycle.demo.accounts import create_demo_users
from lifecycle.gateway.cli import gateway
from lifecycle.gateway.serve import BindError, check_bind, serve_validator
from lifecycle.gateway.service import ValidatorService, build_validator
from lifecycle.trust.records import JwksUnreadable, RecordInvalid, verify_record
from policies.check import check_spec
from policies.gate import decide
from policies.keys import check_jwks, public_key_set
from policies.packs import PackError, PolicyPack, load_pack
from policies.report import (
    render_evidence_json,
    render_evidence_sarif,
    render_evidence_text,
    render_json,
    render_sarif,
    render_text,
)
from policies.rules import Evidence, get_rule, has_rule
from policies.tokens import KeyFileError, TokenProfile, check_token, load_decryption_keys
from specs import LoadLimits, SpecLoadError

EXIT_PASS, EXIT_BLOCKED, EXIT_UNCHECKABLE = 0, 1, 2


main = FlaskGroup(
    create_app=create_app,
    help="Stagegate: API lifecycle management with security gates.",
)
main.add_command(gateway)  # offline: render, check, prove (no app, no database)


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
    decision = decide(spec_part(pack), stage, result.findings)
    if fmt == "text":
        click.echo(render_text(result, decision, path=path))
    else:
        render = render_json if fmt == "json" else render_sarif
        click.echo(json.dumps(render(result, decision, path=path), indent=2, ensure_ascii=False))
    sys.exit(EXIT_PASS if decision.passed else EXIT_BLOCKED)


@main.command("demo")
def demo_command() -> None:
    """Apply the migrations and load demo APIs into an empty database."""


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


# ------------------------------------------------------------------ token and JWKS evidence
FORMATS = click.Choice(["text", "json", "sarif"])


def _evidence_fail(command: str, message: str) -> NoReturn:
    click.echo(f"stagegate {command}: {message}", err=True)
    sys.exit(EXIT_UNCHECKABLE)


def _read_small(command: str, path: str, what: str, limit: int = 1024 * 1024) -> bytes:
    """The bytes of a small input file (``-`` is stdin); exits 2 when unreadable."""
    try:
        if path == "-":
            raw = sys.stdin.buffer.read(limit + 1)
        else:
            with open(path, "rb") as fh:
                raw = fh.read(limit + 1)
    except OSError as exc:
        _evidence_fail(command, f"{path}: cannot read the {what}: {exc.strerror or exc}")
    if len(raw) > limit:
        _evidence_fail(command, f"{path}: the {what} is larger than {limit} bytes.")
    return raw


def _emit(fmt: str, text: str, data: dict[str, object], sarif: dict[str, object]) -> None:
    if fmt == "text":
        click.echo(text, nl=False)
    else:
        click.echo(json.dumps(data if fmt == "json" else sarif, indent=2, ensure_ascii=False))


@main.group("jwks")
def jwks_group() -> None:
    """Check JSON Web Key Sets (offline; no server, no database)."""


@jwks_group.command("check", with_appcontext=False)
@click.argument("path", type=str)
@click.option("--purpose", type=click.Choice(["issuer-signing", "api-encryption", "any"]),
              default="issuer-signing", show_default=True,
              help="What every key of the set must be for.")
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True,
              help="Report format on stdout.")
def jwks_check_command(path: str, purpose: str, fmt: str) -> None:
    """Check the JWKS at PATH (``-`` for stdin) against the KEY rules.

    Exit 0: the set passes; 1: findings block; 2: the file cannot be read or is not a
    JWK Set.  Key material is never printed.
    """

    raw = _read_small("jwks check", path, "JWKS", 256 * 1024)
    analysis = check_jwks(raw, purpose=None if purpose == "any" else purpose)  # type: ignore[arg-type]
    if not analysis.keys:
        reason = next((f.message for f in analysis.findings if f.status.blocks),
                      "not a JWK Set.")
        _evidence_fail("jwks check", f"{path}: {reason}")
    summary = [f"key {k.index}: {k.kty} {k.crv or (str(k.size) + ' bits' if k.size else '')}"
               f" kid={k.kid!r} use={k.use!r} alg={k.alg!r}" for k in analysis.keys]
    _emit(fmt,
          render_evidence_text("JWKS", path, analysis.findings, analysis.passed, summary),
          render_evidence_json("jwks", {"path": path, "keys": [k.to_dict() for k in
                                                               analysis.keys]},
                               analysis.findings, analysis.passed),
          render_evidence_sarif(path, analysis.findings, analysis.passed))
    sys.exit(EXIT_PASS if analysis.passed else EXIT_BLOCKED)


@main.group("token")
def token_group() -> None:
    """Inspect sample access tokens (offline; no server, no database)."""


def _decryption_keys(raw: bytes, path: str, alg: str | None, kid: str | None) -> list[object]:
    """The decryption key(s) of a private JWK, a JWKS, a PEM file or a symmetric ``oct``
    JWK (:func:`policies.tokens.load_decryption_keys`); exits 2 with the reason when the file
    holds none."""
    try:
        return list(load_decryption_keys(raw, alg=alg, kid=kid))
    except KeyFileError as exc:
        _evidence_fail("token inspect", f"{path}: {exc}.")


@token_group.command("inspect", with_appcontext=False)
@click.argument("token", type=str)
@click.option("--key", "key_path", required=True,
              help="The API's private decryption key: a JWK, a JWKS or a PEM file.")
@click.option("--issuer-jwks", "jwks_path", required=True,
              help="The issuer's public signing JWKS (a file).")
@click.option("--spec", "spec_path", default=None,
              help="The OpenAPI document whose x-token-encryption profile the token must "
                   "match (without it, issuer/audience checks lack evidence and block).")
@click.option("--key-alg", default=None,
              help="`alg` of a key file that declares none (PEM); default the spec's alg.")
@click.option("--key-kid", default=None,
              help="`kid` for the key (PEM default: its RFC 7638 thumbprint).")
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True,
              help="Report format on stdout.")
def token_inspect_command(token: str, key_path: str, jwks_path: str, spec_path: str | None,
                          key_alg: str | None, key_kid: str | None, fmt: str) -> None:
    """Analyse the nested access token TOKEN (``-``: read it from stdin, which keeps it out
    of the process list) against the TOK, JWE, JWS, HDR and CLM rules.

    Exit 0: the token passes; 1: findings block; 2: an input cannot be read.  The token and
    key material are never printed; the report names the token by its SHA-256 fingerprint.
    """

    if token == "-":
        token = _read_small("token inspect", "-", "token", 64 * 1024).decode("utf-8",
                                                                              "replace")
    token = token.strip()
    if token[:7].lower() == "bearer ":
        token = token[7:].strip()
    if not token:
        _evidence_fail("token inspect", "no token given.")
    ext = None
    if spec_path is not None:
        ext = extension_of(_read_small("token inspect", spec_path, "spec", 25 * 1024 * 1024))
        if ext is None:
            _evidence_fail("token inspect", f"{spec_path}: not an OpenAPI document with an "
                           "x-token-encryption profile on a bearer scheme.")
    profile = TokenProfile.from_extension(ext)
    keys = _decryption_keys(_read_small("token inspect", key_path, "key"), key_path,
                            key_alg or profile.alg, key_kid)
    raw_jwks = _read_small("token inspect", jwks_path, "issuer JWKS", 256 * 1024)
    if not check_jwks(raw_jwks).keys:
        _evidence_fail("token inspect", f"{jwks_path}: not a JWK Set.")
    analysis = check_token(token, decryption_keys=keys, issuer_jwks=public_key_set(raw_jwks),
                           profile=profile)
    del token, keys
    subject = {k: v for k, v in analysis.to_dict().items() if k not in ("findings", "passed")}
    details = [f"fingerprint (SHA-256): {analysis.fingerprint}",
               f"outer header: {json.dumps(analysis.outer_header)}",
               f"inner header: {json.dumps(analysis.inner_header)}",
               f"claims: {json.dumps(analysis.claims)}",
               f"lifetime: {analysis.lifetime} s" if analysis.lifetime is not None
               else "lifetime: unknown"]
    if analysis.not_evaluated:
        details.append(f"not evaluated: {', '.join(analysis.not_evaluated)}")
    name = f"sha256:{analysis.fingerprint[:16]}"
    _emit(fmt, render_evidence_text("token", name, analysis.findings, analysis.passed,
                                    details),
          render_evidence_json("token", subject, analysis.findings, analysis.passed),
          render_evidence_sarif(name, analysis.findings, analysis.passed,
                                {"fingerprint": analysis.fingerprint}))
    sys.exit(EXIT_PASS if analysis.passed else EXIT_BLOCKED)


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
    raw = _read_small("audit verify", path, "export", 1024 * 1024 * 1024)
    entries = []
    for number, line in enumerate(raw.decode("utf-8", "replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            _evidence_fail("audit verify", f"{path}: line {number} is not JSON.")
        if not isinstance(entry, dict):
            _evidence_fail("audit verify", f"{path}: line {number} is not a JSON object.")
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
        if first is not None and isinstance(first.get("seq"), int) and first["seq"] > 1:
            start = (first["seq"] - 1, str(first.get("prev_hash")))
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
def audit_export_command(ctx: click.Context, since: int, output: click.utils.LazyFile) -> None:
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

    raw = _read_small("verify-record", path, "record", 4 * 1024 * 1024)
    jwks = _read_small("verify-record", jwks_path, "JWKS", 256 * 1024)
    try:
        verified = verify_record(raw, jwks)
    except JwksUnreadable as exc:
        _evidence_fail("verify-record", f"{jwks_path}: {exc}")
    except RecordInvalid as exc:
        click.echo(f"INVALID: {path}: {exc.reason}")
        sys.exit(EXIT_BROKEN)
    click.echo(f"VALID: {path}: signature verified (ES256).")
    for line in verified.summary():
        click.echo(line)
    sys.exit(EXIT_INTACT)


@main.command("validator", with_appcontext=False)
@click.option("--bind", default="127.0.0.1:9100", show_default=True,
              help="unix:/run/stagegate/validator.sock or a loopback HOST:PORT.")
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Worker processes (default: the number of CPUs, at most 8).")
@click.option("--threads", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Threads per worker (more than 1: gunicorn's gthread workers).")
@click.option("--replay-uri", default=None,
              help="Redis URI of the shared replay store (default: VALIDATOR_REPLAY_URI, "
                   "else the database).")
@click.option("--single-use", "single_use", multiple=True, metavar="API/VERSION",
              help="A version whose tokens are single use (repeatable; * for all; default: "
                   "VALIDATOR_SINGLE_USE).")
@click.option("--allow-remote", is_flag=True, default=False,
              help="Allow a non-loopback TCP address (the gateway on another host).")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]),
              default="info", show_default=True)
def validator_command(bind: str, workers: int | None, threads: int, replay_uri: str | None,
                      single_use: tuple[str, ...], allow_remote: bool, log_level: str) -> None:
    """Serve the token validator that nginx asks through auth_request (gunicorn).

    It answers 204 with the verified identity or 401 with the deny rule, records every
    decision in the database (never the token), and keeps replay state in the database or
    Redis. Stop it with SIGTERM (queued decisions are written).
    """

    try:
        checked = check_bind(bind, allow_remote=allow_remote)
    except BindError as exc:
        click.echo(f"stagegate validator: {exc}", err=True)
        sys.exit(EXIT_UNCHECKABLE)
    chosen = single_use or None

    def factory() -> ValidatorService:
        return build_validator(create_app(), replay_uri=replay_uri, single_use=chosen)

    serve_validator(factory, bind=checked, workers=workers or min(os.cpu_count() or 1, 8),
                    threads=threads, log_level=log_level)

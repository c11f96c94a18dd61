"""``stagegate gateway render|check|prove``: the offline gateway commands for pipelines.

A plain :class:`click.Group` (not Flask's): no app, no server, no database.  The main CLI
registers it at merge with ``main.add_command(gateway)`` (``lifecycle/cli.py``).

* ``render`` — the nginx configuration of one API version from its OpenAPI document (token
  profile from ``x-token-encryption``, base paths from ``servers``) and deployment settings.
  Exit 0: written; 2: the spec cannot be read or declares no profile, a setting is not safe
  in nginx syntax, or ``--target nginx-plus`` cannot enforce the profile (ECDH-ES*).
* ``check`` — static verification of any nginx configuration (one file or a bundle of
  includes) with :func:`policies.gateway.check_nginx`, judged by :data:`GATEWAY_GATE`.
  Exit 0: no blocking finding; 1: blocked; 2: a file cannot be read, or nothing of the
  configuration could be parsed.
* ``prove`` — :func:`lifecycle.gateway.proof.run_proof` with a real nginx, the validator on
  ephemeral keys for the spec's profile and the attack matrix.  Exit 0: every case passed;
  1: a case failed (or a credential reached a log); 2: the proof could not run (nginx
  missing, ``nginx -t`` failed — nginx's own error line is shown).

Errors are one line on stderr (``stagegate gateway <command>: <message>``); reports go to
stdout.  Bundle files are named relative to the folder of the first FILE; nothing outside
the given files is read (``include`` is resolved only inside the bundle).
"""

from __future__ import annotations

import functools
import json
import os
import re
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any, NoReturn

import click

from lifecycle.gateway.nginx import default_nginx
from lifecycle.gateway.proof import ProofResult, format_table, run_proof
from lifecycle.gateway.render import (
    CapabilityError,
    Deprecation,
    GatewaySettings,
    SettingsError,
    base_paths_from_spec,
    render_nginx,
    render_nginx_plus,
)
from lifecycle.gateway.serve import DEFAULT_BIND
from policies.findings import Status
from policies.gate import GateDecision, decide
from policies.gateway import GATEWAY_RULE_IDS, GatewayCheck, check_nginx
from policies.packs import PolicyPack, parse_pack
from policies.report import (
    BUNDLE_BASE_ID,
    render_gateway_json,
    render_gateway_sarif,
    render_gateway_text,
    render_sarif_refusal,
)
from policies.spec_rules import declared_profile
from policies.tokens import TokenProfile
from specs import LoadLimits, SpecLoadError, load_document
from specs.index import SpecIndex

__all__ = ["EXIT_BLOCKED", "EXIT_PASS", "EXIT_UNCHECKABLE", "GATEWAY_GATE", "gateway",
           "gateway_pack", "read_bundle"]

EXIT_PASS, EXIT_BLOCKED, EXIT_UNCHECKABLE = 0, 1, 2

#: The gate ``gateway check`` applies (YAML of a policy pack): the deployment gate
#: ``docs/gateway-check.md`` proposes for the default pack — GW-ENFORCES-TOKEN and
#: GW-NO-EARLY-ANSWER must pass and a failed rule of medium severity or worse blocks (today
#: every gateway rule is medium or worse, so any failure blocks).  The rules are listed by id
#: (exactly those :func:`~policies.gateway.check_nginx` evaluates) rather than by evidence
#: kind, so a later gateway rule judged elsewhere (the proof) is not "missing evidence" here.
GATEWAY_GATE = f"""\
name: gateway-check
description: >-
  stagegate gateway check: the nginx configuration part of the deployment gate.
stages:
  development: {{block_on: null}}
  testing: {{block_on: null}}
  deployment:
    apply:
      rules: [{", ".join(GATEWAY_RULE_IDS)}]
    require: [GW-ENFORCES-TOKEN, GW-NO-EARLY-ANSWER]
    block_on: medium
    approvals: 0
  retirement: {{block_on: null}}
""".encode()
#: Largest file read for a bundle (check_nginx refuses bundles over 1 MiB as a whole).
MAX_FILE_BYTES = 1024 * 1024
#: Largest OpenAPI document read.
MAX_SPEC_BYTES = LoadLimits().max_bytes
FORMATS = click.Choice(["text", "json", "sarif"])
_NGINX_ERROR = re.compile(r"\[(?:emerg|alert|crit|error)\]")
_PROOF_PREFIX = re.compile(r"/\S*?/stagegate-proof-[^/\s]+/conf/")


@functools.cache
def gateway_pack() -> PolicyPack:
    """:data:`GATEWAY_GATE` as a :class:`~policies.packs.PolicyPack` (its SHA-256 is
    recorded in every report)."""
    return parse_pack(GATEWAY_GATE, source="<stagegate gateway check>")


def _fail(command: str, message: str) -> NoReturn:
    click.echo(f"stagegate gateway {command}: {message}", err=True)
    sys.exit(EXIT_UNCHECKABLE)


def _read(command: str, path: str, what: str, limit: int) -> bytes:
    """The bytes of ``path``; exits 2 (one line) when unreadable or larger than ``limit``."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(limit + 1)
    except OSError as exc:
        _fail(command, f"{path}: cannot read the {what}: {exc.strerror or exc}")
    if len(raw) > limit:
        _fail(command, f"{path}: the {what} is larger than {limit} bytes.")
    return raw


def read_bundle(command: str, paths: Sequence[str],
                entry: str | None) -> tuple[dict[str, bytes], str, dict[str, str], Path]:
    """Read FILE… into a bundle.

    :param paths: the files as given; bundle names are relative to the first one's folder.
    :param entry: the entry's bundle name, default the first file's.
    :returns: ``(bundle path → bytes, entry, bundle path → path as given, bundle folder)``.
    Exits 2 with one line when a file is unreadable, over 1 MiB, outside the first file's
    folder, given twice, or the entry is not among the files.
    """
    base = Path(os.path.dirname(os.path.abspath(paths[0])))
    files: dict[str, bytes] = {}
    shown: dict[str, str] = {}
    for path in paths:
        absolute = Path(os.path.abspath(path))
        if not absolute.is_relative_to(base):
            _fail(command, f"{path}: every file of a bundle must be inside the folder of the "
                  f"first file ({paths[0]}).")
        name = absolute.relative_to(base).as_posix()
        if name in files:
            _fail(command, f"{path}: given twice.")
        files[name] = _read(command, path, "nginx configuration", MAX_FILE_BYTES)
        shown[name] = path
    entry_name = entry if entry is not None else next(iter(files))
    if entry_name not in files:
        _fail(command, f"--entry {entry_name!r} is not one of the files (bundle names: "
              f"{', '.join(files)}).")
    return files, entry_name, shown, base


def _profile(command: str, spec_path: str) -> tuple[TokenProfile, SpecIndex]:
    """The spec's declared token profile and index; exits 2 when there is none."""
    raw = _read(command, spec_path, "OpenAPI document", MAX_SPEC_BYTES)
    try:
        index = SpecIndex(load_document(raw))
        ext = declared_profile(index)
    except SpecLoadError as exc:
        where = f"line {exc.line}: " if exc.line else ""
        _fail(command, f"{spec_path}: {where}{exc.message}")
    except (RecursionError, ValueError, TypeError) as exc:
        _fail(command, f"{spec_path}: cannot read the OpenAPI document: {exc}")
    if ext is None:
        _fail(command, f"{spec_path}: no bearer security scheme declares an "
              "x-token-encryption profile.")
    return TokenProfile.from_extension(ext), index


@click.group("gateway")
def gateway() -> None:
    """Generate, verify and prove nginx gateway configurations (offline; no server, no
    database)."""


# ---------------------------------------------------------------------------- render
def _moment(command: str, option: str, value: str | None) -> datetime | None:
    """An ISO 8601 date or date-time (UTC when it names no zone); exits 2 when invalid."""
    if value is None:
        return None
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(), UTC)
        moment = datetime.fromisoformat(value)
    except ValueError:
        _fail(command, f"{option} {value!r} is not an ISO 8601 date or date-time.")
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@gateway.command("render")
@click.option("--spec", "spec_path", required=True,
              help="The version's OpenAPI document (x-token-encryption profile, servers).")
@click.option("--api-version", required=True, help="'<api>/<version>', e.g. payments/1.0.0.")
@click.option("--server-name", required=True, help="The API host name (TLS server_name).")
@click.option("--upstream", required=True, help="Backend origin http(s)://host[:port].")
@click.option("--certificate", required=True, help="Absolute path of the PEM chain.")
@click.option("--certificate-key", required=True, help="Absolute path of its key.")
@click.option("--validator", default=DEFAULT_BIND, show_default=True,
              help="The token validator: unix:/path.sock or host:port (nginx target only).")
@click.option("--target", type=click.Choice(["nginx", "nginx-plus"]), default="nginx",
              show_default=True, help="Open-source nginx + validator, or NGINX Plus.")
@click.option("--deprecated-at", default=None, help="Deprecation date (ISO 8601; RFC 9745).")
@click.option("--sunset-at", default=None,
              help="Sunset date (ISO 8601; RFC 8594); after it the API answers 410.")
@click.option("--successor-url", default=None, help="https URL of the successor version.")
@click.option("--policy-url", default=None, help="https URL of the deprecation policy.")
@click.option("--log-dir", default="/var/log/nginx", show_default=True,
              help="Directory of the JSON access logs.")
@click.option("--upstream-ca", default="/etc/ssl/certs/ca-certificates.crt", show_default=True,
              help="CA bundle that verifies an https upstream.")
@click.option("--decryption-keys-file", default=None,
              help="nginx-plus: the exported decryption JWKS on the gateway.")
@click.option("--issuer-keys-file", default=None,
              help="nginx-plus: the issuer's signing JWKS on the gateway.")
@click.option("--output", "-o", default=None, help="Write here instead of stdout.")
def render_command(spec_path: str, api_version: str, server_name: str, upstream: str,
                   certificate: str, certificate_key: str, validator: str, target: str,
                   deprecated_at: str | None, sunset_at: str | None,
                   successor_url: str | None, policy_url: str | None, log_dir: str,
                   upstream_ca: str, decryption_keys_file: str | None,
                   issuer_keys_file: str | None, output: str | None) -> None:
    """Render the nginx configuration of one API version.

    Exit 0: written; 2: the spec cannot be read or declares no profile, a setting is not
    allowed, or the target cannot enforce the profile (NGINX Plus and ECDH-ES*).
    """
    command = "render"
    profile, index = _profile(command, spec_path)
    deprecated = _moment(command, "--deprecated-at", deprecated_at)
    sunset = _moment(command, "--sunset-at", sunset_at)
    if deprecated is None and (sunset or successor_url or policy_url):
        _fail(command, "--sunset-at, --successor-url and --policy-url need --deprecated-at.")
    deprecation = Deprecation(deprecated, sunset, successor_url, policy_url) \
        if deprecated is not None else None
    try:
        settings = GatewaySettings(
            server_name=server_name, upstream=upstream, certificate=certificate,
            certificate_key=certificate_key, validator=validator.removeprefix("unix:"),
            api_version=api_version, base_paths=base_paths_from_spec(index),
            log_dir=log_dir, upstream_ca=upstream_ca, deprecation=deprecation,
            decryption_keys_file=decryption_keys_file, issuer_keys_file=issuer_keys_file)
        now = datetime.now(UTC)
        text = render_nginx(settings, profile, now=now) if target == "nginx" \
            else render_nginx_plus(settings, profile, now=now)
    except (SettingsError, CapabilityError) as exc:
        _fail(command, str(exc))
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as exc:
        _fail(command, f"{output}: cannot write: {exc.strerror or exc}")
    click.echo(f"wrote {output} ({target}, {api_version}, base paths "
               f"{' '.join(settings.base_paths)})", err=True)


# ---------------------------------------------------------------------------- check
def unreadable(check: GatewayCheck) -> str | None:
    """Why nothing of the configuration could be checked (the first GW-CONFIG-VALID
    failure, ``file:line: message``), or ``None`` when the rules were evaluated."""
    evaluated = any(f.status is not Status.ERROR for f in check.findings
                    if f.rule_id not in ("GW-CONFIG-VALID", "GW-CONFIG-SELF-CONTAINED"))
    if evaluated:
        return None
    first = next((f for f in check.findings if f.rule_id == "GW-CONFIG-VALID"
                  and f.status.blocks), None)
    if first is None:
        return "the configuration could not be read."
    if first.file is None or first.file in first.message:
        return first.message
    return f"{first.file}{f':{first.line}' if first.line else ''}: {first.message}"


def judge(check: GatewayCheck) -> GateDecision:
    """The :data:`GATEWAY_GATE` decision over ``check``'s findings."""
    return decide(gateway_pack(), "deployment", check.findings)


@gateway.command("check")
@click.argument("files", nargs=-1, required=True, type=str)
@click.option("--entry", default=None,
              help="The main file's bundle name (default: the first FILE).")
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True,
              help="Report format on stdout.")
def check_command(files: tuple[str, ...], entry: str | None, fmt: str) -> None:
    """Verify an nginx configuration: FILE, or a bundle (the entry and its includes, named
    relative to the first FILE's folder) against the gateway rules.

    Exit 0: no blocking finding; 1: blocked (the report names rule, file:line and the fix);
    2: a file cannot be read or nothing of the configuration can be parsed.
    """
    bundle, entry_name, shown, base = read_bundle("check", files, entry)
    result = check_nginx(bundle, entry=entry_name)
    reason = unreadable(result)
    if reason is not None:
        if fmt == "sarif":  # a valid log saying why (a CI upload of an empty file fails)
            log = render_sarif_refusal(reason, "unparsable", entry_name,
                                       base_uri=base.as_uri() + "/", base_id=BUNDLE_BASE_ID)
            click.echo(json.dumps(log, indent=2, ensure_ascii=False))
        _fail("check", reason)
    decision = judge(result)
    if fmt == "text":
        click.echo(render_gateway_text(result, decision, shown), nl=False)
    else:
        data: dict[str, Any] = render_gateway_json(result, decision) if fmt == "json" else \
            render_gateway_sarif(result, decision, bundle, base.as_uri() + "/")
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    sys.exit(EXIT_PASS if decision.passed else EXIT_BLOCKED)


# ---------------------------------------------------------------------------- prove
def nginx_error_line(error: str) -> str:
    """One line saying what nginx refused: the ``[emerg]`` (or ``alert``/``crit``/``error``)
    line of its output, without timestamp and pid, with the proof's temporary prefix
    removed (``nginx -t failed: [emerg] unknown directive "x" in nginx.conf:54``); else
    ``error`` on one line."""
    head = error.split(":", 1)[0] if ":" in error else "nginx"
    for line in error.splitlines():
        found = _NGINX_ERROR.search(line)
        if found is None:
            continue
        detail = line[found.start():]
        detail = re.sub(r"^(\[\w+\]) \d+#\d+: ", r"\1 ", detail)
        cleaned = _PROOF_PREFIX.sub("", detail)
        note = " (a line of the proof's rewritten copy)" if cleaned != detail else ""
        return f"{head}: {cleaned.strip()}{note}"
    return " ".join(error.split())


def _proof_text(result: ProofResult) -> str:
    version = result.nginx_version.splitlines()[0] if result.nginx_version else "unknown"
    lines = [f"Gateway proof of {result.version}",
             f"  nginx: {version}",
             f"  config sha256: {result.config_sha256}",
             f"  validator decisions: {result.decisions}",
             ""]
    lines.append(format_table(result))
    if result.log_leaks:
        lines.append("Credentials found in nginx's logs: " + ", ".join(result.log_leaks))
    return "\n".join(lines) + "\n"


@gateway.command("prove")
@click.argument("files", nargs=-1, required=True, type=str)
@click.option("--spec", "spec_path", required=True,
              help="The version's OpenAPI document (its x-token-encryption profile).")
@click.option("--api-version", required=True,
              help="'<api>/<version>' as the configuration sends it to the validator.")
@click.option("--entry", default=None,
              help="The main file's bundle name (default: the first FILE).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Report format on stdout.")
@click.option("--nginx", "nginx_path", default=None,
              help="The nginx binary (default: nginx on PATH, else /usr/sbin/nginx).")
def prove_command(files: tuple[str, ...], spec_path: str, api_version: str,
                  entry: str | None, fmt: str,
                  nginx_path: str | None) -> None:
    """Prove an nginx configuration with a real nginx under the attack matrix (loopback
    ports, a temporary prefix, ephemeral keys; nothing is installed or left running).

    Exit 0: every case passed; 1: a case failed or a credential reached a log; 2: the proof
    could not run (nginx missing, nginx -t failed, nothing to attack).  A second use of a
    token from another client is expected refused exactly when the spec's profile says
    `single-use: true`.
    """
    profile, _ = _profile("prove", spec_path)
    bundle, entry_name, _, _ = read_bundle("prove", files, entry)
    result = run_proof(bundle, entry=entry_name, version=api_version, profile=profile,
                       clock=lambda: datetime.now(UTC),
                       nginx=nginx_path or default_nginx())
    if result.error is not None and not result.cases:
        _fail("prove", nginx_error_line(result.error))
    if fmt == "json":
        click.echo(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo(_proof_text(result), nl=False)
    sys.exit(EXIT_PASS if result.passed else EXIT_BLOCKED)

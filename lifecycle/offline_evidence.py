"""``stagegate jwks check`` and ``stagegate token inspect``: offline analyses of a key set and
of a sample token — no Flask, no database, no app (see :mod:`lifecycle.offline`)."""

from __future__ import annotations

import json
import sys
from typing import NoReturn

import click

from lifecycle.offline import EXIT_BLOCKED, EXIT_PASS, EXIT_UNCHECKABLE, sarif_uri
from policies.keys import check_jwks, public_key_set
from policies.report import render_evidence_json, render_evidence_sarif, render_evidence_text
from policies.spec_rules import extension_of
from policies.tokens import KeyFileError, TokenProfile, check_token, load_decryption_keys

# ------------------------------------------------------------------ token and JWKS evidence
FORMATS = click.Choice(["text", "json", "sarif"])


def evidence_fail(command: str, message: str) -> NoReturn:
    click.echo(f"stagegate {command}: {message}", err=True)
    sys.exit(EXIT_UNCHECKABLE)


def read_small(command: str, path: str, what: str, limit: int = 1024 * 1024) -> bytes:
    """The bytes of a small input file (``-`` is stdin); exits 2 when unreadable."""
    try:
        if path == "-":
            raw = sys.stdin.buffer.read(limit + 1)
        else:
            with open(path, "rb") as fh:
                raw = fh.read(limit + 1)
    except OSError as exc:
        evidence_fail(command, f"{path}: cannot read the {what}: {exc.strerror or exc}")
    if len(raw) > limit:
        evidence_fail(command, f"{path}: the {what} is larger than {limit} bytes.")
    return raw


def _emit(fmt: str, text: str, data: dict[str, object], sarif: dict[str, object]) -> None:
    if fmt == "text":
        click.echo(text, nl=False)
    else:
        click.echo(json.dumps(data if fmt == "json" else sarif, indent=2, ensure_ascii=False))


@click.group("jwks")
def jwks_group() -> None:
    """Check JSON Web Key Sets (offline; no server, no database)."""


@jwks_group.command("check")
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

    raw = read_small("jwks check", path, "JWKS", 256 * 1024)
    analysis = check_jwks(raw, purpose=None if purpose == "any" else purpose)  # type: ignore[arg-type]
    if not analysis.keys:
        reason = next((f.message for f in analysis.findings if f.status.blocks),
                      "not a JWK Set.")
        evidence_fail("jwks check", f"{path}: {reason}")
    uri, base = sarif_uri(path)
    summary = [f"key {k.index}: {k.kty} {k.crv or (str(k.size) + ' bits' if k.size else '')}"
               f" kid={k.kid!r} use={k.use!r} alg={k.alg!r}" for k in analysis.keys]
    _emit(fmt,
          render_evidence_text("JWKS", path, analysis.findings, analysis.passed, summary),
          render_evidence_json("jwks", {"path": path, "keys": [k.to_dict() for k in
                                                               analysis.keys]},
                               analysis.findings, analysis.passed),
          render_evidence_sarif(uri, analysis.findings, analysis.passed, base_uri=base))
    sys.exit(EXIT_PASS if analysis.passed else EXIT_BLOCKED)


@click.group("token")
def token_group() -> None:
    """Inspect sample access tokens (offline; no server, no database)."""


def _decryption_keys(raw: bytes, path: str, alg: str | None, kid: str | None) -> list[object]:
    """The decryption key(s) of a private JWK, a JWKS, a PEM file or a symmetric ``oct``
    JWK (:func:`policies.tokens.load_decryption_keys`); exits 2 with the reason when the file
    holds none."""
    try:
        return list(load_decryption_keys(raw, alg=alg, kid=kid))
    except KeyFileError as exc:
        evidence_fail("token inspect", f"{path}: {exc}.")


@token_group.command("inspect")
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
        token = read_small("token inspect", "-", "token", 64 * 1024).decode("utf-8",
                                                                              "replace")
    token = token.strip()
    if token[:7].lower() == "bearer ":
        token = token[7:].strip()
    if not token:
        evidence_fail("token inspect", "no token given.")
    ext = None
    if spec_path is not None:
        ext = extension_of(read_small("token inspect", spec_path, "spec", 25 * 1024 * 1024))
        if ext is None:
            evidence_fail("token inspect", f"{spec_path}: not an OpenAPI document with an "
                           "x-token-encryption profile on a bearer scheme.")
    profile = TokenProfile.from_extension(ext)
    keys = _decryption_keys(read_small("token inspect", key_path, "key"), key_path,
                            key_alg or profile.alg, key_kid)
    raw_jwks = read_small("token inspect", jwks_path, "issuer JWKS", 256 * 1024)
    if not check_jwks(raw_jwks).keys:
        evidence_fail("token inspect", f"{jwks_path}: not a JWK Set.")
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

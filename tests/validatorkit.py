"""Helpers for the database-backed validator tests: a version with a managed key and issuer
JWKS in the database, nested tokens for it, WSGI calls, a served validator (gunicorn in a
subprocess), and a search of the whole database and of logs for token material.

Nothing here is a fixture; the test modules build what they need from it.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from actorkit import TESTER
from evidencekit import Issuer
from jwcrypto import jwk, jwt

from lifecycle.catalog import services
from lifecycle.evidence import keys
from lifecycle.evidence.services import submit_jwks

LABEL = "orders/1.0.0"
STAGEGATE = str(Path(sys.executable).with_name("stagegate"))


def make_version(spec: bytes, issuer: Issuer) -> dict[str, Any]:
    """``orders@1.0.0`` with ``spec``, a generated managed key and ``issuer``'s JWKS (inside
    an app context).  :returns: the public encryption JWKS (what clients encrypt to)."""
    services.create_api("orders", "Orders API", team="shop", actor=TESTER)
    services.create_version("orders", "1.0.0", actor=TESTER)
    services.upload_spec("orders", "1.0.0", spec, uploader=TESTER)
    keys.generate_key("orders", "1.0.0", actor=TESTER)
    submit_jwks("orders", "1.0.0", json.dumps(issuer.jwks()).encode(), actor=TESTER)
    return public_jwks()


def public_jwks() -> dict[str, Any]:
    """The version's current public encryption JWKS (current + in grace)."""
    version = services.get_version("orders", "1.0.0")
    return keys.public_jwks(version)


@dataclass(frozen=True)
class Minted:
    """A nested token and what a leak search looks for: the token, its five segments, the
    inner JWS and its three segments."""

    token: str
    inner: str
    claims: dict[str, Any]

    def secrets(self) -> list[str]:
        parts = [self.token, self.inner, *self.token.split("."), *self.inner.split(".")]
        return [p for p in parts if len(p) >= 16]


def mint(issuer: Issuer, recipient: Mapping[str, Any], *, kid: str | None = None,
         now: int | None = None, **claims: Any) -> Minted:
    """A nested token (ES256 JWS inside a JWE with the recipient key's ``alg``, A256GCM)."""
    entry = next(k for k in recipient["keys"] if kid is None or k["kid"] == kid)
    body = issuer.claims(now, **claims)
    inner = issuer.signed(body)
    header = {"alg": entry["alg"], "enc": "A256GCM", "cty": "JWT", "kid": entry["kid"]}
    wrapped = jwt.JWT(header=header, claims=inner)
    wrapped.make_encrypted_token(jwk.JWK(**entry))
    return Minted(wrapped.serialize(), inner, body)


def tampered(token: str) -> str:
    """``token`` with one character of its ciphertext changed (the tag no longer matches)."""
    parts = token.split(".")
    body = parts[3]
    parts[3] = ("A" if body[5] != "A" else "B").join((body[:5], body[6:]))
    return ".".join(parts)


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


def call(app: Any, token: str | None = None, *, label: str = LABEL,
         address: str = "203.0.113.7") -> Answer:
    """One ``auth_request`` subrequest to a WSGI validator."""
    environ: dict[str, Any] = {"REQUEST_METHOD": "GET", "PATH_INFO": "/auth",
                               "HTTP_X_STAGEGATE_API_VERSION": label,
                               "HTTP_X_ORIGINAL_URI": "/v1/orders",
                               "HTTP_X_REAL_IP": address, "REMOTE_ADDR": "127.0.0.1"}
    if token is not None:
        environ["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        seen["status"], seen["headers"] = int(status.split()[0]), headers
        return lambda data: None

    list(app(environ, start_response))
    return Answer(seen["status"], seen["headers"])


# ---------------------------------------------------------------------- leak search
def database_text(engine: sa.Engine) -> str:
    """Every row of every table of the database (reflected), as text."""
    chunks: list[str] = []
    meta = sa.MetaData()
    meta.reflect(engine)
    with engine.connect() as conn:
        for table in meta.sorted_tables:
            for row in conn.execute(sa.select(table)):
                for value in row:
                    if isinstance(value, bytes | memoryview):
                        chunks.append(bytes(value).decode("latin-1"))
                    elif value is not None:
                        chunks.append(value if isinstance(value, str) else
                                      json.dumps(value, default=str))
    return "\n".join(chunks)


def leaks(haystack: str, minted: Iterable[Minted]) -> list[str]:
    """The secrets of ``minted`` found in ``haystack`` (first 12 characters each)."""
    return [s[:12] for m in minted for s in m.secrets() if s in haystack]


# ---------------------------------------------------------------------- served validator
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Served:
    """``stagegate validator`` in a subprocess on a loopback port (its output in a file).

    Stopped with SIGTERM to its own pid (gunicorn's arbiter stops its workers, which write
    their queued decisions), never by name.
    """

    def __init__(self, database_url: str, kek: str, log: Path, *args: str,
                 workers: int = 1, env: Mapping[str, str] | None = None) -> None:
        self.port = free_port()
        self.log = log
        environment = {k: v for k, v in os.environ.items()
                       if k not in ("DATABASE_URL", "STAGEGATE_KEY_ENCRYPTION_KEY",
                                    "VALIDATOR_REPLAY_URI")}
        environment.update({"DATABASE_URL": database_url,
                            "STAGEGATE_KEY_ENCRYPTION_KEY": kek,
                            "STAGEGATE_SECRET_KEY": "validator-test-secret",
                            **(env or {})})
        self._out = log.open("wb")
        self.process = subprocess.Popen(
            [STAGEGATE, "validator", "--bind", f"127.0.0.1:{self.port}", "--workers",
             str(workers), "--log-level", "debug", *args],
            stdout=self._out, stderr=subprocess.STDOUT, env=environment)

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Until ``GET /healthz`` answers (bounded; fails with the log when it never does)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"validator exited: {self.log.read_text()[-2000:]}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"validator not ready: {self.log.read_text()[-2000:]}")

    def ask(self, token: str | None, label: str = LABEL) -> Answer:
        """One subrequest as nginx sends it."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"X-Stagegate-Api-Version": label, "X-Original-URI": "/v1/orders",
                   "X-Real-IP": "198.51.100.4"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        conn.request("GET", "/auth", headers=headers)
        response = conn.getresponse()
        response.read()
        conn.close()
        return Answer(response.status, response.getheaders())

    def stop(self) -> str:
        """SIGTERM, wait (bounded), and the captured output."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._out.close()
        return self.log.read_text(errors="replace")

    def __enter__(self) -> Served:
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

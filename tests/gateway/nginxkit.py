"""Test-only helpers to run Debian's nginx against a configuration and attack it.

(The product's own runner is ``lifecycle/gateway/nginx.py``; this one exists only for the
tests of the static verifier.)

* :class:`Stub` — a threaded ``http.server`` on ``127.0.0.1:0`` that records every request
  (method, path, headers).  :func:`upstream` answers ``200 upstream``; :func:`validator`
  plays the Stagegate validator: ``200`` + identity headers for a token in ``allow`` (none by
  default: it DENIES everything), else ``401`` with ``WWW-Authenticate`` and the internal
  ``X-Stagegate-Deny`` reason.
* :class:`Nginx` — copies a fixture into a fresh prefix directory, rewrites only listen
  addresses (to loopback ephemeral ports), the stub upstream addresses and temp paths — each
  on its own line, so line numbers stay those of the fixture — writes a self-signed
  certificate made now with ``cryptography``, runs ``nginx -t`` and then
  ``nginx -p <prefix> -c <conf> -e <prefix>/e.log -g 'pid <prefix>/nginx.pid; error_log
  <prefix>/e.log;'``, and stops it by the pid in its pid file (never by name).
* :func:`get` — one HTTP(S) request, optionally pinned to a TLS version.

nginx missing is a test failure, not a skip (issue 11 acceptance 1).
"""

from __future__ import annotations

import datetime as dt
import http.client
import ipaddress
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

NGINX = os.environ.get("STAGEGATE_NGINX", "/usr/sbin/nginx")
#: the stub addresses the fixtures name: backend and validator
FIXTURE_UPSTREAM = "127.0.0.1:9001"
FIXTURE_VALIDATOR = "127.0.0.1:9002"
GOOD_TOKEN = "good-token-allowed-by-the-stub-validator"
#: the static verifier's fixtures (tests/unit/gateway/fixtures/<name>/nginx.conf)
FIXTURES = Path(__file__).resolve().parents[1] / "unit" / "gateway" / "fixtures"


def bundle(name: str) -> dict[str, bytes]:
    """``{relative path: bytes}`` of every file of fixture ``name``."""
    root = FIXTURES / name
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def line_of(name: str, snippet: str, file: str = "nginx.conf") -> int:
    """The 1-based line of the only line of fixture ``name`` containing ``snippet``."""
    lines = (FIXTURES / name / file).read_text().splitlines()
    hits = [i for i, line in enumerate(lines, 1) if snippet in line]
    assert len(hits) == 1, f"{snippet!r} is on lines {hits} of {name}/{file}"
    return hits[0]


def nginx_binary() -> str:
    """The nginx executable; fails the test (never skips) when it is missing."""
    if not (os.path.isfile(NGINX) and os.access(NGINX, os.X_OK)):
        pytest.fail(f"nginx not found at {NGINX}: `apt-get install -y nginx-light` (Debian) — "
                    "the gateway proof tests need a real nginx", pytrace=False)
    return NGINX


def nginx_version() -> str:
    """``nginx -V`` output (it prints to stderr)."""
    done = subprocess.run([nginx_binary(), "-V"], capture_output=True, text=True, check=True)
    return done.stderr.strip()


# ------------------------------------------------------------------------------ stubs
@dataclass(frozen=True, slots=True)
class Seen:
    """One request a stub received."""

    method: str
    path: str
    headers: tuple[tuple[str, str], ...]

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or ``None``."""
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


@dataclass(slots=True)
class Stub:
    """A recording HTTP stub on 127.0.0.1 (see the module docstring)."""

    name: str
    allow: frozenset[str] = frozenset()
    seen: list[Seen] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None
    thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.server_address[1])

    def start(self) -> Stub:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                stub.seen.append(Seen(self.command, self.path, tuple(self.headers.items())))
                status, headers, body = stub.respond(self.headers.get("Authorization"))
                self.send_response(status)
                for key, value in headers:
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_HEAD = _answer

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def respond(self, authorization: str | None) -> tuple[int, list[tuple[str, str]], bytes]:
        if self.name == "upstream":
            return 200, [("Content-Type", "text/plain")], b"upstream"
        token = authorization[7:] if authorization and authorization.startswith("Bearer ") \
            else None
        if token is not None and token in self.allow:
            return 200, [("X-Stagegate-Decision", "allow"), ("X-Stagegate-Sub", "alice")], b""
        challenge = 'Bearer realm="stagegate"' + (
            ', error="invalid_token"' if authorization else "")
        return 401, [("WWW-Authenticate", challenge), ("X-Stagegate-Decision", "deny"),
                     ("X-Stagegate-Deny", "TOK-SYNTAX")], b""

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def upstream() -> Stub:
    """A started stub upstream (``200 upstream``)."""
    return Stub("upstream").start()


def validator(allow: frozenset[str] = frozenset()) -> Stub:
    """A started stub validator allowing only the tokens in ``allow`` (default: none)."""
    return Stub("validator", allow).start()


# ------------------------------------------------------------------------------ nginx
def free_port() -> int:
    """A free loopback TCP port (bound and released; the race is acceptable for tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_certificate(directory: Path) -> Path:
    """Write ``cert.pem`` and ``key.pem`` (self-signed EC P-256, SAN 127.0.0.1/localhost,
    valid one day) into ``directory``; returns the certificate path."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"),
                x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(key, hashes.SHA256()))
    (directory / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    path = directory / "cert.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


_LISTEN = re.compile(r"^(\s*listen\s+)(\d+)(\b[^;]*;)", re.MULTILINE)
_TEMP_PATHS = ("client_body_temp_path tmp/body; proxy_temp_path tmp/proxy; "
               "fastcgi_temp_path tmp/fastcgi; uwsgi_temp_path tmp/uwsgi; "
               "scgi_temp_path tmp/scgi;")


def adapt(text: str, ports: Mapping[int, int], upstream_port: int,
          validator_port: int) -> str:
    """Rewrite listen ports (``listen 443 ssl;`` → ``listen 127.0.0.1:<port> ssl;``), the
    stub addresses and the temp paths, keeping every line where it is."""
    text = _LISTEN.sub(lambda m: f"{m[1]}127.0.0.1:{ports[int(m[2])]}{m[3]}", text)
    text = text.replace(FIXTURE_UPSTREAM, f"127.0.0.1:{upstream_port}")
    text = text.replace(FIXTURE_VALIDATOR, f"127.0.0.1:{validator_port}")
    return re.sub(r"^http \{", "http { " + _TEMP_PATHS, text, count=1, flags=re.MULTILINE)


class Nginx:
    """A running nginx for one configuration bundle (context manager)."""

    def __init__(self, files: Mapping[str, bytes], *, upstream_port: int, validator_port: int,
                 entry: str = "nginx.conf") -> None:
        self.prefix = Path(tempfile.mkdtemp(prefix="nginxkit-"))
        self.prefix.chmod(0o755)  # workers (user nobody when run as root) must traverse it
        for sub in ("logs", "tmp", "cache"):
            (self.prefix / sub).mkdir()
        listen_ports = sorted({int(m[2]) for data in files.values()
                               for m in _LISTEN.finditer(data.decode())})
        #: fixture port -> the loopback port nginx really listens on
        self.ports = {port: free_port() for port in listen_ports}
        for name, data in files.items():
            path = self.prefix / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(adapt(data.decode(), self.ports, upstream_port, validator_port))
        self.cert = make_certificate(self.prefix)
        self.conf = self.prefix / entry
        self.pid_file = self.prefix / "nginx.pid"
        self.error_log = self.prefix / "e.log"
        self.pid: int | None = None

    def _command(self, *extra: str) -> list[str]:
        return [nginx_binary(), *extra, "-p", f"{self.prefix}/", "-c", str(self.conf),
                "-e", str(self.error_log),
                "-g", f"pid {self.pid_file}; error_log {self.error_log};"]

    def test_config(self) -> str:
        """``nginx -t``: returns its output; fails the test when nginx rejects the file."""
        done = subprocess.run(self._command("-t"), capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            pytest.fail(f"nginx -t rejected {self.conf}:\n{done.stderr}", pytrace=False)
        return done.stderr

    def start(self) -> Nginx:
        self.test_config()
        done = subprocess.run(self._command(), capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            self.stop()
            pytest.fail(f"nginx did not start:\n{done.stderr}", pytrace=False)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.pid_file.exists() and self.pid_file.read_text().strip():
                self.pid = int(self.pid_file.read_text().strip())
                if all(_accepts(port) for port in self.ports.values()):
                    return self
            time.sleep(0.05)
        errors = self.error_log.read_text() if self.error_log.exists() else ""
        self.stop()
        pytest.fail(f"nginx did not come up:\n{errors}", pytrace=False)

    def stop(self) -> None:
        """Stop the master by its pid file (SIGQUIT, then SIGTERM) and remove the prefix."""
        if self.pid is not None:
            for sig in (signal.SIGQUIT, signal.SIGTERM):
                try:
                    os.kill(self.pid, sig)
                except ProcessLookupError:
                    break
                deadline = time.monotonic() + 5
                while time.monotonic() < deadline and _alive(self.pid):
                    time.sleep(0.05)
                if not _alive(self.pid):
                    break
            self.pid = None
        shutil.rmtree(self.prefix, ignore_errors=True)

    def __enter__(self) -> Nginx:
        return self if self.pid is not None else self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def port(self, fixture_port: int) -> int:
        """The loopback port standing in for the fixture's ``listen <fixture_port>``."""
        return self.ports[fixture_port]

    def log(self, name: str, *expect: str) -> str:
        """The text of ``logs/<name>``, once it holds every string in ``expect`` (or after
        2 s: nginx writes the access log after the answer went out)."""
        path = self.prefix / "logs" / name
        deadline = time.monotonic() + 2
        while True:
            text = path.read_text() if path.exists() else ""
            if (text and all(e in text for e in expect)) or time.monotonic() > deadline:
                return text
            time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # the master daemonized (it is not our child), so an exited master is reaped by init
    return True


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


# ------------------------------------------------------------------------------ client
@dataclass(frozen=True, slots=True)
class Answer:
    """What the client got: status, headers (lower-case names) and body."""

    status: int
    headers: dict[str, str]
    body: bytes


def tls_context(cafile: Path, version: ssl.TLSVersion | None = None) -> ssl.SSLContext:
    """A client context trusting ``cafile``; pinned to ``version`` when given (TLS 1.0/1.1
    need OpenSSL security level 0 on the client side: ``@SECLEVEL=0``)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cafile)
    if version is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = version
            context.maximum_version = version
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    return context


def get(port: int, path: str, *, headers: Mapping[str, str] | None = None,
        tls: ssl.SSLContext | None = None) -> Answer:
    """``GET path`` from ``127.0.0.1:port`` (HTTPS when ``tls`` is given)."""
    conn: http.client.HTTPConnection
    if tls is not None:
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=tls, timeout=10)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers=dict(headers or {}))
        response = conn.getresponse()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()},
                      response.read())
    finally:
        conn.close()


def handshake(port: int, context: ssl.SSLContext) -> str | None:
    """The negotiated TLS version, or ``None`` when the handshake is refused."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
                context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            return tls.version()
    except (ssl.SSLError, OSError):
        return None

"""Run a real nginx on loopback for a gateway proof (issue 11, point 4).

:func:`prepare_bundle` writes a configuration bundle into a temporary prefix and rewrites
**only** what cannot run as written on the proof machine (parsed and rebuilt with crossplane):

* ``listen`` addresses → ``127.0.0.1:<ephemeral port>`` (one port per original port, keeping
  which listeners were ``ssl`` and which plaintext);
* certificate paths (``ssl_certificate``, ``ssl_certificate_key``, trusted/client CA files)
  → a self-signed certificate made for the run (``ssl_dhparam``/``ssl_stapling_file`` are
  dropped);
* upstreams: the ``proxy_pass`` of every location that an ``auth_request`` targets → the
  proof's validator (when it names an ``upstream`` block, that block's ``server`` entries
  go to the validator instead and the name, with its ``keepalive``, stays); every other
  ``proxy_pass`` (and ``server`` entries of other ``upstream`` blocks) → the stub upstream;
* the prefix: ``pid``/``daemon`` are removed from the file (given with ``-g``), ``error_log``
  and ``access_log`` paths and the temp paths (client body, proxy, fastcgi, uwsgi, scgi,
  ``proxy_cache_path``) go into the prefix.

:class:`NginxProcess` runs ``nginx -t`` then Debian's nginx in the foreground
(``-g 'daemon off; pid …; error_log …;'``) and stops it by the pid in its pid file (never by
name).  :class:`StubUpstream` records every request that reaches it.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
import shutil
import signal
import socket
import socketserver
import subprocess
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath
from typing import Any, Self

import crossplane  # type: ignore[import-untyped]
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

__all__ = [
    "ApiLocation",
    "NginxError",
    "NginxProcess",
    "PreparedBundle",
    "RecordedRequest",
    "LoopbackServer",
    "StubUpstream",
    "make_self_signed",
    "nginx_version",
    "prepare_bundle",
]

_CERT_DIRECTIVES = frozenset({
    "ssl_certificate", "ssl_trusted_certificate", "ssl_client_certificate",
    "proxy_ssl_certificate", "proxy_ssl_trusted_certificate",
})
_KEY_DIRECTIVES = frozenset({"ssl_certificate_key", "proxy_ssl_certificate_key"})
_DROP_MAIN = frozenset({"pid", "daemon"})
_DROP_ANY = frozenset({"ssl_dhparam", "ssl_stapling_file", "ssl_password_file", "ssl_crl"})
_TEMP_PATHS = ("client_body_temp_path", "proxy_temp_path", "fastcgi_temp_path",
               "uwsgi_temp_path", "scgi_temp_path")
_PASS = re.compile(r"^(?P<scheme>[A-Za-z]+)://(?P<host>unix:[^:]+:|[^/]+)(?P<uri>.*)$")
_LISTEN_FLAGS_DROP = re.compile(r"^(ipv6only=|setfib=|accept_filter=|bind$)")


class NginxError(RuntimeError):
    """nginx could not be prepared, tested, started or stopped (message has the details)."""


# ---------------------------------------------------------------------------- certificate
def make_self_signed(directory: Path, names: tuple[str, ...] = ("localhost",)) -> tuple[Path, Path]:
    """Write a self-signed P-256 certificate for ``names`` + ``127.0.0.1`` into ``directory``.

    Valid from one hour ago for one day.  :returns: ``(certificate_path, key_path)`` (PEM;
    the key file has mode 0600).
    """
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = dt.datetime.now(dt.UTC)
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in names if n and "*" not in n]
    sans.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "proof-cert.pem", directory / "proof-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return cert_path, key_path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# ---------------------------------------------------------------------------- bundle
@dataclass(frozen=True, slots=True)
class Listener:
    """One rewritten listening port.

    :ivar original: the original port number (443, 80, 8443 …).
    :ivar port: the ephemeral loopback port it became.
    :ivar ssl: whether the original ``listen`` had ``ssl``.
    """

    original: int
    port: int
    ssl: bool


@dataclass(frozen=True, slots=True)
class ApiLocation:
    """A location that proxies (the proof attacks it).

    :ivar server_names: the enclosing server's ``server_name`` values.
    :ivar ssl_port: the server's TLS port after rewriting (``None``: no TLS listener).
    :ivar plain_port: the server's plaintext port after rewriting, or ``None``.
    :ivar match: the location's modifier (``""``, ``=``, ``^~``, ``~``, ``~*``).
    :ivar path: the location's path or pattern.
    :ivar authenticated: ``auth_request`` (not ``off``) applies to it (own or inherited).
    :ivar file: the bundle file and ``line`` where the location starts.
    """

    server_names: tuple[str, ...]
    ssl_port: int | None
    plain_port: int | None
    match: str
    path: str
    authenticated: bool
    file: str
    line: int


@dataclass(slots=True)
class PreparedBundle:
    """A bundle written into a prefix, rewritten to run on loopback.

    :ivar prefix: the temporary prefix (``conf/``, ``logs/``, ``tmp/``, pid file).
    :ivar conf: absolute path of the entry file inside ``prefix/conf``.
    :ivar listeners: the rewritten ports.
    :ivar locations: every proxying, non-internal location, in file order.
    :ivar rewritten: bundle name → rewritten text (for the record).
    """

    prefix: Path
    conf: Path
    listeners: list[Listener] = field(default_factory=list)
    locations: list[ApiLocation] = field(default_factory=list)
    rewritten: dict[str, str] = field(default_factory=dict)

    @property
    def pid_file(self) -> Path:
        """``<prefix>/nginx.pid``."""
        return self.prefix / "nginx.pid"

    @property
    def error_log(self) -> Path:
        """``<prefix>/logs/error.log``."""
        return self.prefix / "logs" / "error.log"


def _safe_name(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise NginxError(f"bundle file name {name!r} must be relative, without '..'")
    return path


def _rewrite_pass(target: str, port: int) -> str:
    match = _PASS.match(target)
    uri = match.group("uri") if match else ""
    if "$" in uri:
        uri = ""
    return f"http://127.0.0.1:{port}{uri}"


def _validator_upstreams(config: list[dict[str, Any]], auth_targets: set[str]) -> set[str]:
    """Names of the ``upstream`` blocks that the ``proxy_pass`` of an auth-subrequest
    location names (``proxy_pass http://stagegate_validator/auth``): their ``server``
    entries go to the proof's validator, and the ``proxy_pass`` keeps the name, so that
    the block's ``keepalive`` is exercised as written."""
    names = {d["args"][0] for cfg in config for d in _directives(cfg["parsed"])
             if d["directive"] == "upstream" and d["args"]}
    used: set[str] = set()
    for cfg in config:
        for loc in _directives(cfg["parsed"]):
            if loc["directive"] != "location" or not loc["args"] \
                    or loc["args"][-1] not in auth_targets:
                continue
            for d in _directives(loc.get("block") or []):
                match = _PASS.match(d["args"][0]) if d["directive"] == "proxy_pass" \
                    and d["args"] else None
                if match and match.group("host") in names:
                    used.add(match.group("host"))
    return used


def _directives(block: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for d in block:
        out.append(d)
        out.extend(_directives(d.get("block") or []))
    return out


def prepare_bundle(files: Mapping[str, bytes], *, entry: str, prefix: Path,  # noqa: C901, PLR0915 - one pass over the bundle
                   stub_port: int, validator_port: int) -> PreparedBundle:
    """Write ``files`` into ``prefix/conf`` and rewrite them to run on loopback.

    :param files: bundle file name (relative, ``/``-separated) → content (UTF-8 nginx
        configuration; non-configuration files such as ``mime.types`` may be included).
    :param entry: the main file's name in ``files``.
    :param prefix: an empty directory owned by the caller (made world-traversable so
        nginx workers reach their temp paths).
    :param stub_port: loopback port of the stub upstream.
    :param validator_port: loopback port of the proof's validator.
    :raises NginxError: unsafe names, a missing entry, a parse error, or an ``include``
        that leaves the bundle (nothing is read from the machine's own configuration).
    """
    if entry not in files:
        raise NginxError(f"the entry {entry!r} is not in the bundle")
    conf_dir = prefix / "conf"
    for sub in ("conf", "logs", "tmp"):
        (prefix / sub).mkdir(parents=True, exist_ok=True)
    prefix.chmod(0o755)
    for name, content in files.items():
        path = conf_dir / _safe_name(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    cert, key = make_self_signed(prefix)
    conf = conf_dir / _safe_name(entry)
    try:
        payload = crossplane.parse(str(conf), catch_errors=False, comments=False)
    except (crossplane.errors.NgxParserBaseException, OSError, UnicodeError) as exc:
        raise NginxError(f"crossplane could not parse the bundle: {exc}") from exc
    if payload["status"] != "ok":
        raise NginxError(f"crossplane could not parse the bundle: {payload['errors']}")
    root = conf_dir.resolve()
    for cfg in payload["config"]:
        if not Path(cfg["file"]).resolve().is_relative_to(root):
            raise NginxError(f"include outside the bundle: {cfg['file']}")

    # auth_request targets: their locations' proxy_pass goes to the validator
    auth_targets = {d["args"][0] for cfg in payload["config"]
                    for d in _directives(cfg["parsed"])
                    if d["directive"] == "auth_request" and d["args"] and d["args"][0] != "off"}
    validator_upstreams = _validator_upstreams(payload["config"], auth_targets)
    ports: dict[int, Listener] = {}
    prepared = PreparedBundle(prefix=prefix, conf=conf)
    log_names: dict[str, str] = {}

    def log_path(original: str) -> str:
        if original not in log_names:
            stem = re.sub(r"[^A-Za-z0-9._-]", "_", PurePosixPath(original).name) or "log"
            log_names[original] = str(prefix / "logs" / f"{len(log_names):02d}-{stem}")
        return log_names[original]

    def rewrite(block: list[dict[str, Any]], ctx: tuple[str, ...], *, main: bool,  # noqa: C901, PLR0912 - one branch per directive kind
                validator: bool, upstream: str = "") -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        seen_listen: set[int] = set()
        for d in block:
            name, args = d["directive"], list(d["args"])
            if main and name in _DROP_MAIN or name in _DROP_ANY:
                continue
            if name == "listen" and args:
                port = _listen_port(args[0])
                is_ssl = "ssl" in args[1:]
                if port not in ports:
                    ports[port] = Listener(port, _free_port(), is_ssl)
                if ports[port].port in seen_listen:
                    continue
                seen_listen.add(ports[port].port)
                flags = [a for a in args[1:] if not _LISTEN_FLAGS_DROP.match(a)]
                args = [f"127.0.0.1:{ports[port].port}", *flags]
            elif name in _CERT_DIRECTIVES and args:
                args = [str(cert)]
            elif name in _KEY_DIRECTIVES and args:
                args = [str(key)]
            elif name == "proxy_pass" and args:
                match = _PASS.match(args[0])
                if validator and match and match.group("host") in validator_upstreams:
                    args = [f"http://{match.group('host')}{match.group('uri')}"]
                else:
                    args = [_rewrite_pass(args[0], validator_port if validator else stub_port)]
            elif name == "server" and ctx and ctx[-1] == "upstream" and args:
                to_validator = upstream in validator_upstreams
                args = [f"127.0.0.1:{validator_port if to_validator else stub_port}"]
            elif name in ("access_log", "error_log") and args and args[0] != "off":
                args = [log_path(args[0]), *args[1:]]
            elif name in _TEMP_PATHS and args:
                args = [str(prefix / "tmp" / name), *args[1:]]
            elif name == "proxy_cache_path" and args:
                args = [str(prefix / "tmp" / "cache"), *args[1:]]
            new: dict[str, Any] = {"directive": name, "args": args, "line": d.get("line")}
            if "block" in d:
                inner_validator = validator
                inner_upstream = args[0] if name == "upstream" and args else upstream
                if name == "location":
                    inner_validator = bool(args) and args[-1] in auth_targets
                new["block"] = rewrite(d["block"], (*ctx, name), main=False,
                                       validator=inner_validator, upstream=inner_upstream)
                if name == "http":
                    present = {x["directive"] for x in new["block"]}
                    new["block"] = [{"directive": t, "args": [str(prefix / "tmp" / t)]}
                                    for t in _TEMP_PATHS if t not in present] + new["block"]
            out.append(new)
        return out

    for cfg in payload["config"]:
        is_entry = Path(cfg["file"]).resolve() == conf.resolve()
        parsed = rewrite(cfg["parsed"], (), main=is_entry, validator=False)
        text = crossplane.build(parsed, indent=4, tabs=False, header=False) + "\n"
        Path(cfg["file"]).write_text(text, encoding="utf-8")
        prepared.rewritten[str(Path(cfg["file"]).resolve().relative_to(root))] = text
        prepared.locations += _api_locations(cfg, parsed, ports, auth_targets, root)
    prepared.listeners = sorted(ports.values(), key=lambda lst: lst.original)
    return prepared


def _listen_port(address: str) -> int:
    """Port of a ``listen`` address (``443``, ``*:443``, ``[::]:443``, ``h:8443``, ``h``)."""
    if address.startswith("unix:"):
        raise NginxError(f"cannot run a unix-socket listener in a proof: {address}")
    tail = address.rsplit("]", 1)[-1]
    if address.isdigit():
        return int(address)
    if ":" in tail and tail.rsplit(":", 1)[1].isdigit():
        return int(tail.rsplit(":", 1)[1])
    return 80


def _api_locations(cfg: dict[str, Any], parsed: list[dict[str, Any]],
                   ports: Mapping[int, Listener], auth_targets: set[str],
                   root: Path) -> list[ApiLocation]:
    """Proxying, non-internal locations of the rewritten ``parsed`` (original lines)."""
    found: list[ApiLocation] = []
    rel = str(Path(cfg["file"]).resolve().relative_to(root))
    by_port = {lst.port: lst for lst in ports.values()}

    def own_auth(block: list[dict[str, Any]], inherited: bool) -> bool:
        own = [d for d in block if d["directive"] == "auth_request"]
        return own[-1]["args"][0] != "off" if own else inherited

    def walk(block: list[dict[str, Any]], server: ApiLocation | None, auth: bool) -> None:
        auth = own_auth(block, auth)
        for d in block:
            body = d.get("block")
            if body is None:
                continue
            if d["directive"] == "server":
                names: list[str] = []
                ssl_port = plain_port = None
                for x in body:
                    if x["directive"] == "server_name":
                        names += x["args"]
                    if x["directive"] == "listen":
                        lst = by_port.get(int(x["args"][0].rsplit(":", 1)[1]))
                        if lst and lst.ssl:
                            ssl_port = lst.port
                        elif lst:
                            plain_port = lst.port
                walk(body, ApiLocation(tuple(names), ssl_port, plain_port, "", "", False,
                                       rel, 0), auth)
            elif d["directive"] == "location" and server is not None:
                loc_auth = own_auth(body, auth)
                is_internal = any(x["directive"] == "internal" for x in body)
                proxies = any(x["directive"] in ("proxy_pass", "fastcgi_pass", "grpc_pass",
                                                 "uwsgi_pass", "scgi_pass") for x in body)
                path = d["args"][-1]
                if proxies and not is_internal and path not in auth_targets:
                    match = d["args"][0] if len(d["args"]) > 1 else ""
                    found.append(ApiLocation(server.server_names, server.ssl_port,
                                             server.plain_port, match, path, loc_auth, rel,
                                             int(d.get("line") or 0)))
                walk(body, server, loc_auth)
            else:
                walk(body, server, auth)

    walk(parsed, None, False)
    return found


# ---------------------------------------------------------------------------- process
def nginx_version(nginx: str = "nginx", *, timeout: float = 10.0) -> str:
    """The ``nginx -V`` text (version, TLS library, configure arguments).

    :raises NginxError: nginx missing or failing.
    """
    try:
        done = subprocess.run([nginx, "-V"], capture_output=True, text=True, timeout=timeout,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NginxError(f"cannot run {nginx} -V: {exc}") from exc
    if done.returncode != 0:
        raise NginxError(f"{nginx} -V failed: {done.stderr.strip()}")
    return (done.stderr + done.stdout).strip()


class NginxProcess:
    """One nginx master in the foreground on a prepared bundle; a context manager.

    ``with NginxProcess(bundle) as proc:`` tests the configuration, starts nginx, waits
    until every listener accepts connections (``start_timeout`` seconds), and on exit stops
    it by the pid in its own pid file (SIGQUIT, then SIGTERM, then SIGKILL of the child).
    """

    def __init__(self, bundle: PreparedBundle, *, nginx: str = "nginx",
                 start_timeout: float = 10.0, stop_timeout: float = 10.0) -> None:
        self.bundle = bundle
        self.nginx = nginx
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def globals(self) -> str:
        """The ``-g`` directives: foreground, own pid file and error log."""
        return (f"daemon off; pid {self.bundle.pid_file}; "
                f"error_log {self.bundle.error_log} warn;")

    def _command(self, *extra: str) -> list[str]:
        return [self.nginx, "-p", str(self.bundle.prefix), "-c", str(self.bundle.conf),
                "-g", self.globals, *extra]

    def test(self) -> str:
        """Run ``nginx -t``; :returns: its output.  :raises NginxError: when it fails."""
        try:
            done = subprocess.run(self._command("-t"), capture_output=True, text=True,
                                  timeout=self.start_timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise NginxError(f"nginx -t could not run: {exc}") from exc
        output = (done.stderr + done.stdout).strip()
        if done.returncode != 0:
            raise NginxError(f"nginx -t failed: {output}")
        return output

    def start(self) -> None:
        """Test, start, and wait for the listeners.  :raises NginxError: on failure."""
        self.test()
        try:
            self._proc = subprocess.Popen(self._command(), stdin=subprocess.DEVNULL,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        except OSError as exc:
            raise NginxError(f"nginx could not start: {exc}") from exc
        deadline = time.monotonic() + self.start_timeout
        pending = [lst.port for lst in self.bundle.listeners]
        while pending:
            if self._proc.poll() is not None:
                err = self._proc.stderr.read().decode(errors="replace") if self._proc.stderr \
                    else ""
                raise NginxError(f"nginx exited with {self._proc.returncode}: {err.strip()}"
                                 f" {self._error_log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise NginxError(f"nginx did not listen on {pending} within "
                                 f"{self.start_timeout} s")
            try:
                with socket.create_connection(("127.0.0.1", pending[0]), timeout=0.5):
                    pending.pop(0)
            except OSError:
                time.sleep(0.05)
        while not self.bundle.pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)

    def _error_log_tail(self) -> str:
        try:
            return self.bundle.error_log.read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def stop(self) -> None:
        """Stop nginx by the pid in its pid file (graceful, then forced); idempotent."""
        proc = self._proc
        if proc is None:
            return
        try:
            pid = int(self.bundle.pid_file.read_text().strip())
        except (OSError, ValueError):
            pid = proc.pid
        if pid == proc.pid:  # our own child: never signal a pid we did not start
            for sig, wait in ((signal.SIGQUIT, self.stop_timeout / 2),
                              (signal.SIGTERM, self.stop_timeout / 2)):
                if proc.poll() is not None:
                    break
                try:
                    os.kill(pid, sig)
                    proc.wait(timeout=wait)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    continue
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=self.stop_timeout)
        if proc.stderr:
            proc.stderr.close()
        self._proc = None

    @property
    def error_log_text(self) -> str:
        """The run's error log (for a failure message)."""
        return self._error_log_tail()

    def __enter__(self) -> NginxProcess:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ---------------------------------------------------------------------------- stub upstream
@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request that reached the stub upstream.

    :ivar method: the HTTP method.
    :ivar path: the request target (path and query).
    :ivar headers: every header line as received, in order (names as sent).
    """

    method: str
    path: str
    headers: tuple[tuple[str, str], ...]

    def header(self, name: str) -> list[str]:
        """All values of header ``name`` (case-insensitive)."""
        return [v for k, v in self.headers if k.lower() == name.lower()]


class _StubHandler(BaseHTTPRequestHandler):
    server: _StubServer
    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(min(length, 1 << 20))
        self.server.record(RecordedRequest(self.command, self.path,
                                           tuple(self.headers.items())))
        body = b'{"stub":"upstream"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _answer

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the proof records requests itself."""


class _StubServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _StubHandler)
        self.lock = threading.Lock()
        self.requests: list[RecordedRequest] = []

    def record(self, request: RecordedRequest) -> None:
        with self.lock:
            self.requests.append(request)


class LoopbackServer:
    """A ``socketserver`` server on ``127.0.0.1:<ephemeral>`` served by a daemon thread, as a
    context manager (started on enter; shut down, closed and joined on exit)."""

    def __init__(self, server: socketserver.BaseServer) -> None:
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever,
                                        kwargs={"poll_interval": 0.1}, daemon=True)

    @property
    def port(self) -> int:
        """The listening port (known after construction)."""
        host_port: tuple[str, int] = self._server.server_address  # type: ignore[assignment]
        return host_port[1]

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class StubUpstream(LoopbackServer):
    """A threaded HTTP/1.1 server on ``127.0.0.1:<ephemeral>`` recording what reaches it.

    A context manager; :attr:`port` is known after construction, :attr:`requests` is a
    snapshot list of :class:`RecordedRequest`.
    """

    def __init__(self) -> None:
        self._stub = _StubServer()
        super().__init__(self._stub)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Requests received so far (a copy)."""
        with self._stub.lock:
            return list(self._stub.requests)


def default_nginx() -> str:
    """``nginx`` on ``PATH``, else Debian's ``/usr/sbin/nginx``."""
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin") \
        or "/usr/sbin/nginx"

"""End-to-end benchmark of the gateway (issue 11, acceptance 6).  Not a test.

One run, everything on loopback:

* a database (a temporary SQLite file, or ``--database URL``) migrated to head, with the demo
  ``payments`` document (RSA-OAEP-256 / A256GCM / ES256), a managed RSA-3072 key generated
  by Stagegate and an issuer ES256 JWKS submitted as evidence;
* ``stagegate validator`` (gunicorn, ``--workers`` x ``--threads``: ``gthread`` workers that
  keep nginx's connections open, as by default; ``--threads 1``: sync workers) over that
  database, reached through the rendered ``upstream`` block with ``keepalive``;
  ``--validator-bind both`` (the default) starts two of them, one on loopback TCP and one on
  a unix socket, each behind its own gateway nginx, and alternates between them in the same
  run (``tcp`` or ``unix``: only that one);
* Debian's nginx with the configuration ``stagegate`` renders for the version (TLS, the
  ``auth_request`` location), plus one location **without** auth in the same server —
  the A/B baseline; both proxy to a second nginx that answers ``200`` (the upstream);
* the client: one kept-alive HTTPS connection per mode, requests sent one at a time.

Modes, alternating in batches (A/B/C/D, A/B/C/D, …) so that load from other users of the
machine hits all alike:

``no-auth``       the same request (same ``Authorization`` bytes) to the location without auth
``repeat``        one good token, again and again (the validator's verification cache)
``new``           a token never seen before on every request (full decrypt + verify + policy)
                  (with ``--validator-bind both``: ``repeat tcp``, ``new tcp``, ``repeat unix``,
                  ``new unix``)
``bare-crypto``   in the client process: the cryptographic operations of the profile on a new
                  token — RSA-OAEP-256 unwrap of the CEK (RSA-3072), AES-256-GCM decrypt of
                  the payload, ECDSA P-256 / SHA-256 verify of the inner JWS (``cryptography``
                  directly; base64 decoding outside the timing)

Targets: ``repeat`` adds ≤ 1 ms p50 over ``no-auth``; ``new`` adds ≤ 2 × ``bare-crypto``.
Also printed: what ``new`` adds over ``repeat`` (the surcharge of a first-seen token over the
per-subrequest cost every request pays).
Also measured: what recording one decision costs the request (batched flusher vs one INSERT
per decision).

Usage::

    .venv/bin/python scripts/bench_gateway.py [--rounds 30] [--batch 20] [--workers 2] [--threads 4]
        [--validator-bind both|tcp|unix]
        [--database postgresql+psycopg://postgres@127.0.0.1:5432/bench]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import functools
import http.client
import json
import os
import secrets
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import flask_migrate
import sqlalchemy as sa
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from jwcrypto import jwk, jwt

from lifecycle.app import create_app
from lifecycle.catalog import services
from lifecycle.core.actor import Actor
from lifecycle.core.crypto_store import encode_kek
from lifecycle.core.db import utcnow
from lifecycle.core.extensions import db
from lifecycle.evidence import keys
from lifecycle.evidence.services import submit_jwks
from lifecycle.gateway.nginx import NginxProcess, prepare_bundle
from lifecycle.gateway.render import GatewaySettings, render_nginx
from lifecycle.gateway.service import build_validator
from lifecycle.gateway.stores import DbDecisionSink
from lifecycle.gateway.validator import GatewayDecision
from policies.tokens import TokenProfile

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "lifecycle" / "demo" / "specs" / "payments.yaml"
LABEL = "payments/1.4.0"
ISSUER = "https://auth.example.com"
AUDIENCE = "https://api.example.com/payments"
HOST = "api.example.com"
NGINX = os.environ.get("STAGEGATE_NGINX", "/usr/sbin/nginx")
ACTOR = Actor.system("bench")

_NOAUTH = """
        # bench only: the same proxying without auth_request (the A/B baseline)
        location /noauth/ {
            proxy_set_header Authorization "";
            proxy_set_header Host $host;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass http://127.0.0.1:9000;
        }

        # Outside the API's base paths: nothing is served."""

_UPSTREAM = b"""worker_processes 1;
events { worker_connections 1024; }
http {
    access_log off;
    server {
        listen 8080;
        location / { return 200 "ok"; }
    }
}
"""


def b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---------------------------------------------------------------------- set-up
def prepare_database(url: str, kek: str) -> tuple[dict[str, Any], jwk.JWK]:
    """Migrate, create the version, its managed key and the issuer JWKS.  :returns: the
    public encryption JWK (dict) and the issuer's private signing key."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "KEY_ENCRYPTION_KEY": kek,
                      "SECRET_KEY": "bench"})
    issuer = jwk.JWK.generate(kty="EC", crv="P-256", use="sig", alg="ES256")
    issuer["kid"] = issuer.thumbprint()
    with app.app_context():
        flask_migrate.upgrade()
        services.create_api("payments", "Payments API", actor=ACTOR)
        services.create_version("payments", "1.4.0", actor=ACTOR)
        services.upload_spec("payments", "1.4.0", SPEC.read_bytes(), uploader=ACTOR)
        key = keys.generate_key("payments", "1.4.0", actor=ACTOR)
        public = dict(key.public_jwk)
        submit_jwks("payments", "1.4.0",
                    json.dumps({"keys": [issuer.export_public(as_dict=True)]}).encode(),
                    actor=ACTOR)
        db.engine.dispose()
    return public, issuer


class Minter:
    """Nested tokens for the version (ES256 inside RSA-OAEP-256 / A256GCM)."""

    def __init__(self, recipient: dict[str, Any], issuer: jwk.JWK) -> None:
        self.recipient = jwk.JWK(**recipient)
        self.kid = recipient["kid"]
        self.issuer = issuer

    def token(self) -> tuple[str, str]:
        """:returns: ``(token, inner JWS)``."""
        now = int(time.time())
        claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "bench-user", "client_id": "bench",
                  "iat": now, "exp": now + 600, "jti": str(uuid.uuid4()), "scope": "payments"}
        inner = jwt.JWT(header={"alg": "ES256", "typ": "at+jwt", "kid": self.issuer["kid"]},
                        claims=claims)
        inner.make_signed_token(self.issuer)
        signed = inner.serialize()
        outer = jwt.JWT(header={"alg": "RSA-OAEP-256", "enc": "A256GCM", "cty": "JWT",
                                "kid": self.kid}, claims=signed)
        outer.make_encrypted_token(self.recipient)
        return outer.serialize(), signed


class BareCrypto:
    """The profile's cryptographic operations on one token, with ``cryptography`` directly."""

    def __init__(self, private: jwk.JWK, issuer: jwk.JWK) -> None:
        self.rsa = private.get_op_key("unwrapKey")
        self.ec = issuer.get_op_key("verify")
        self.oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(),
                                 label=None)

    def prepare(self, token: str, inner: str) -> tuple[bytes, ...]:
        head, ek, iv, ct, tag = token.split(".")
        ih, ip, sig = inner.split(".")
        raw = b64d(sig)
        der = encode_dss_signature(int.from_bytes(raw[:32], "big"),
                                   int.from_bytes(raw[32:], "big"))
        return (b64d(ek), b64d(iv), b64d(ct) + b64d(tag), head.encode(), der,
                f"{ih}.{ip}".encode())

    def run(self, parts: tuple[bytes, ...]) -> None:
        ek, iv, ct_tag, aad, der, signing_input = parts
        cek = self.rsa.decrypt(ek, self.oaep)
        AESGCM(cek).decrypt(iv, ct_tag, aad)
        self.ec.verify(der, signing_input, ec.ECDSA(hashes.SHA256()))


def start_validator(url: str, kek: str, workers: int, threads: int, log: Path,
                    socket_path: Path | None = None) -> tuple[subprocess.Popen[bytes], int]:
    """Start ``stagegate validator`` on a loopback port, or on ``socket_path`` (a unix
    socket; made connectable for nginx's workers, which run as another user here).
    :returns: the process and the port (0 for the socket)."""
    port = 0 if socket_path else free_port()
    bind = f"unix:{socket_path}" if socket_path else f"127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k != "VALIDATOR_REPLAY_URI"}
    env.update({"DATABASE_URL": url, "STAGEGATE_KEY_ENCRYPTION_KEY": kek,
                "STAGEGATE_SECRET_KEY": "bench"})
    stagegate = str(Path(sys.executable).with_name("stagegate"))
    proc = subprocess.Popen([stagegate, "validator", "--bind", bind,
                             "--workers", str(workers), "--threads", str(threads),
                             "--log-level", "warning"],
                            stdout=log.open("wb"), stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"validator exited: {log.read_text()[-2000:]}")
        try:
            conn = (_UnixConnection(str(socket_path)) if socket_path
                    else http.client.HTTPConnection("127.0.0.1", port, timeout=5))
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                if socket_path:
                    socket_path.chmod(0o666)  # bench only: nginx's workers run as nobody
                return proc, port
        except OSError:
            time.sleep(0.2)
    proc.terminate()
    raise SystemExit("validator did not start")


class _UnixConnection(http.client.HTTPConnection):
    """HTTP over a unix socket (the validator's health check)."""

    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=5)
        self.path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(5)
        sock.connect(self.path)
        self.sock = sock


def start_gateway(tmp: Path, name: str, validator: str, vport: int,
                  upstream_port: int) -> Any:
    """The rendered gateway (plus the no-auth location) for ``validator`` (``host:port`` or
    a socket path), prepared to run on loopback.  :returns: the prepared bundle."""
    settings = GatewaySettings(
        server_name=HOST, upstream="http://127.0.0.1:9000",
        certificate="/etc/ssl/stagegate/api.pem",
        certificate_key="/etc/ssl/stagegate/api.key",
        validator=validator, api_version=LABEL, base_paths=("/v1/",))
    profile = TokenProfile(alg="RSA-OAEP-256", enc="A256GCM", signing_alg="ES256",
                           issuer=ISSUER, audience=(AUDIENCE,))
    conf = render_nginx(settings, profile, now=datetime.now(UTC)).replace(
        "\n        # Outside the API's base paths: nothing is served.", _NOAUTH, 1)
    placeholder = vport or free_port()
    bundle = prepare_bundle({"nginx.conf": conf.encode()}, entry="nginx.conf",
                            prefix=tmp / name, stub_port=upstream_port,
                            validator_port=placeholder)
    if validator.startswith("/"):
        # the proof's rewriting points every validator upstream at a loopback port: put
        # the rendered unix socket back
        text = bundle.conf.read_text(encoding="utf-8")
        old = f"server 127.0.0.1:{placeholder};"
        if old not in text:
            raise SystemExit("the validator upstream was not found in the rewritten config")
        bundle.conf.write_text(text.replace(old, f"server unix:{validator};"),
                               encoding="utf-8")
    return bundle


# ---------------------------------------------------------------------- measuring
class Client:
    """One kept-alive HTTPS connection to the gateway."""

    def __init__(self, port: int) -> None:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        self.conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=30)
        self.errors = 0

    def get(self, path: str, token: str) -> float:
        start = time.perf_counter()
        self.conn.request("GET", path, headers={"Host": HOST, "Authorization": f"Bearer {token}"})
        response = self.conn.getresponse()
        response.read()
        elapsed = time.perf_counter() - start
        if response.status != 200:
            self.errors += 1
        return elapsed * 1000.0

    def get_next(self, path: str, tokens: Iterator[tuple[str, str]]) -> float:
        """:meth:`get` with the next token of ``tokens`` (``(token, inner JWS)`` pairs)."""
        return self.get(path, next(tokens)[0])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def sink_cost(url: str, n: int) -> dict[str, float]:
    """µs per ``record()`` for the batched and the per-decision sink (median of n)."""
    engine = sa.create_engine(url)
    decision = GatewayDecision(at=utcnow(), version=LABEL, allowed=True, rule_id=None,
                               fingerprint="0" * 16, jti_hash="a" * 64, sub="bench-user",
                               client_id="bench", kid="k" * 43, iat=1, exp=2,
                               client_address="127.0.0.1")
    out: dict[str, float] = {}
    for mode in ("batch", "each"):
        sink = DbDecisionSink(engine, batch=mode == "batch")
        samples = []
        for _ in range(n):
            start = time.perf_counter()
            sink.record(decision)
            samples.append((time.perf_counter() - start) * 1e6)
        sink.close()
        out[mode] = statistics.median(samples)
        out[mode + "-p99"] = percentile(samples, 0.99)
    engine.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4,
                        help="threads per validator worker (1: sync workers)")
    parser.add_argument("--validator-bind", choices=("both", "tcp", "unix"), default="both",
                        help="how nginx reaches the validator (both: alternating, one each)")
    parser.add_argument("--database", default=None, help="a PostgreSQL URL (default: SQLite)")
    args = parser.parse_args()

    load_before = os.getloadavg()
    kek = encode_kek(secrets.token_bytes(32))
    with tempfile.TemporaryDirectory(prefix="stagegate-bench-") as tmp_text:
        tmp = Path(tmp_text)
        url = args.database or f"sqlite:///{tmp / 'bench.sqlite'}"
        public, issuer = prepare_database(url, kek)
        minter = Minter(public, issuer)
        n_new = args.rounds * args.batch
        repeated, _ = minter.token()
        fresh = [minter.token() for _ in range(2 * n_new + 10)]
        bare_tokens = [minter.token() for _ in range(n_new + 5)]
        # the private key, for the bare-crypto measurement only (in memory)
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "KEY_ENCRYPTION_KEY": kek,
                          "SECRET_KEY": "bench"})
        with app.app_context():
            version = services.get_version("payments", "1.4.0")
            (private,) = keys.decryption_keys(version)
            db.engine.dispose()
        bare = BareCrypto(private, issuer)
        bare_parts = [bare.prepare(t, i) for t, i in bare_tokens]
        # the same validator in this process (no HTTP): what the check itself costs
        local = build_validator(app, decisions="batch")
        local_new = [minter.token()[0] for _ in range(n_new + 5)]

        binds = ("tcp", "unix") if args.validator_bind == "both" else (args.validator_bind,)
        up_bundle = prepare_bundle({"nginx.conf": _UPSTREAM}, entry="nginx.conf",
                                   prefix=tmp / "upstream", stub_port=1, validator_port=1)
        upstream_port = up_bundle.listeners[0].port
        validators: list[subprocess.Popen[bytes]] = []
        bundles: dict[str, Any] = {}
        sock_dir = tmp / "run"
        sock_dir.mkdir()
        tmp.chmod(0o755)
        sock_dir.chmod(0o755)
        try:
            for bind in binds:
                sock = sock_dir / "validator.sock" if bind == "unix" else None
                proc, vport = start_validator(url, kek, args.workers, args.threads,
                                              tmp / f"validator-{bind}.log", sock)
                validators.append(proc)
                bundles[bind] = start_gateway(tmp, f"gateway-{bind}",
                                              str(sock) if sock else f"127.0.0.1:{vport}",
                                              vport, upstream_port)
            with contextlib.ExitStack() as stack:
                stack.enter_context(NginxProcess(up_bundle, nginx=NGINX))
                tls: dict[str, int] = {}
                for bind, bundle in bundles.items():
                    stack.enter_context(NginxProcess(bundle, nginx=NGINX))
                    tls[bind] = next(lst.port for lst in bundle.listeners if lst.ssl)
                suffix = {b: (f" {b}" if len(binds) > 1 else "") for b in binds}
                clients = {"no-auth": Client(tls[binds[0]])}
                for bind in binds:
                    clients["repeat" + suffix[bind]] = Client(tls[bind])
                    clients["new" + suffix[bind]] = Client(tls[bind])
                new_iter = iter(fresh)
                bare_iter = iter(bare_parts)
                modes: dict[str, Callable[[], float]] = {
                    "no-auth": lambda: clients["no-auth"].get("/noauth/x", repeated)}
                for bind in binds:
                    rep_client = clients["repeat" + suffix[bind]]
                    new_client = clients["new" + suffix[bind]]
                    modes["repeat" + suffix[bind]] = functools.partial(
                        rep_client.get, "/v1/x", repeated)
                    modes["new" + suffix[bind]] = functools.partial(
                        new_client.get_next, "/v1/x", new_iter)
                modes.update({
                    "bare-crypto": lambda: _timed_ms(lambda: bare.run(next(bare_iter))),
                    "in-process repeat": lambda: _timed_ms(lambda: _wsgi(local.app, repeated)),
                    "in-process new": lambda: _timed_ms(lambda: _wsgi(local.app,
                                                                      next(local_iter))),
                })
                local_iter = iter(local_new)
                for run in modes.values():      # warm-up: connections, caches, keys opened
                    for _ in range(3):
                        run()
                samples: dict[str, list[float]] = {m: [] for m in modes}
                started = time.perf_counter()
                for _ in range(args.rounds):
                    for mode, run in modes.items():
                        samples[mode] += [run() for _ in range(args.batch)]
                wall = time.perf_counter() - started
                errors = {m: c.errors for m, c in clients.items()}
        finally:
            for proc in validators:
                proc.send_signal(signal.SIGTERM)
            for proc in validators:
                proc.wait(timeout=30)
        local.close()
        with sa.create_engine(url).connect() as conn:
            decisions = conn.execute(sa.text("SELECT count(*) FROM gateway_decision")).scalar()
        sinks = sink_cost(url, 2000)
    load_after = os.getloadavg()

    print(f"\nGateway benchmark: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, "
          f"load average before {load_before[0]:.2f} / after {load_after[0]:.2f}, "
          f"validator workers {args.workers} x threads {args.threads}, "
          f"validator bind {'/'.join(binds)}, "
          f"database {'SQLite' if not args.database else 'PostgreSQL'}")
    print(f"{args.rounds} alternating rounds x {args.batch} requests per mode, one request at a "
          f"time per kept-alive TLS connection; {wall:.1f} s; errors {errors}; "
          f"decisions recorded {decisions}")
    print("\n| mode | requests/s | p50 ms | p99 ms |\n|---|---|---|---|")
    p50: dict[str, float] = {}
    for mode, values in samples.items():
        p50[mode] = statistics.median(values)
        rate = 1000.0 / statistics.fmean(values)
        print(f"| {mode} | {rate:.0f} | {p50[mode]:.3f} | {percentile(values, 0.99):.3f} |")
    bare_p50 = p50["bare-crypto"]
    for bind in binds:
        added_repeat = p50["repeat" + suffix[bind]] - p50["no-auth"]
        added_new = p50["new" + suffix[bind]] - p50["no-auth"]
        surcharge = p50["new" + suffix[bind]] - p50["repeat" + suffix[bind]]
        print(f"\n{bind}: repeat adds {added_repeat:.3f} ms p50 over no-auth (target <= 1 ms): "
              f"{'met' if added_repeat <= 1.0 else 'NOT met'}")
        print(f"{bind}: new adds {added_new:.3f} ms p50 over no-auth = "
              f"{added_new / bare_p50:.2f} x bare crypto {bare_p50:.3f} ms (target <= 2x): "
              f"{'met' if added_new <= 2 * bare_p50 else 'NOT met'}")
        print(f"{bind}: new adds {surcharge:.3f} ms p50 over repeat = "
              f"{surcharge / bare_p50:.2f} x bare crypto (the first-seen surcharge; the rest "
              "is the per-subrequest cost)")
    print(f"\nin-process new = {p50['in-process new'] / bare_p50:.2f} x bare crypto")
    print(f"recording a decision: batched {sinks['batch']:.1f} µs p50 ({sinks['batch-p99']:.1f} "
          f"p99), one INSERT each {sinks['each']:.1f} µs p50 ({sinks['each-p99']:.1f} p99)")


def _wsgi(app: Any, token: str) -> None:
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/auth", "REMOTE_ADDR": "127.0.0.1",
               "HTTP_AUTHORIZATION": f"Bearer {token}", "HTTP_X_STAGEGATE_API_VERSION": LABEL,
               "HTTP_X_ORIGINAL_URI": "/v1/x", "HTTP_X_REAL_IP": "127.0.0.1"}
    list(app(environ, lambda status, headers, exc_info=None: None))


def _timed_ms(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return (time.perf_counter() - start) * 1000.0


if __name__ == "__main__":
    main()

"""Fuzz Stagegate's REST API against its own contract with schemathesis, on a live server.

    make fuzz        # or: .venv/bin/python scripts/fuzz_api.py --st .venv-fuzz/bin/st \
                     #        [--max-examples 8] [--time-limit 240] [--seed 1]

Bounded in examples and wall-clock time; CI runs it after the test suites (``.ci/run``).
schemathesis (``scripts/fuzz-requirements.txt``) lives in its own virtualenv ``.venv-fuzz``:
its releases pin ``jsonschema-rs``, which the app's openapi-spec-validator uses as well.

1. **Seed.** A fresh SQLite database in a temporary directory, migrated, with the demo
   catalog (``stagegate demo``'s APIs, versions, documents and moves) and one user
   ``fuzz@stagegate.test`` (developer of every demo team) with a personal access token.
2. **Serve.** ``gunicorn -c python:lifecycle.gunicorn_conf wsgi:app`` with 2 workers on a
   free loopback port (the scaled mode's server and settings; SQLite is enough here).
3. **Token.** ``POST /api/v1/token`` with the PAT (client credentials) → an access token.
4. **Fuzz.** ``st run <server>/api/v1/openapi.json`` (the contract as the server serves it)
   with ``Authorization: Bearer <token>``, the phases ``examples``, ``coverage`` and
   ``fuzzing``, at most ``--max-examples`` generated cases per operation, positive and
   negative data, and the checks ``not_a_server_error``, ``status_code_conformance``,
   ``content_type_conformance``, ``response_headers_conformance`` and
   ``response_schema_conformance`` — twice: once with every parameter generated (mostly
   unknown names: 404s, odd path segments), once with the path parameters ``name`` /
   ``version`` fixed to a demo version (:data:`KNOWN`, a ``schemathesis.toml``), so the
   generated bodies and queries reach the services behind the lookups.
5. **Verdict.** Exit 0 only when both runs report no failure, finished inside
   ``--time-limit`` seconds together, and the server's log holds no traceback, no worker
   timeout and no worker killed by a signal.  Exit 1 otherwise (the reason is printed); 2
   when it could not be set up (gunicorn did not start, ...).

The token is printed nowhere; schemathesis masks the Authorization header in its output.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import flask_migrate

from lifecycle import demo
from lifecycle.accounts import apitokens, services
from lifecycle.accounts.models import Team
from lifecycle.app import create_app
from lifecycle.core.crypto_store import encode_kek
from lifecycle.core.extensions import db

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
USER = "fuzz@stagegate.test"
CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_headers_conformance", "response_schema_conformance")
#: the demo version the second run's path parameters name (stagegate demo: in testing)
KNOWN = {"path.name": "inventory", "path.version": "2.0.0"}
#: what in the server's log means a crash or a hang
CRASH_SIGNS = ("Traceback", "WORKER TIMEOUT", "was sent SIG", "exited with code",
               "Segmentation fault")


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def seed(config: dict[str, object]) -> str:
    """Migrate, load the demo catalog, create the fuzzing user; returns its PAT."""
    app = create_app(config)
    with app.app_context():
        flask_migrate.upgrade(directory=str(ROOT / "lifecycle" / "migrations"))
        demo.load()
        user = services.create_user(USER, secrets.token_urlsafe(16), ["developer"],
                                    actor="fuzz")
        for team in db.session.execute(db.select(Team)).scalars():
            services.add_member(team.id, user.id, actor=user)
        db.session.commit()
        pat, _ = apitokens.create_pat(user, "fuzz", 1, actor="fuzz")
        db.session.remove()
        db.engine.dispose()
    return pat


def start_server(port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "gunicorn", "-c", "python:lifecycle.gunicorn_conf",
           "wsgi:app"]
    with open(log, "wb") as out:
        return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def request(port: int, method: str, path: str, body: bytes | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def wait_ready(proc: subprocess.Popen[bytes], port: int, limit: float = 60) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            if request(port, "GET", "/api/v1/openapi.json")[0] == 200:
                return True
        except OSError:
            pass
        time.sleep(0.3)
    return False


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group, SIGKILL after 20 s."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def access_token(port: int, pat: str) -> str:
    status, body = request(
        port, "POST", "/api/v1/token",
        urlencode({"grant_type": "client_credentials", "client_secret": pat}).encode(),
        {"Content-Type": "application/x-www-form-urlencoded"})
    if status != 200:
        raise SystemExit(f"fuzz_api: the token endpoint answered {status}: {body[:300]!r}")
    return str(json.loads(body)["access_token"])


def schemathesis_command(port: int, args: argparse.Namespace, report: Path,
                         config: Path | None = None) -> list[str]:
    base = f"http://{HOST}:{port}/api/v1"
    return [str(args.st), *(["--config-file", str(config)] if config else []), "run",
            f"{base}/openapi.json", "--url", base,
            "--checks", ",".join(CHECKS),
            "--phases", "examples,coverage,fuzzing",
            "--max-examples", str(args.max_examples),
            "--seed", str(args.seed),
            "--workers", "1",
            "--request-timeout", "30",
            "--generation-database", "none",
            "--suppress-health-check", "all",
            "--max-failures", "50",
            "--no-color",
            "--report", "junit", "--report-junit-path", str(report)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--max-examples", type=int, default=8,
                    help="generated cases per operation and phase (default 8)")
    ap.add_argument("--time-limit", type=float, default=240,
                    help="wall-clock cap in seconds for both schemathesis runs (default 240)")
    ap.add_argument("--seed", type=int, default=1, help="schemathesis seed (default 1)")
    ap.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    ap.add_argument("--st", type=Path, default=ROOT / ".venv-fuzz" / "bin" / "st",
                    help="the schemathesis command (default .venv-fuzz/bin/st; make fuzz)")
    ap.add_argument("--keep", type=Path, help="copy the server log and the JUnit report here")
    args = ap.parse_args()
    args.st = args.st.resolve()  # schemathesis runs in a temporary working folder
    if not args.st.exists():
        print(f"fuzz_api: {args.st} is missing (make fuzz installs schemathesis)",
              file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(prefix="stagegate-fuzz-") as tmp:
        work = Path(tmp)
        port = free_port()
        database = f"sqlite:///{work / 'fuzz.sqlite'}"
        secret_key, kek = secrets.token_hex(32), encode_kek(secrets.token_bytes(32))
        issuer = f"http://{HOST}:{port}"
        pat = seed({"SQLALCHEMY_DATABASE_URI": database, "SECRET_KEY": secret_key,
                    "KEY_ENCRYPTION_KEY": kek, "TOKEN_ISSUER": issuer})
        env = {**os.environ, "DATABASE_URL": database, "STAGEGATE_SECRET_KEY": secret_key,
               "STAGEGATE_KEY_ENCRYPTION_KEY": kek, "STAGEGATE_TOKEN_ISSUER": issuer,
               "STAGEGATE_BIND": f"{HOST}:{port}", "WEB_CONCURRENCY": str(args.workers),
               # several workers need shared rate-limit counters (lifecycle/gunicorn_conf.py)
               "STAGEGATE_RATELIMIT_STORAGE_URI": os.environ.get(
                   "STAGEGATE_RATELIMIT_STORAGE_URI", "redis://127.0.0.1:6379"),
               "STAGEGATE_RATELIMIT_KEY_PREFIX": f"fuzz-{port}-{os.getpid()}",
               "PYTHONFAULTHANDLER": "1"}
        log, report = work / "gunicorn.log", work / "junit.xml"
        server = start_server(port, env, log)
        started = time.monotonic()
        try:
            if not wait_ready(server, port):
                print(log.read_text(errors="replace")[-3000:])
                print("fuzz_api: the server did not start", file=sys.stderr)
                return 2
            token = access_token(port, pat)
            config = work / "schemathesis.toml"
            config.write_text("[parameters]\n" + "".join(
                f'"{key}" = "{value}"\n' for key, value in KNOWN.items()))
            code: int | None = 0
            deadline = time.monotonic() + args.time_limit
            for run, (junit, conf) in enumerate(((report, None),
                                                 (work / "junit-known.xml", config)), 1):
                cmd = schemathesis_command(port, args, junit, conf)
                print(f"fuzz_api: run {run}/2:", " ".join(cmd),
                      "-H 'Authorization: Bearer ***'", flush=True)
                try:
                    st = subprocess.run([*cmd, "-H", f"Authorization: Bearer {token}"],
                                        cwd=work, check=False,
                                        timeout=max(1.0, deadline - time.monotonic()))
                    code = code or st.returncode
                except subprocess.TimeoutExpired:
                    code = None
                    break
            server_log = log.read_text(errors="replace")  # before the shutdown signals
        finally:
            stop(server)
            if args.keep:
                args.keep.mkdir(parents=True, exist_ok=True)
                for path in (log, report, work / "junit-known.xml"):
                    if path.exists():
                        (args.keep / path.name).write_bytes(path.read_bytes())
        elapsed = time.monotonic() - started
        crashes = [sign for sign in CRASH_SIGNS if sign in server_log]
        if crashes:
            print(server_log[-5000:])
        problems = []
        if code is None:
            problems.append(f"schemathesis did not finish within {args.time_limit:.0f} s")
        elif code != 0:
            problems.append(f"schemathesis reported failures (exit {code})")
        if crashes:
            problems.append(f"the server log shows {', '.join(crashes)}")
        if problems:
            print(f"fuzz_api: FAILED after {elapsed:.0f} s: " + "; ".join(problems),
                  file=sys.stderr)
            return 1
        print(f"fuzz_api: 0 server errors, 0 contract violations ({elapsed:.0f} s)")
        return 0


if __name__ == "__main__":
    sys.exit(main())

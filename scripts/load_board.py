"""Load test of the board under gunicorn + PostgreSQL, on loopback, bounded in time.

Run on demand, never as a test (it needs PostgreSQL, minutes of CPU and a quiet machine)::

    .venv/bin/pip install gunicorn
    .venv/bin/python scripts/load_board.py \\
        [--pg-url postgresql://postgres@127.0.0.1:5432/postgres] \\
        [--server gunicorn|werkzeug] [--apis 100] [--versions-per-api 10] [--bulk] \\
        [--workers 4] [--clients 50] \\
        [--duration 60] [--request-timeout 30] [--worker-timeout 30] \\
        [--database NAME] [--keep] [--log-dir DIR] [--fail-on-timeouts]

What it does, in order:

1. **Data.** Creates a fresh database ``stagegate_load_<random>`` on the server of
   ``--pg-url`` (or uses ``--database NAME``, which it then creates if missing and keeps),
   runs the migrations and builds ``--apis`` APIs × ``--versions-per-api`` versions, each with
   one uploaded demo document (so every revision carries real ``findings``), through
   :mod:`lifecycle.catalog.services`.  An existing ``--database`` that already has the requested
   number of versions is reused as it is.  A developer of the owning team is created and a
   signed session cookie made for them (the board needs a signed-in user).
2. **Server.** Starts ``gunicorn -w N`` (sync workers) on a free port of 127.0.0.1 with
   ``PYTHONFAULTHANDLER=1`` and ``--capture-output``, so a fatal signal in a worker writes
   its Python traceback into the error log (``<log-dir>/gunicorn-error.log``); or, with
   ``--server werkzeug``, ``flask run --with-threads`` (what ``stagegate run`` serves),
   logging to ``<log-dir>/werkzeug.log``.  Environment variables of the caller pass through
   (e.g. ``PYTHONMALLOC=debug``).
3. **Load.** ``--clients`` threads GET ``/`` with the cookie in a loop for ``--duration``
   seconds (new connection per request, ``--request-timeout`` each); requests in flight when
   the time is up may finish within their timeout, then the run ends regardless.
4. **Report.** Successful requests, p50 / p95 / max latency of the 200 answers, other
   statuses, client errors, client timeouts; and from the gunicorn error log and the
   master's exit status: workers killed by a signal (``Worker (pid:…) was sent SIGSEGV!``),
   ``Fatal Python error`` blocks (with their first traceback lines), ``WORKER TIMEOUT``
   kills, non-zero worker exits and respawned workers.

Exit status: 0 = no worker crashed; 1 = at least one worker (or the master) crashed or was
killed (also on client timeouts with ``--fail-on-timeouts``); 2 = the run could not be set
up (no PostgreSQL, no gunicorn, the server did not start).

Only loopback addresses are used.  The temporary database is dropped at the end unless
``--keep`` is given.  History: this is the check for issue 8 point 4 (workers dying with
SIGSEGV while the board eagerly loaded every revision); the investigation and the runs are
in ``docs/load-board.md``.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TypedDict

import psycopg
from flask.sessions import SecureCookieSessionInterface
from flask_migrate import upgrade
from psycopg import sql

from lifecycle.accounts.sessions import session_data
from lifecycle.app import create_app
from lifecycle.catalog import services
from lifecycle.catalog.models import ApiVersion
from lifecycle.core.actor import Actor
from lifecycle.core.extensions import db

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
from board_data import TEAM, build, developer  # noqa: E402

HOST = "127.0.0.1"


# ------------------------------------------------------------------------------ database
def _with_db(pg_url: str, name: str) -> str:
    base, _, _ = pg_url.rpartition("/")
    return f"{base}/{name}"


def _admin_exec(pg_url: str, statement: sql.Composed) -> None:

    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(statement)


def create_database(pg_url: str, name: str) -> bool:
    """Create database ``name``; ``False`` if it exists already."""

    with psycopg.connect(pg_url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return True


def drop_database(pg_url: str, name: str) -> None:
    _admin_exec(pg_url, sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
        sql.Identifier(name)))


def seed(apis: int, per_api: int, bulk: bool = False) -> str:
    """Migrate and build the data in the database of ``DATABASE_URL`` (``bulk``: with
    ``scripts/board_data.py``'s bulk inserts; else through the services, one upload at a
    time); return the cookie header value of a signed-in developer."""
    specs = [p.read_bytes() for p in sorted((ROOT / "lifecycle/demo/specs").iterdir())]
    app = create_app()
    with app.app_context():
        upgrade()
        have = db.session.execute(db.select(db.func.count(ApiVersion.id))).scalar_one()
        if have and have != apis * per_api:
            raise SystemExit(f"load_board: the database has {have} versions, not "
                             f"{apis * per_api}; use another --database")
        if not have and bulk:
            print(f"built {apis * per_api} versions (bulk) in {build(apis, per_api):.0f} s",
                  flush=True)
        elif not have:
            started = time.monotonic()
            for a in range(apis):
                name = f"load-{a:04d}"
                services.create_api(name, f"Load API {a}", team=TEAM, actor=Actor.system("load"))
                for v in range(per_api):
                    services.create_version(name, f"1.{v}.0", actor=Actor.system("load"))
                    services.upload_spec(name, f"1.{v}.0", specs[(a + v) % len(specs)],
                                         uploader=Actor.system("load"))
            print(f"built {apis * per_api} versions in {time.monotonic() - started:.0f} s",
                  flush=True)
        user = developer()
        interface = app.session_interface
        assert isinstance(interface, SecureCookieSessionInterface), interface
        serializer = interface.get_signing_serializer(app)
        assert serializer is not None, "the app has no SECRET_KEY"
        cookie = serializer.dumps(dict(session_data(user)))
        name = app.config["SESSION_COOKIE_NAME"]
        db.engine.dispose()
    return f"{name}={cookie}"


# ------------------------------------------------------------------------------ server
def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def start_gunicorn(workers: int, port: int, log_dir: Path, worker_timeout: int,
                   env: dict[str, str]) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "gunicorn", "-w", str(workers), "-k", "sync",
           "-b", f"{HOST}:{port}", "--timeout", str(worker_timeout),
           "--error-logfile", str(log_dir / "gunicorn-error.log"), "--capture-output",
           "--log-level", "info", "wsgi:app"]
    with open(log_dir / "gunicorn-stdio.log", "wb") as out:
        return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def start_werkzeug(port: int, log_dir: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """``flask run`` (what ``stagegate run`` starts): one process, a thread per request."""
    cmd = [sys.executable, "-m", "flask", "--app", "wsgi:app", "run", "--host", HOST,
           "--port", str(port), "--with-threads", "--no-reload", "--no-debugger"]
    with open(log_dir / "werkzeug.log", "wb") as out:
        return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def wait_ready(port: int, cookie: str, proc: subprocess.Popen[bytes], limit: float) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"load_board: gunicorn exited with {proc.returncode} at start")
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=60)
            conn.request("GET", "/", headers={"Cookie": cookie})
            status = conn.getresponse().status
            conn.close()
            if status == 200:
                return
            raise SystemExit(f"load_board: the board answered {status} (not signed in?)")
        except OSError:
            time.sleep(0.3)
    raise SystemExit("load_board: gunicorn did not answer in time")


def stop(proc: subprocess.Popen[bytes], grace: float = 15) -> int:
    """Quick shutdown (SIGINT: workers stop now, busy or not), then SIGKILL after ``grace``
    seconds.  Returns the master's exit status (``None`` → it had to be killed)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
    return int(proc.returncode)


# ------------------------------------------------------------------------------ load
class Results:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = {}
        self.errors: dict[str, int] = {}
        self.timeouts = 0


def load(port: int, cookie: str, clients: int, duration: float,
         request_timeout: float) -> Results:
    results = Results()
    stop_at = time.monotonic() + duration

    def client() -> None:
        while time.monotonic() < stop_at:
            started = time.monotonic()
            conn = http.client.HTTPConnection(HOST, port, timeout=request_timeout)
            try:
                conn.request("GET", "/", headers={"Cookie": cookie})
                resp = conn.getresponse()
                resp.read()
            except TimeoutError:
                with results.lock:
                    results.timeouts += 1
                continue
            except (OSError, http.client.HTTPException) as exc:
                with results.lock:
                    key = type(exc).__name__
                    results.errors[key] = results.errors.get(key, 0) + 1
                time.sleep(0.05)
                continue
            finally:
                conn.close()
            elapsed = time.monotonic() - started
            with results.lock:
                results.statuses[resp.status] = results.statuses.get(resp.status, 0) + 1
                if resp.status == 200:
                    results.latencies.append(elapsed)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    hard_end = stop_at + request_timeout + 5
    for t in threads:
        t.join(max(0.0, hard_end - time.monotonic()))
    stuck = sum(t.is_alive() for t in threads)
    if stuck:
        results.errors["still-running-at-end"] = stuck
    return results


# ------------------------------------------------------------------------------ log
SENT = re.compile(r"Worker \(pid:(\d+)\) was sent (\w+(?: \d+)?)!")
EXITED = re.compile(r"Worker \(pid:(\d+)\) exited with code (\d+)")
BOOTED = re.compile(r"Booting worker with pid: (\d+)")


class ServerLog(TypedDict):
    """What :func:`parse_log` finds in the server's log: counts, and at most 3 tracebacks."""

    signals: dict[str, int]
    fatal: int
    tracebacks: list[str]
    worker_timeouts: int
    nonzero_exits: int
    booted: int


def parse_log(text: str) -> ServerLog:
    signals: dict[str, int] = {}
    for _, sig in SENT.findall(text):
        signals[sig] = signals.get(sig, 0) + 1
    fatal = [m.start() for m in re.finditer(r"^Fatal Python error: ", text, re.M)]
    tracebacks: list[str] = []  # the distinct ones, at most 3
    for start in fatal:
        block = "\n".join(text[start:start + 3000].splitlines()[:16])
        if block not in tracebacks and len(tracebacks) < 3:
            tracebacks.append(block)
    return {
        "signals": signals,
        "fatal": len(fatal),
        "tracebacks": tracebacks,
        "worker_timeouts": len(re.findall(r"WORKER TIMEOUT", text)),
        "nonzero_exits": len(EXITED.findall(text)),
        "booted": len(BOOTED.findall(text)),
    }


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


# ------------------------------------------------------------------------------ main
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres",
                    help="a database URL of the PostgreSQL server (loopback) to create in")
    ap.add_argument("--database", help="use (and keep) this database instead of a temporary one")
    ap.add_argument("--keep", action="store_true", help="keep the temporary database")
    ap.add_argument("--apis", type=int, default=100)
    ap.add_argument("--versions-per-api", type=int, default=10)
    ap.add_argument("--bulk", action="store_true",
                    help="build the data with bulk inserts (scripts/board_data.py; seconds "
                         "for 10,000 versions) instead of one upload at a time")
    ap.add_argument("--server", choices=("gunicorn", "werkzeug"), default="gunicorn",
                    help="gunicorn sync workers (default) or the threaded Werkzeug server")
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--duration", type=float, default=60, help="seconds of load (max 600)")
    ap.add_argument("--request-timeout", type=float, default=30)
    ap.add_argument("--worker-timeout", type=int, default=30,
                    help="gunicorn --timeout (its default; a WORKER TIMEOUT counts as a crash)")
    ap.add_argument("--log-dir", type=Path, help="where the gunicorn logs go (default: temp)")
    ap.add_argument("--fail-on-timeouts", action="store_true",
                    help="exit 1 on client timeouts too")
    args = ap.parse_args()
    if args.duration > 600:
        ap.error("--duration is at most 600 seconds")
    host = re.sub(r"^[a-z+]+://(?:[^@/]*@)?([^:/]+).*$", r"\1", args.pg_url)
    if host not in ("127.0.0.1", "localhost", "::1"):
        ap.error("--pg-url must point at a loopback PostgreSQL")
    try:
        import gunicorn  # noqa: F401
    except ImportError:
        print("load_board: gunicorn is not installed (.venv/bin/pip install gunicorn)",
              file=sys.stderr)
        return 2

    db_name = args.database or f"stagegate_load_{secrets.token_hex(4)}"
    temporary = args.database is None and not args.keep
    log_dir = args.log_dir or Path(tempfile.mkdtemp(prefix="load_board_"))
    log_dir.mkdir(parents=True, exist_ok=True)
    try:
        create_database(args.pg_url, db_name)
    except Exception as exc:  # noqa: BLE001 (any connection problem: report and stop)
        print(f"load_board: cannot create database {db_name}: {exc}", file=sys.stderr)
        return 2
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": _with_db(args.pg_url, db_name),
        "STAGEGATE_SECRET_KEY": env.get("STAGEGATE_SECRET_KEY") or secrets.token_hex(32),
        "STAGEGATE_KEY_ENCRYPTION_KEY": env.get("STAGEGATE_KEY_ENCRYPTION_KEY")
        or base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode(),
        "PYTHONFAULTHANDLER": "1",
    })
    os.environ.update(env)
    proc = None
    try:
        cookie = seed(args.apis, args.versions_per_api, args.bulk)
        port = free_port()
        if args.server == "gunicorn":
            proc = start_gunicorn(args.workers, port, log_dir, args.worker_timeout, env)
        else:
            proc = start_werkzeug(port, log_dir, env)
        wait_ready(port, cookie, proc, 120)
        workers = f"{args.workers} workers" if args.server == "gunicorn" else "threads"
        print(f"load: {args.clients} clients × {args.duration:.0f} s on {HOST}:{port}, "
              f"{args.server} ({workers}), {args.apis * args.versions_per_api} versions",
              flush=True)
        started = time.monotonic()
        results = load(port, cookie, args.clients, args.duration, args.request_timeout)
        wall = time.monotonic() - started
        master_alive = proc.poll() is None
        error_log = log_dir / "gunicorn-error.log"
        before_stop = error_log.read_text(errors="replace") if error_log.exists() else ""
        master_rc = stop(proc)
    except SystemExit as exc:
        print(exc, file=sys.stderr)
        return 2
    finally:
        if proc is not None and proc.poll() is None:
            stop(proc)
        if temporary:
            drop_database(args.pg_url, db_name)

    text = ""
    for name in ("gunicorn-error.log", "gunicorn-stdio.log", "werkzeug.log"):
        path = log_dir / name
        if path.exists():
            text += path.read_text(errors="replace")
    log = parse_log(text)
    signals = log["signals"]
    # a crash is a worker killed by a fault signal at any time, or killed (SIGKILL, e.g.
    # out of memory or after a timeout) before this script began the shutdown
    faults = {"SIGSEGV", "SIGBUS", "SIGILL", "SIGFPE", "SIGABRT"}
    crashed_by_signal = sum(n for sig, n in signals.items() if sig in faults or
                            sig.startswith("signal "))
    crashed_by_signal += parse_log(before_stop)["signals"].get("SIGKILL", 0)
    respawned = max(0, log["booted"] - args.workers)
    if args.server == "werkzeug" and master_rc < 0 and master_rc != -signal.SIGINT:
        # the one server process itself died of a signal (-11: SIGSEGV); counted below as
        # the master's death
        signals[signal.Signals(-master_rc).name] = 1
    lat = results.latencies
    print(f"requests: {len(lat)} ok in {wall:.0f} s ({len(lat) / wall:.2f}/s); "
          f"p50 {statistics.median(lat) if lat else float('nan'):.3f} s, "
          f"p95 {percentile(lat, 0.95):.3f} s, max {max(lat) if lat else float('nan'):.3f} s")
    print(f"statuses: {dict(sorted(results.statuses.items()))}; client errors: "
          f"{results.errors or 0}; client timeouts (> {args.request_timeout:.0f} s): "
          f"{results.timeouts}")
    print(f"workers: killed by signal {signals or 0}; fatal Python errors {log['fatal']}; "
          f"WORKER TIMEOUT {log['worker_timeouts']}; non-zero exits {log['nonzero_exits']}; "
          f"respawned {respawned}; master {'alive' if master_alive else 'DEAD'} "
          f"(exit {master_rc})")
    for tb in log["tracebacks"]:
        print("----\n" + tb)
    print(f"logs: {log_dir}")
    # a fault signal normally shows twice (faulthandler's block and the master's line); a
    # worker replaced for any reason (no --max-requests here) is a death too
    crashes = max(max(crashed_by_signal, log["fatal"]) + log["worker_timeouts"], respawned)
    crashes += 0 if master_alive else 1
    if crashes:
        print(f"FAIL: {crashes} worker/master crash(es)")
        return 1
    if args.fail_on_timeouts and results.timeouts:
        print(f"FAIL: {results.timeouts} client timeout(s)")
        return 1
    print("OK: 0 worker crashes")
    return 0


if __name__ == "__main__":
    sys.exit(main())

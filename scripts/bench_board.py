"""Benchmark of the board at scale (issue 8, acceptance 4 and 5).  Documented in README
"Benchmark"; not a test (minutes of CPU, PostgreSQL)::

    .venv/bin/pip install gunicorn          # for the load run
    .venv/bin/python scripts/bench_board.py [--pg-url postgresql://postgres@127.0.0.1:5432/postgres]
        [--small 10x10] [--large 1000x10] [--requests 20] [--backends sqlite,postgresql]
        [--load-sizes 100x10,1000x10] [--load-duration 60] [--no-load]

1. **Server time and SQL queries.**  For each backend (SQLite in a temporary file,
   PostgreSQL in a temporary database) and each size (``--small``: 100 versions, ``--large``:
   10,000 = 1,000 APIs × 10) it builds the data with bulk inserts
   (``scripts/board_data.py``: real findings of the demo documents, summaries from the real
   gate function), signs a developer in and requests each page ``--requests`` times
   in-process (the app's WSGI call: server time, no network), after two warm-up requests.
   It reports the median and p95 (nearest rank) of the server time and the SQL statements
   per request, counted with a SQLAlchemy ``before_cursor_execute`` listener on the engine.
   Pages: the board (full page; htmx fragment; filtered by stage and name; the last page),
   ``GET /api/v1/versions`` and ``GET /api/v1/apis``.
2. **Load run.**  ``scripts/load_board.py --bulk`` for each of ``--load-sizes``: gunicorn with
   4 sync workers, PostgreSQL, 50 concurrent clients, ``--load-duration`` seconds, loopback;
   it reports p50/p95 and checks the gunicorn error log and the exit signals for crashed or
   timed-out workers (its exit status 1 means a crash).

Targets (issue 8): at 10,000 versions p95 ≤ 100 ms and ≤ 10 queries per board page; the
load run p95 ≤ 300 ms with 0 worker crashes and 0 timeouts.
"""

from __future__ import annotations

import argparse
import base64
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa
from flask import Flask
from flask_migrate import upgrade
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from board_data import build, developer  # noqa: E402

from lifecycle.accounts import apitokens, sessions  # noqa: E402
from lifecycle.accounts.apitokens import _hash  # noqa: E402
from lifecycle.accounts.models import PersonalAccessToken  # noqa: E402
from lifecycle.app import create_app  # noqa: E402
from lifecycle.core.clock import clock  # noqa: E402
from lifecycle.core.extensions import db  # noqa: E402

PAGES = [
    ("board (full page)", "/", {}),
    ("board (htmx fragment)", "/", {"HX-Request": "true"}),
    ("board ?stage=development&q=load-01", "/?stage=development&q=load-01", {}),
    ("board, last page", None, {}),
    ("GET /api/v1/versions", "/api/v1/versions", {"api": "1"}),
    ("GET /api/v1/apis", "/api/v1/apis", {"api": "1"}),
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, -(-int(q * 100) * len(ordered) // 100) - 1))]


def _size(text: str) -> tuple[int, int]:
    apis, _, per = text.partition("x")
    return int(apis), int(per)


def make_app(url: str) -> Flask:
    return create_app({
        "SQLALCHEMY_DATABASE_URI": url,
        "SECRET_KEY": secrets.token_hex(32),
        "KEY_ENCRYPTION_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32))
        .rstrip(b"=").decode(),
        "JOBS_TICK_SECONDS": 0,
        "RATELIMIT_ENABLED": False,
    })


def bearer(user: Any) -> str:
    lookup = secrets.token_hex(8)
    token = f"sgp_{lookup}_{secrets.token_hex(32)}"
    now = clock()
    db.session.add(PersonalAccessToken(user_id=user.id, name="bench", lookup=lookup,
                                       secret_hash=_hash(token), created_at=now,
                                       expires_at=now + timedelta(days=1)))
    db.session.commit()
    pat = apitokens.find_pat(token)
    assert pat is not None
    return apitokens.mint(user, pat)[0]


def measure(url: str, apis: int, per_api: int, requests: int) -> list[dict[str, Any]]:
    app = make_app(url)
    statements: list[str] = []
    with app.app_context():
        upgrade()
        built = build(apis, per_api)
        user = developer()
        data = sessions.session_data(user)
        token = bearer(user)
        total = apis * per_api
        sa.event.listen(db.engine, "before_cursor_execute",
                        lambda *a, **k: statements.append(a[2]))
    print(f"  built {total} versions in {built:.1f} s", flush=True)
    client = app.test_client()
    with client.session_transaction() as session:
        session.update(data)
    last = f"/?cursor={((total - 1) // 50) * 50}"
    rows = []
    for label, path, headers in PAGES:
        path = path or last
        hdrs = {k: v for k, v in headers.items() if k != "api"}
        if "api" in headers:
            hdrs["Authorization"] = f"Bearer {token}"
        times, counts, size = [], [], 0
        for i in range(requests + 2):
            statements.clear()
            started = time.perf_counter()
            response = client.get(path, headers=hdrs)
            body = response.get_data()
            elapsed = time.perf_counter() - started
            if response.status_code != 200:
                raise SystemExit(f"{label}: {response.status_code} {body[:300]!r}")
            if i >= 2:
                times.append(elapsed * 1000)
                counts.append(len(statements))
                size = len(body)
        rows.append({"page": label, "versions": total, "median": statistics.median(times),
                     "p95": percentile(times, 0.95), "queries": max(counts),
                     "min_queries": min(counts), "bytes": size})
    with app.app_context():
        db.engine.dispose()
    return rows


def pg_database(pg_url: str, name: str, create: bool) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        if create:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        else:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))


def run_backend(backend: str, pg_url: str, sizes: list[tuple[int, int]],
                requests: int) -> list[dict[str, Any]]:
    rows = []
    for apis, per in sizes:
        print(f"{backend}: {apis} APIs × {per} versions", flush=True)
        if backend == "sqlite":
            with tempfile.TemporaryDirectory(prefix="bench_board_") as tmp:
                result = measure(f"sqlite:///{tmp}/bench.db", apis, per, requests)
        else:
            name = f"stagegate_bench_{secrets.token_hex(4)}"
            pg_database(pg_url, name, True)
            try:
                base = pg_url.rpartition("/")[0].replace("postgresql://",
                                                         "postgresql+psycopg://", 1)
                result = measure(f"{base}/{name}", apis, per, requests)
            finally:
                pg_database(pg_url, name, False)
        for row in result:
            row["backend"] = backend
        rows += result
    return rows


def report(rows: list[dict[str, Any]]) -> None:
    print("\n| backend | versions | page | median ms | p95 ms | SQL queries | bytes |")
    print("| --- | ---: | --- | ---: | ---: | ---: | ---: |")
    for r in rows:
        queries = (str(r["queries"]) if r["queries"] == r["min_queries"]
                   else f"{r['min_queries']}–{r['queries']}")
        print(f"| {r['backend']} | {r['versions']:,} | {r['page']} | {r['median']:.1f} | "
              f"{r['p95']:.1f} | {queries} | {r['bytes']:,} |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--small", default="10x10", help="APIs x versions per API (100)")
    ap.add_argument("--large", default="1000x10", help="APIs x versions per API (10,000)")
    ap.add_argument("--requests", type=int, default=20)
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--load-sizes", default="100x10,1000x10")
    ap.add_argument("--load-duration", type=float, default=60)
    ap.add_argument("--no-load", action="store_true")
    args = ap.parse_args()
    sizes = [_size(args.small), _size(args.large)]
    rows = []
    for backend in args.backends.split(","):
        rows += run_backend(backend.strip(), args.pg_url, sizes, args.requests)
    report(rows)
    failed = False
    if not args.no_load:
        for text in args.load_sizes.split(","):
            apis, per = _size(text)
            print(f"\nload run: {apis * per} versions", flush=True)
            rc = subprocess.call([sys.executable, str(ROOT / "scripts/load_board.py"), "--bulk",
                                  "--apis", str(apis), "--versions-per-api", str(per),
                                  "--pg-url", args.pg_url, "--duration",
                                  str(args.load_duration), "--fail-on-timeouts"],
                                 cwd=ROOT, env=dict(os.environ))
            print(f"load run exit status: {rc} ({'OK' if rc == 0 else 'FAIL'})", flush=True)
            failed = failed or rc != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

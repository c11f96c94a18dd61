"""Issue 8 acceptance 2: 4 gunicorn workers on PostgreSQL, 200 parallel audited actions, one
unbroken audit chain.

The app runs the way the README's scaled mode runs it — ``gunicorn -c
python:lifecycle.gunicorn_conf wsgi:app`` with ``--preload`` (so :func:`post_fork` must give
each worker its own connection pool) — as a subprocess on a free loopback port against the
test database.  20 client threads send 200 ``POST /api/v1/apis`` (one ``api.created`` entry
each, in four processes that share nothing but PostgreSQL); the chain starts empty, so the
first appends also race to create the chain head.  Afterwards ``stagegate audit verify``
passes and the chain holds exactly the 200 entries, numbered 1–200 without gaps.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from accountkit import access_token_for, make_user

from lifecycle import audit
from lifecycle.cli import main
from lifecycle.core.extensions import db

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
WORKERS = 4
ACTIONS = 200
CLIENTS = 20
START_SECONDS = 60
REQUEST_SECONDS = 60


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _request(port: int, method: str, path: str, body: dict | None = None,
             token: str | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=REQUEST_SECONDS)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        conn.request(method, path, body=json.dumps(body) if body is not None else None,
                     headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _wait_ready(proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"gunicorn exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if _request(port, "GET", "/api/v1/openapi.json")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    pytest.fail(f"gunicorn did not answer in {START_SECONDS} s:\n{log.read_text()[-3000:]}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group (graceful), SIGKILL after 20 s."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


@pytest.mark.postgres
def test_four_gunicorn_workers_append_200_parallel_actions_to_one_chain(postgres, runner,
                                                                        tmp_path):
    app = postgres
    with app.app_context():
        make_user("scaled@stagegate.test", ["developer"], teams=("shop",))
        db.session.commit()
        token = access_token_for("scaled@stagegate.test")
        assert audit.verify().entries == 0  # the chain (and its head row) starts empty

    port = _free_port()
    log = tmp_path / "gunicorn.log"
    env = {**os.environ,
           "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
           "STAGEGATE_SECRET_KEY": app.config["SECRET_KEY"],
           "STAGEGATE_KEY_ENCRYPTION_KEY": app.config["KEY_ENCRYPTION_KEY"],
           "STAGEGATE_BIND": f"{HOST}:{port}",
           "WEB_CONCURRENCY": str(WORKERS),
           # several workers need shared rate-limit counters (lifecycle/gunicorn_conf.py)
           "STAGEGATE_RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379",
           "STAGEGATE_RATELIMIT_KEY_PREFIX": f"audit-test-{port}-{os.getpid()}",
           "STAGEGATE_PRELOAD": "1",
           "PYTHONFAULTHANDLER": "1"}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "python:lifecycle.gunicorn_conf",
             "wsgi:app"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
    try:
        _wait_ready(proc, port, log)

        def create(i: int) -> int:
            return _request(port, "POST", "/api/v1/apis", {
                "name": f"scaled-{i:03d}", "title": f"Scaled {i}", "team": "shop"}, token)[0]

        with ThreadPoolExecutor(CLIENTS) as pool:
            statuses = list(pool.map(create, range(ACTIONS), timeout=300))
        text = log.read_text(errors="replace")  # before the shutdown signals
    finally:
        _stop(proc)

    assert statuses == [201] * ACTIONS, sorted(set(statuses))
    booted = set(re.findall(r"Booting worker with pid: (\d+)", text))
    assert len(booted) >= WORKERS, text[-3000:]
    assert "disposed 1 inherited database engine(s)" in text  # post_fork ran (--preload)
    for sign in ("Traceback", "WORKER TIMEOUT", "was sent SIG", "exited with code",
                 "Segmentation fault"):
        assert sign not in text, text[-3000:]

    result = runner.invoke(main, ["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert f"intact: {ACTIONS} entries" in result.output
    with app.app_context():
        entries = list(audit.iter_entries())
    assert [e["seq"] for e in entries] == list(range(1, ACTIONS + 1))
    assert len({e["prev_hash"] for e in entries}) == ACTIONS  # no two share a parent
    assert sorted(e["subject"] for e in entries if e["action"] == "api.created") == \
        [f"scaled-{i:03d}" for i in range(ACTIONS)]

"""Issue 8 point 4 (workers died with SIGSEGV while the board eagerly loaded every revision):
the regression guard for the stack-overflow hypothesis.

A C-stack overflow needs two things: a C stack smaller than the code's recursion, and a
recursion limit high enough that Python does not raise ``RecursionError`` first.  Measured
on CPython 3.11 (``docs/load-board.md``; the crash itself did not reproduce): the board of
1,000 versions renders in a thread with a 64 KiB C stack, its deepest Python stack is 92
frames, and nothing in the app or its dependencies raises ``sys.setrecursionlimit`` or sets
``threading.stack_size``.  These tests keep it that way:

- the whole board request — session, the eager load of every revision and ``json.loads`` of
  its ``findings`` column, one gate per card, the template — runs in a thread with a
  256 KiB stack (1/32 of a gunicorn worker's 8 MiB main stack; Werkzeug's threads have
  the platform default, 128 KiB on musl) and answers 200 with every card;
- creating the app and serving the board leave the interpreter's recursion limit and the
  default thread stack size as they were.

If a change makes the board recurse deeply (with a raised limit) the first test crashes the
test process with a segmentation fault instead of passing — loud, as intended.  The load
test (``scripts/load_board.py``) is the end-to-end check with gunicorn and PostgreSQL.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from lifecycle.app import create_app
from lifecycle.catalog import services
from lifecycle.core.actor import Actor

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "lifecycle" / "demo" / "specs"
SMALL_STACK = 256 * 1024
ACTOR = Actor.system("test")


@pytest.fixture
def board(app):
    """4 APIs × 3 versions, each with an uploaded demo document (so every revision has
    findings for the board's eager load to decode)."""
    docs = [p.read_bytes() for p in sorted(SPECS.iterdir())]
    with app.app_context():
        for a in range(4):
            name = f"stack-{a}"
            services.create_api(name, f"Stack {a}", team="Stack", actor=ACTOR)
            for v in range(3):
                services.create_version(name, f"1.{v}.0", actor=ACTOR)
                services.upload_spec(name, f"1.{v}.0", docs[(a + v) % len(docs)],
                                     uploader=ACTOR)
    return 12


def _in_small_stack_thread(fn):
    """Run ``fn`` in a thread whose C stack is :data:`SMALL_STACK` bytes; return its result
    or re-raise its exception."""
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 (handed to the caller)
            outcome["error"] = exc

    previous = threading.stack_size(SMALL_STACK)
    try:
        thread = threading.Thread(target=run, name="small-stack-board")
        thread.start()
    finally:
        threading.stack_size(previous)
    thread.join(120)
    assert not thread.is_alive(), "the board request did not finish"
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]


def test_board_renders_in_a_thread_with_a_small_stack(client, board):
    response = _in_small_stack_thread(lambda: client.get("/"))
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert all(f"stack-{a}" in body for a in range(4))
    assert body.count("1.2.0") >= 4


def test_app_and_board_leave_recursion_limit_and_thread_stack_alone(client, board):
    limit = sys.getrecursionlimit()
    stack = threading.stack_size()
    create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "x" * 32})
    assert client.get("/").status_code == 200
    assert sys.getrecursionlimit() == limit
    assert threading.stack_size() == stack


def test_importing_the_app_keeps_the_interpreter_default_recursion_limit(tmp_path):
    # in a fresh interpreter: an import-time ``sys.setrecursionlimit`` anywhere in the app
    # or what it imports would already be in force in this test process
    code = (
        "import sys, threading; before = sys.getrecursionlimit()\n"
        "from lifecycle.app import create_app\n"
        "import policies.check, specs.load, specs.validate, lifecycle.cli\n"
        f"create_app({{'SQLALCHEMY_DATABASE_URI': 'sqlite:///{tmp_path}/x.sqlite', "
        "'SECRET_KEY': 'x' * 32})\n"
        "print(before, sys.getrecursionlimit(), threading.stack_size())\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, env=env, timeout=120, check=True).stdout.split()
    assert out == ["1000", "1000", "0"]

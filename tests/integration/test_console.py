"""The console script: offline commands run without the web app (issue 10)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from lifecycle.console import OFFLINE_COMMANDS

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "lifecycle" / "demo" / "specs"
HEAVY = {"flask", "sqlalchemy", "flask_sqlalchemy", "lifecycle.app", "lifecycle.cli",
         "jwcrypto", "redis", "lifecycle.gateway.cli"}


def run_console(*args: str) -> tuple[int, set[str], str]:
    """Run the console entry in a fresh interpreter: exit status, the heavy modules it
    imported (from ``-X importtime``, which still reports when the process ends with
    ``os._exit``), stdout."""
    out = subprocess.run([sys.executable, "-X", "importtime", "-c",
                          "from lifecycle.console import main; main()", *args],
                         capture_output=True, text=True, cwd=ROOT, timeout=120, check=False)
    imported = set(re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s+(\S+)$", out.stderr, re.M))
    return out.returncode, imported & HEAVY, out.stdout


def test_the_offline_commands_are_those_that_need_no_app():
    assert set(OFFLINE_COMMANDS) == {"check", "jwks", "token", "gateway"}


@pytest.mark.parametrize(("name", "stage", "code"), [("payments.yaml", "deployment", 0),
                                                    ("orders.json", "testing", 1)])
def test_check_imports_neither_flask_nor_the_database_layer_nor_other_commands(
        name, stage, code):
    status, heavy, stdout = run_console("check", str(SPECS / name), "--stage", stage)
    assert status == code
    assert heavy == set()
    assert stdout.startswith("PASS" if code == 0 else "BLOCKED")


def test_a_usage_error_exits_2_without_the_app():
    status, heavy, _ = run_console("check")
    assert status == 2
    assert heavy == set()


def test_app_commands_still_reach_the_flask_group():
    status, heavy, stdout = run_console("--help")
    assert status == 0
    assert {"flask", "sqlalchemy"} <= heavy
    assert "demo" in stdout and "check" in stdout

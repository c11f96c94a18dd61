"""The console script: offline commands run without the web app (issue 10)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lifecycle.console import OFFLINE_COMMANDS

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "lifecycle" / "demo" / "specs"

# Runs ``stagegate check`` through the console entry in a fresh interpreter, then reports
# the exit status and whether Flask or SQLAlchemy was imported on the way.
PROBE = """
import json, sys
from lifecycle.console import main
try:
    main(sys.argv[1:])
    code = 0
except SystemExit as exc:
    code = exc.code
heavy = sorted(m for m in ("flask", "sqlalchemy", "flask_sqlalchemy", "lifecycle.app",
                           "lifecycle.cli", "jwcrypto", "redis", "lifecycle.gateway.cli")
               if m in sys.modules)
print(json.dumps({"code": code, "heavy": heavy}), file=sys.stderr)
"""


def run_console(*args: str) -> tuple[int, list[str], str]:
    out = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True,
                         text=True, cwd=ROOT, timeout=120, check=False)
    report = json.loads(out.stderr.strip().splitlines()[-1])
    return report["code"], report["heavy"], out.stdout


def test_the_offline_commands_are_those_that_need_no_app():
    assert set(OFFLINE_COMMANDS) == {"check", "jwks", "token", "gateway"}


@pytest.mark.parametrize(("name", "stage", "code"), [("payments.yaml", "deployment", 0),
                                                    ("orders.json", "testing", 1)])
def test_check_imports_neither_flask_nor_the_database_layer_nor_other_commands(
        name, stage, code):
    status, heavy, stdout = run_console("check", str(SPECS / name), "--stage", stage)
    assert status == code
    assert heavy == []
    assert stdout.startswith("PASS" if code == 0 else "BLOCKED")


def test_a_usage_error_names_the_command():
    status, heavy, _ = run_console("check")
    assert status == 2
    assert heavy == []


def test_app_commands_still_reach_the_flask_group():
    status, heavy, stdout = run_console("--help")
    assert status == 0
    assert "flask" in heavy and "lifecycle.cli" in heavy
    assert "demo" in stdout and "check" in stdout

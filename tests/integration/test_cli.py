"""The ``stagegate`` command: ``check`` (no app, no database) and ``demo``."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from actorkit import TESTER
from click.testing import CliRunner

from lifecycle.catalog import services
from lifecycle.catalog.models import CheckRun, Transition
from lifecycle.cli import main
from lifecycle.core.extensions import db
from lifecycle.gates import evaluate

SPECS = Path(__file__).resolve().parents[2] / "lifecycle" / "demo" / "specs"


def check(*args: str, input: bytes | None = None):
    """Run ``stagegate check`` with a plain click runner: no Flask app is given to it."""
    return CliRunner().invoke(main, ["check", *args], input=input)


class TestCheck:
    def test_a_compliant_document_passes_with_exit_0(self):
        result = check(str(SPECS / "payments.yaml"))
        assert result.exit_code == 0, result.output
        assert result.stdout.startswith("PASS")

    def test_a_blocked_document_exits_1_and_names_rule_and_line(self):
        result = check(str(SPECS / "orders.json"), "--stage", "testing")
        assert result.exit_code == 1
        assert "SPEC-OPERATIONS-SECURED" in result.stdout
        assert "orders.json:47:" in result.stdout

    def test_the_stage_decides_the_gate(self):
        # The development gate only requires a valid document.
        assert check(str(SPECS / "orders.json"), "--stage", "development").exit_code == 0

    def test_json_format(self):
        result = check(str(SPECS / "legacy-billing.yaml"), "--format", "json")
        assert result.exit_code == 1
        report = json.loads(result.stdout)
        text = json.dumps(report)
        assert "TRN-HTTPS-ONLY" in text and "deployment" in text

    def test_sarif_format_is_sarif_2_1_0(self):
        result = check(str(SPECS / "profiles-draft.yaml"), "--format", "sarif")
        assert result.exit_code == 1
        sarif = json.loads(result.stdout)
        assert sarif["version"] == "2.1.0"
        rule_ids = {r["ruleId"] for r in sarif["runs"][0]["results"]}
        assert "TRN-NO-TOKEN-IN-URL" in rule_ids

    def test_stdin_is_read_with_dash(self):
        result = check("-", input=(SPECS / "payments.yaml").read_bytes())
        assert result.exit_code == 0, result.output

    @pytest.mark.parametrize(
        ("content", "message"),
        [
            (b"openapi: 3.1.0\ninfo: [x\n", "line 3"),
            (b"", "empty"),
        ],
    )
    def test_uncheckable_input_exits_2_with_a_message_on_stderr(self, tmp_path, content,
                                                                 message):
        path = tmp_path / "doc.yaml"
        path.write_bytes(content)
        result = check(str(path))
        assert result.exit_code == 2
        assert result.stdout == ""
        assert message.lower() in result.stderr.lower()
        assert "Traceback" not in result.stderr

    @pytest.mark.parametrize(
        ("content", "pointer", "line", "message"),
        [
            (b'{"name": "not an API"}', "", 1, "not an OpenAPI document"),
            (b"# an API\nopenapi: 3.1\ninfo: {title: t, version: '1'}\npaths: {}\n",
             "/openapi", 2, "quote the version"),
        ],
    )
    def test_a_document_of_no_known_version_is_reported_like_an_upload(
            self, tmp_path, content, pointer, line, message):
        # Issue 10: the same SPEC-VALID finding as REST and the web, not exit 2 without a line.
        path = tmp_path / "doc.yaml"
        path.write_bytes(content)
        result = check(str(path), "--stage", "development", "--format", "json")
        assert result.exit_code == 1, result.stderr
        (valid,) = [f for f in json.loads(result.stdout)["findings"]
                    if f["rule_id"] == "SPEC-VALID"]
        assert (valid["status"], valid["pointer"], valid["line"]) == ("fail", pointer, line)
        assert message in valid["message"]

    def test_an_unreadable_document_in_json_format_prints_rests_answer(self, tmp_path):
        path = tmp_path / "doc.yaml"
        path.write_bytes(b"openapi: 3.1.0\ninfo: [x\n")
        result = check(str(path), "--format", "json")
        assert result.exit_code == 2
        body = json.loads(result.stdout)
        assert (body["error"], body["details"]["code"], body["details"]["line"]) == (
            "spec_unreadable", "syntax", 3)
        assert body["message"] in result.stderr

    def test_an_unreadable_document_in_sarif_format_is_a_sarif_log_saying_why(self, tmp_path):
        path = tmp_path / "doc.yaml"
        path.write_bytes(b"openapi: 3.1.0\ninfo: [x\n")
        result = check(str(path), "--format", "sarif")
        assert result.exit_code == 2
        (run,) = json.loads(result.stdout)["runs"]
        assert run["results"] == []
        (invocation,) = run["invocations"]
        assert (invocation["executionSuccessful"], invocation["exitCode"]) == (False, 2)
        (note,) = invocation["toolExecutionNotifications"]
        assert (note["level"], note["descriptor"]["id"]) == ("error", "syntax")
        assert note["message"]["text"] in result.stderr
        where = note["locations"][0]["physicalLocation"]
        assert where["region"]["startLine"] == 3
        assert where["artifactLocation"]["uri"].endswith("doc.yaml")

    def test_too_large_missing_file_and_unknown_pack_exit_2(self, tmp_path):
        result = check(str(SPECS / "payments.yaml"), "--max-bytes", "100")
        assert (result.exit_code, "limit is 100 bytes" in result.stderr) == (2, True)
        result = check("-", "--max-bytes", "100", input=b"#" * 300)
        assert (result.exit_code, "larger than the limit of 100 bytes" in result.stderr) == (
            2, True)
        result = check(str(tmp_path / "missing.yaml"))
        assert (result.exit_code, "cannot read" in result.stderr) == (2, True)
        result = check(str(SPECS / "payments.yaml"), "--policy", "no-such-pack")
        assert (result.exit_code, "no-such-pack" in result.stderr) == (2, True)

    def test_an_unknown_stage_is_a_usage_error(self):
        assert check(str(SPECS / "payments.yaml"), "--stage", "design").exit_code == 2

    def test_the_installed_console_script_runs_without_a_database(self, tmp_path):
        script = Path(sys.executable).with_name("stagegate")
        assert script.exists(), "install the package: pip install -e '.[test]'"
        # A database URL nothing listens on: `check` must not touch it.
        env = {"PATH": str(script.parent),
               "STAGEGATE_SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://nobody@127.0.0.1:1/x"}
        done = subprocess.run([str(script), "check", str(SPECS / "orders.json")], cwd=tmp_path,
                              env=env, capture_output=True, timeout=60)
        assert done.returncode == 1, done.stderr
        assert b"SPEC-OPERATIONS-SECURED" in done.stdout


class TestDemo:
    def test_demo_loads_versions_in_several_stages_through_the_gates(self, app, runner):
        result = runner.invoke(main, ["demo"])
        assert result.exit_code == 0, result.output
        with app.app_context():
            versions = services.list_versions()
            stages = {v.stage for v in versions}
            assert len(versions) >= 5
            assert {"design", "development", "testing", "deployment", "retirement"} <= stages
            runs = db.session.execute(sa.select(CheckRun)).scalars().all()
            assert any(r.passed for r in runs) and any(not r.passed for r in runs)
            promotions = db.session.execute(
                sa.select(Transition).where(Transition.kind == "promotion")
            ).scalars().all()
            assert promotions and all(t.check_run_id is not None for t in promotions)
            blocked = services.get_version("orders", "3.2.0")
            assert not evaluate.gate_status(blocked).passed
            assert evaluate.gate_status(services.get_version("payments", "1.4.0")).passed

    def test_demo_refuses_to_load_into_a_database_with_data(self, app, runner):
        with app.app_context():
            services.create_api("mine", "My API", actor=TESTER)
        result = runner.invoke(main, ["demo"])
        assert result.exit_code == 0
        assert "Nothing was changed" in result.output
        with app.app_context():
            assert [a.name for a in services.list_apis()] == ["mine"]


def test_stagegate_version_prints_stagegates_own_version():
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"stagegate {importlib.metadata.version('stagegate')}"

"""Stagegate's own REST API contract (``lifecycle/api/openapi.yaml``) passes Stagegate's own
deployment gate: ``stagegate check lifecycle/api/openapi.yaml --stage deployment`` exits 0."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from lifecycle.cli import main

CONTRACT = Path(__file__).resolve().parents[2] / "lifecycle" / "api" / "openapi.yaml"


def test_stagegate_check_passes_the_api_contract_at_the_deployment_gate() -> None:
    result = CliRunner().invoke(main, ["check", str(CONTRACT), "--stage", "deployment",
                                       "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    statuses = {f["rule_id"]: f["status"] for f in report["findings"]}
    for rule in ("SPEC-VALID", "SPEC-OPERATIONS-SECURED", "SPEC-TOKEN-PROFILE",
                 "TRN-BEARER-HEADER", "TRN-HTTPS-ONLY", "TRN-NO-TOKEN-IN-URL"):
        assert statuses[rule] == "pass", (rule, statuses[rule])


def test_the_contract_declares_stagegates_own_nested_token_profile() -> None:
    result = CliRunner().invoke(main, ["check", str(CONTRACT), "--format", "json"])
    profile = next(f for f in json.loads(result.output)["findings"]
                   if f["rule_id"] == "SPEC-TOKEN-PROFILE")
    assert profile["status"] == "pass"
    text = CONTRACT.read_text(encoding="utf-8")
    for line in ("alg: ECDH-ES+A256KW", "enc: A256GCM", "signing-alg: ES256",
                 "max-lifetime: 900"):
        assert line in text

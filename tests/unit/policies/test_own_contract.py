"""Stagegate's own REST API contract passes Stagegate's own deployment gate (spec rules)."""

from __future__ import annotations

from pathlib import Path

from policies.check import check_spec
from policies.findings import Status
from policies.gate import decide
from policies.packs import load_pack

CONTRACT = Path(__file__).resolve().parents[3] / "lifecycle" / "api" / "openapi.yaml"


def test_the_api_contract_may_enter_deployment() -> None:
    check = check_spec(CONTRACT.read_bytes())
    decision = decide(load_pack("default"), "deployment", check.findings)
    assert decision.passed, [f"{f.rule_id} {f.pointer}: {f.message}" for f in decision.blocking]
    assert check.document.openapi_version == "3.1"


def test_the_contract_declares_stagegates_own_nested_token_profile() -> None:
    check = check_spec(CONTRACT.read_bytes())
    profile = next(f for f in check.findings if f.rule_id == "SPEC-TOKEN-PROFILE")
    assert profile.status is Status.PASS
    scheme = check.document.data["components"]["securitySchemes"]["accessToken"]
    assert scheme["x-token-encryption"]["alg"] == "ECDH-ES+A256KW"
    assert scheme["x-token-encryption"]["signing-alg"] == "ES256"
    assert scheme["x-token-encryption"]["max-lifetime"] <= 900

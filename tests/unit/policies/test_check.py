"""check_spec end to end: load, validate, every rule, locations, order."""

from __future__ import annotations

import json
from typing import Any

import pytest

from policies import algorithms
from policies.check import check_spec
from policies.findings import Status
from policies.rules import Severity
from policies.spec_rules import SPEC_RULES
from specs import SpecLoadError

YAML = """\
openapi: 3.0.3
info: {title: t, version: "1"}
servers:
  - url: http://api.example.com
paths:
  /a:
    get:
      security: []
      responses:
        "200": {description: ok}
"""


def test_every_rule_reports_and_findings_are_located_and_sorted() -> None:
    check = check_spec(YAML.encode())
    assert {f.rule_id for f in check.findings} == set(SPEC_RULES)
    https = next(f for f in check.findings if f.rule_id == "TRN-HTTPS-ONLY")
    assert (https.status, https.line, https.column) == (Status.FAIL, 4, 5)
    secured = next(f for f in check.findings if f.rule_id == "SPEC-OPERATIONS-SECURED")
    assert (secured.line, secured.pointer) == (8, "/paths/~1a/get/security")
    ranks = [f.severity.rank for f in check.findings]
    assert ranks == sorted(ranks, reverse=True)
    assert check.findings[0].rule_id == "TRN-HTTPS-ONLY"


def test_json_documents_are_located_too(openapi: dict[str, Any]) -> None:
    openapi["servers"] = [{"url": "http://api.example.com"}]
    raw = json.dumps(openapi, indent=2).encode()
    check = check_spec(raw)
    https = next(f for f in check.findings if f.rule_id == "TRN-HTTPS-ONLY")
    line = raw.decode().splitlines()[https.line - 1]  # type: ignore[operator]
    assert '"url": "http://api.example.com"' in line


def test_compliant_document_has_only_passes(openapi: dict[str, Any]) -> None:
    check = check_spec(json.dumps(openapi).encode())
    assert {f.status for f in check.findings} == {Status.PASS}
    assert check.issues == ()


def test_document_without_a_supported_version_errors_instead_of_guessing() -> None:
    check = check_spec(b'{"openapi": "4.0.0", "info": {}}')
    by_rule = {f.rule_id: f for f in check.findings}
    assert by_rule["SPEC-VALID"].status is Status.FAIL
    assert by_rule["TRN-HTTPS-ONLY"].status is Status.ERROR
    assert "no OpenAPI version" in by_rule["TRN-HTTPS-ONLY"].message


def test_unreadable_bytes_raise_spec_load_error() -> None:
    with pytest.raises(SpecLoadError):
        check_spec(b"[1, 2")


def test_algorithm_tables_are_exact_and_case_sensitive() -> None:
    assert algorithms.classify(algorithms.JWE_ALG, "RSA-OAEP-256").allowed
    assert not algorithms.classify(algorithms.JWE_ALG, "Rsa-Oaep-256").allowed
    none = algorithms.classify(algorithms.JWS_ALG, "NONE")
    assert not none.allowed and none.severity is Severity.CRITICAL
    assert not algorithms.classify(algorithms.JWE_ENC, 256).allowed
    assert algorithms.allowed_values(algorithms.JWE_ENC)[0] == "A256GCM"

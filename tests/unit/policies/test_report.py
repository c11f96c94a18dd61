"""Text, JSON and SARIF 2.1.0 renderings of a check and its gate decision."""

from __future__ import annotations

import json

import pytest

from policies.check import SpecCheck, check_spec
from policies.gate import GateDecision, decide
from policies.packs import load_pack
from policies.report import SARIF_LEVELS, render_json, render_sarif, render_text
from policies.rules import Severity, all_rules

YAML = b"""\
openapi: 3.0.3
info: {title: t, version: "1"}
servers:
  - url: http://api.example.com
  - url: https://api.example.com
paths:
  /a:
    get:
      security: []
      responses:
        "200": {description: ok}
"""


@pytest.fixture(scope="module")
def checked() -> tuple[SpecCheck, GateDecision]:
    check = check_spec(YAML)
    return check, decide(load_pack("default"), "testing", check.findings)


def test_text_has_verdict_then_each_blocking_finding(
    checked: tuple[SpecCheck, GateDecision]
) -> None:
    check, decision = checked
    text = render_text(check, decision, "api.yaml")
    first = text.splitlines()[0]
    assert first.startswith("BLOCKED:") and "testing" in first
    assert "CRITICAL TRN-HTTPS-ONLY  api.yaml:4:5" in text
    assert "HIGH     SPEC-OPERATIONS-SECURED  api.yaml:9:7" in text
    assert "How to fix:" in text
    assert text.count("BLOCKED") == 1


def test_json_has_document_decision_and_enriched_findings(
    checked: tuple[SpecCheck, GateDecision]
) -> None:
    check, decision = checked
    data = render_json(check, decision, "api.yaml")
    json.dumps(data)  # plain JSON values only
    assert data["document"]["sha256"] == check.document.sha256
    assert data["decision"]["passed"] is False
    https = next(f for f in data["findings"] if f["rule_id"] == "TRN-HTTPS-ONLY")
    assert https["blocking"] is True and https["title"] and https["remediation"]
    assert https["sources"][0]["url"].startswith("https://")


def test_sarif_shape(checked: tuple[SpecCheck, GateDecision]) -> None:
    check, decision = checked
    log = json.loads(json.dumps(render_sarif(check, decision, "specs/api.yaml")))
    assert log["version"] == "2.1.0" and log["$schema"].endswith("sarif-2.1.0.json")
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "stagegate"
    rule_ids = [r["id"] for r in driver["rules"]]
    assert rule_ids == [r.id for r in all_rules()]
    for rule in driver["rules"]:
        assert rule["shortDescription"]["text"] and rule["helpUri"].startswith("https://")
        assert rule["defaultConfiguration"]["level"] in {"error", "warning", "note"}
    results = run["results"]
    assert results and all(r["message"]["text"] for r in results)
    for result in results:
        assert driver["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
        location = result["locations"][0]["physicalLocation"]
        assert location["artifactLocation"]["uri"] == "specs/api.yaml"
    https = next(r for r in results if r["ruleId"] == "TRN-HTTPS-ONLY")
    assert https["level"] == "error"
    assert https["locations"][0]["physicalLocation"]["region"] == {
        "startLine": 4, "startColumn": 5}
    assert https["properties"]["blocking"] is True
    # only non-passing findings become results
    failing = [f for f in check.findings if f.status.blocks]
    assert len(results) == len(failing)


def test_sarif_levels_follow_severity() -> None:
    assert [SARIF_LEVELS[s] for s in Severity] == ["error", "error", "warning", "note"]

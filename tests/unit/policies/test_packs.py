"""Loading and validating policy packs."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from policies.packs import GATED_STAGES, PACKS_DIR, PackError, load_pack, parse_pack
from policies.rules import Evidence, Severity

VALID = """\
name: strict
stages:
  development: {require: [SPEC-VALID]}
  testing: {apply: {evidence: [spec]}, block_on: high}
  deployment:
    apply: {rules: [TRN-HTTPS-ONLY]}
    block_on: low
    severity_overrides: {TRN-HTTPS-ONLY: medium}
  retirement: {}
"""


def test_default_pack_matches_the_design() -> None:
    pack = load_pack("default")
    assert pack.name == "default"
    assert pack.sha256 == hashlib.sha256((PACKS_DIR / "default.yaml").read_bytes()).hexdigest()
    assert tuple(pack.stages) == GATED_STAGES
    dev, testing, deployment, retirement = (pack.stage(s) for s in GATED_STAGES)
    assert dev.require == {"SPEC-VALID"} and dev.block_on is None
    assert testing.block_on is Severity.HIGH and Evidence.SPEC in testing.evidence
    assert deployment.block_on is Severity.MEDIUM
    assert retirement.block_on is None and retirement.applied_rules() == []


def test_pack_from_a_path(tmp_path: Path) -> None:
    path = tmp_path / "strict.yaml"
    path.write_text(VALID)
    pack = load_pack(path)
    deployment = pack.stage("deployment")
    assert [r.id for r in deployment.applied_rules()] == ["TRN-HTTPS-ONLY"]
    assert deployment.severity_overrides == {"TRN-HTTPS-ONLY": Severity.MEDIUM}
    assert pack.source == str(path)


@pytest.mark.parametrize(("text", "expected"), [
    (VALID.replace("SPEC-VALID", "SPEC-NOPE"), "unknown rule id 'SPEC-NOPE'"),
    (VALID.replace("block_on: high", "block_on: severe"), "'severe' is not a severity"),
    (VALID.replace("block_on: high", "block_on: HIGH"), "'HIGH' is not a severity"),
    (VALID.replace("evidence: [spec]", "evidence: [tokens]"), "'tokens' is not a evidence kind"),
    (VALID.replace("TRN-HTTPS-ONLY: medium", "TRN-HTTPS-ONLY: urgent"), "not a severity"),
    (VALID.replace("TRN-HTTPS-ONLY: medium", "TRN-NOPE: low"), "unknown rule id 'TRN-NOPE'"),
    (VALID.replace("testing:", "staging:"), "unknown stage 'staging'"),
    (VALID.replace("retirement: {}", "design: {}"), "initial stage"),
    (VALID.replace("  retirement: {}\n", ""), "no gate for stage(s) retirement"),
    (VALID.replace("block_on: low", "blocks_on: low"), "unknown key(s) 'blocks_on'"),
    (VALID.replace("name: strict", "name: Strict Pack"), "`name` must be"),
    ("stages: [1\n", "not valid YAML at line"),
    ("- a list\n", "must be a mapping"),
])
def test_invalid_packs_raise_a_clear_pack_error(text: str, expected: str) -> None:
    with pytest.raises(PackError) as info:
        parse_pack(text.encode(), source="strict.yaml")
    assert expected in info.value.message
    assert "strict.yaml" in info.value.message


def test_unknown_builtin_pack_names_the_builtin_ones() -> None:
    with pytest.raises(PackError, match="built-in packs: default"):
        load_pack("nonexistent")


def test_missing_file_is_a_pack_error(tmp_path: Path) -> None:
    with pytest.raises(PackError, match="could not be read"):
        load_pack(tmp_path / "missing.yaml")

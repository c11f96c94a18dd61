"""Every document of the public corpus through ``stagegate check`` and the upload API.

The corpus (``tests/corpus/public/``; sources and licences in ``tests/corpus/README.md``) holds
public OpenAPI documents from 177 B to 4.2 MB with ``MANIFEST.tsv`` stating, per file, the
verdict of openapi-spec-validator 0.9.0 (``valid``, ``invalid`` or ``unknown``).  For each
document: the CLI exits 0 or 1 (never 2, never a crash), the upload answers 201 (never 500),
and ``SPEC-VALID`` agrees with the manifest wherever the manifest is sure.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from lifecycle.cli import main

pytestmark = pytest.mark.slow

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "public"
MANIFEST = CORPUS / "MANIFEST.tsv"
EXPECTED_STATUS = {"valid": {"pass"}, "invalid": {"fail", "error"}}


def _manifest() -> dict[str, dict[str, str]]:
    with MANIFEST.open(newline="", encoding="utf-8") as fh:
        return {row["file"]: row for row in csv.DictReader(fh, delimiter="\t")}


def _documents() -> list[Any]:
    if not MANIFEST.is_file():
        return [pytest.param(None, id="corpus-missing")]
    names = sorted(p.name for p in CORPUS.iterdir()
                   if p.is_file() and p.name not in {"MANIFEST.tsv", "README.md"})
    return [pytest.param(name, id=name) for name in names]


def _require_corpus() -> dict[str, dict[str, str]]:
    if not MANIFEST.is_file():
        pytest.fail(f"The spec corpus is missing: no {MANIFEST} (it is part of the repository).")
    return _manifest()


def spec_valid(findings: list[dict[str, Any]], key: str) -> set[str]:
    """Statuses of the ``SPEC-VALID`` findings (one ``fail`` per issue, or one ``pass``)."""
    statuses = {f["status"] for f in findings if f[key] == "SPEC-VALID"}
    assert statuses, "no SPEC-VALID finding"
    assert statuses == {"pass"} or "pass" not in statuses
    return statuses


def content_format(raw: bytes) -> str:
    # From the bytes, not the name: osv-bench-kubernetes.yaml is JSON in a .yaml file.
    return "json" if raw.lstrip()[:1] == b"{" else "yaml"


def test_the_manifest_lists_every_document_and_nothing_else():
    manifest = _require_corpus()
    on_disk = {p.name for p in CORPUS.iterdir() if p.is_file()} - {"MANIFEST.tsv", "README.md"}
    assert set(manifest) == on_disk
    assert len(on_disk) >= 30
    assert {row["expected_validity"] for row in manifest.values()} <= {"valid", "invalid",
                                                                        "unknown"}


@pytest.mark.parametrize("name", _documents())
def test_a_corpus_document_is_checked_and_uploaded(runner, client, name):
    manifest = _require_corpus()
    row = manifest[name]
    path = CORPUS / name
    raw = path.read_bytes()
    assert len(raw) == int(row["size_bytes"])

    result = runner.invoke(main, ["check", str(path), "--stage", "development", "--format",
                                  "json"])
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{name}: the CLI crashed: {result.exception!r}")
    assert result.exit_code in (0, 1), f"{name}: exit {result.exit_code}: {result.stderr}"
    report = json.loads(result.stdout)
    assert report["document"]["format"] == content_format(raw)
    cli_valid = spec_valid(report["findings"], "rule_id")

    assert client.post("/api/v1/apis", json={"name": "corpus", "title": name,
                                              "team": "shop"}).status_code == 201
    assert client.post("/api/v1/apis/corpus/versions", json={"version": "1"}).status_code == 201
    response = client.put("/api/v1/apis/corpus/versions/1/spec", data=raw,
                          content_type="application/octet-stream")
    assert response.status_code == 201, f"{name}: {response.get_data(as_text=True)[:2000]}"
    body = response.get_json()
    assert body["revision"]["size"] == len(raw)
    assert body["revision"]["format"] == content_format(raw)
    assert body["revision"]["sha256"] == report["document"]["sha256"]
    api_valid = spec_valid(body["compliance"]["findings"], "rule")

    assert api_valid == cli_valid, name
    assert report["decision"]["passed"] == body["compliance"]["passed"], name
    expected = row["expected_validity"]
    if expected in EXPECTED_STATUS:
        assert api_valid <= EXPECTED_STATUS[expected], (
            f"{name}: manifest says {expected}, SPEC-VALID is {sorted(api_valid)}")
    if expected == "invalid":
        assert body["compliance"]["passed"] is False  # development requires SPEC-VALID

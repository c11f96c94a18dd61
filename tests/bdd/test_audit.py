"""Scenarios of features/audit/audit_trail.feature: audit verification and signed gate
records, through the REST API, the ``stagegate`` CLI, the ``/audit`` page and (for the
tampering) raw SQL."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import sqlalchemy as sa
from approvalkit import bearer_for
from click.testing import CliRunner
from pytest_bdd import given, parsers, scenarios, then, when

from lifecycle.cli import main
from lifecycle.core.extensions import db

scenarios("audit/audit_trail.feature")

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def audit_entries(client: Any) -> list[dict[str, Any]]:
    response = client.get("/api/v1/audit", query_string={"order": "asc", "limit": 500},
                          headers=bearer_for(client.application, "auditor@stagegate.test"))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["entries"]


def entry_of(client: Any, action: str) -> dict[str, Any]:
    return next(e for e in audit_entries(client) if e["action"] == action)


def run_sql(app: Any, statement: str, **params: Any) -> None:
    with app.app_context(), db.engine.begin() as conn:
        assert conn.execute(sa.text(statement), params).rowcount == 1


@pytest.fixture
def verification(runner):
    """Runs ``stagegate audit verify`` against the scenario's database."""
    return lambda: runner.invoke(main, ["audit", "verify"])


# ----------------------------------------------------------------------------- given
@given(parsers.parse('the promotion to "{stage}" was refused'))
def _(client, version_url, stage):
    response = client.post(f"{version_url}/transitions", json={"to": stage,
                                                               "actor": "api-team"})
    assert response.status_code == 409 and response.get_json()["error"] == "gate_failed"


# ----------------------------------------------------------------------------- when
@when("someone changes the refused promotion's entry directly in the database",
      target_fixture="tampered")
def _(app, client):
    entry = entry_of(client, "gate.blocked")
    forged = {**entry["data"], "blocking": []}  # as if nothing had blocked it
    run_sql(app, "UPDATE audit_entry SET data = :d WHERE seq = :s", d=json.dumps(forged),
            s=entry["seq"])
    return entry


@when("someone deletes the upload's entry directly in the database", target_fixture="tampered")
def _(app, client):
    entry = entry_of(client, "spec.uploaded")
    run_sql(app, "DELETE FROM audit_entry WHERE seq = :s", s=entry["seq"])
    return entry


@when("I download the gate record of the promotion and Stagegate's published signing keys",
      target_fixture="download")
def _(client, version_url, tmp_path):
    listing = client.get(f"{version_url}/gate-records").get_json()["records"]
    record = next(r for r in listing if r["decision"] == "passed")
    body = client.get(record["url"])
    assert body.status_code == 200 and body.mimetype == "application/jose"
    keys = client.get("/api/v1/signing-keys.json")
    assert keys.status_code == 200
    paths = {"record": tmp_path / "record.jws", "jwks": tmp_path / "signing-keys.json"}
    paths["record"].write_bytes(body.get_data())
    paths["jwks"].write_bytes(keys.get_data())
    return {"record": record, "paths": paths, "bytes": body.get_data()}


@when(parsers.parse("I change one character of the record's {part}"))
def _(download, part):
    raw = download["bytes"].decode()
    header, payload, _ = raw.split(".")
    # the last character of the part: the one where a lenient decoder ignores some bits
    index = {"header": len(header) - 1, "payload": len(header) + len(payload),
             "signature": len(raw) - 1}[part]
    flipped = ALPHABET[ALPHABET.index(raw[index]) ^ 1]
    download["paths"]["record"].write_text(raw[:index] + flipped + raw[index + 1:])


@when(parsers.parse('an approver filters the audit page by the action "{action}"'),
      target_fixture="audit_page")
def _(auth, action):
    approver = auth.client("approver")
    response = approver.get("/audit", query_string={"action": action})
    assert response.status_code == 200, response.get_data(as_text=True)
    return {"client": approver, "html": response.get_data(as_text=True)}


# ----------------------------------------------------------------------------- then
@then(parsers.parse('the page lists one entry about "{subject}" linking to its version page'))
def _(audit_page, subject):
    html = audit_page["html"]
    assert len(re.findall(r'<tr data-seq="\d+">', html)) == 1
    name, version = subject.split("@")
    assert f'href="/apis/{name}/versions/{version}">version page</a>' in html


@then("its signed gate record downloads from the entry's link")
def _(audit_page):
    link = re.search(r'href="([^"]+/gate-records/[^"]+)">gate record</a>', audit_page["html"])
    assert link, audit_page["html"]
    record = audit_page["client"].get(link.group(1))
    assert record.status_code == 200 and record.mimetype == "application/jose"


@then("a developer is refused the audit page")
def _(auth):
    assert auth.client("developer").get("/audit").status_code == 403


@then(parsers.parse("the audit trail shows, oldest first: {actions}"))
def _(client, actions):
    expected = [a.strip().strip('"') for a in actions.split(",")]
    assert [e["action"] for e in audit_entries(client)] == expected


@then("the promotion's entry names who promoted the version and its signed gate record")
def _(client, version_url):
    entry = entry_of(client, "transition.promotion")
    history = client.get(f"{version_url}/history").get_json()["events"]
    promotion = next(e for e in history if e.get("kind") == "promotion")
    assert entry["actor"] == promotion["actor"] and entry["actor"] != "anonymous"
    assert entry["subject"] == "orders@1.0.0"
    records = client.get(f"{version_url}/gate-records").get_json()["records"]
    assert entry["data"]["gate_record"] in {r["id"] for r in records}


@then("verifying the audit trail reports every entry intact")
def _(client, verification):
    result = verification()
    assert result.exit_code == 0, result.output
    assert f"intact: {len(audit_entries(client))} entries" in result.output


@then("verifying the audit trail fails and names the refused promotion's entry",
      target_fixture="result")
@then("verifying the audit trail fails and names the upload's entry as missing",
      target_fixture="result")
def _(verification, tampered):
    result = verification()
    assert result.exit_code == 1, result.output
    assert f"BROKEN at entry {tampered['seq']}:" in result.output
    if tampered["action"] == "spec.uploaded":
        assert f"entry {tampered['seq']} is missing" in result.output
    return result


@then("it reports the entries before it as intact")
def _(result, tampered):
    assert f"entries up to {tampered['seq'] - 1} are intact" in result.output


@then(parsers.parse('the record verifies offline and says the promotion into "{stage}" '
                    "passed"))
def _(download, stage):
    paths = download["paths"]
    result = CliRunner().invoke(main, ["verify-record", str(paths["record"]), "--jwks",
                                       str(paths["jwks"])])
    assert result.exit_code == 0, result.output
    assert f"passed into {stage}" in result.output
    assert download["record"]["id"] in result.output


@then("the record no longer verifies")
def _(download):
    paths = download["paths"]
    assert paths["record"].read_bytes() != download["bytes"]
    result = CliRunner().invoke(main, ["verify-record", str(paths["record"]), "--jwks",
                                       str(paths["jwks"])])
    assert result.exit_code == 1, result.output
    assert result.output.startswith("INVALID")

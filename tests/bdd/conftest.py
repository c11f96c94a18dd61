"""Steps shared by the feature files, driving the real app through its REST API.

Every step talks to ``/api/v1`` with the Flask test ``client`` (real app, real database,
no mocks).  ``response`` is the last answer a ``When`` step got; ``uploads`` remembers the
bytes of every upload in order.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from accountkit import make_user
from approvalkit import bearer_for
from documents import ORDERS
from evidencekit import gateway_proven
from paritykit import GatePage, as_page_lists, finding_of, run_check, web_lists
from pytest_bdd import given, parsers, then, when

from lifecycle.accounts.services import user_by_email

#: A document that passes every gate of the default pack (Orders API, JWE access tokens).
COMPLIANT = ORDERS

INFO_WITHOUT_VERSION = COMPLIANT.replace(b"  version: 1.0.0\n", b"", 1)
PUBLIC_OPERATION = COMPLIANT.replace(
    b"      responses:", b"      security: []\n      responses:", 1
)
EXPLICITLY_SECURED = COMPLIANT.replace(
    b"      responses:", b"      security:\n        - accessToken: []\n      responses:", 1
)
assert len({COMPLIANT, INFO_WITHOUT_VERSION, PUBLIC_OPERATION, EXPLICITLY_SECURED}) == 4

# ----------------------------------------------------------------------------- helpers
def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    """The JSON error body of ``response`` after checking its status and shape."""
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    assert response.is_json
    body = response.get_json()
    assert body["error"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    assert "Traceback" not in response.get_data(as_text=True)
    return body


def upload(client: Any, version_url: str, raw: bytes, uploads: list[bytes]) -> Any:
    uploads.append(raw)
    return client.put(f"{version_url}/spec", data=raw, content_type="application/octet-stream")


#: who moves versions into deployment in steps without a named actor: the default client is
#: a developer (least privilege), and only approvers may move into deployment
RELEASE_APPROVER = "release-approver@stagegate.test"


def move(client: Any, version_url: str, stage: str, reason: str | None = None,
         actor: str | None = None) -> Any:
    """Ask for a move; with ``actor``, as the user of that name (a developer of team Checkout,
    which owns the scenarios' API, and an approver; created on first use): the history
    records who asked, taken from the access token.  Without one,
    as ``client``'s developer — or, into ``deployment``, as :data:`RELEASE_APPROVER`."""
    body: dict[str, Any] = {"to": stage}
    if reason is not None:
        body["reason"] = reason
    headers = {}
    if actor is not None:
        with client.application.app_context():
            if user_by_email(actor) is None:
                make_user(actor, ("developer", "approver"), teams=("Checkout",))
        headers = bearer_for(client.application, actor)
    elif stage == "deployment":
        headers = bearer_for(client.application, RELEASE_APPROVER)
    return client.post(f"{version_url}/transitions", json=body, headers=headers)


def stage_of(client: Any, version_url: str) -> str:
    response = client.get(version_url)
    assert response.status_code == 200
    return response.get_json()["stage"]


def compliance(client: Any, version_url: str) -> dict[str, Any]:
    response = client.get(f"{version_url}/compliance")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def line_of(raw: bytes, needle: bytes) -> int:
    """1-based line of the first occurrence of ``needle``."""
    return raw[: raw.index(needle)].count(b"\n") + 1


@pytest.fixture
def uploads() -> list[bytes]:
    """Bytes of every upload of the scenario, in order."""
    return []


# ----------------------------------------------------------------------------- given
@given(parsers.parse('the API "{name}" titled "{title}" owned by the team "{team}"'),
       target_fixture="api_name")
def _(client, name, title, team):
    response = client.post("/api/v1/apis", json={"name": name, "title": title, "team": team})
    assert response.status_code == 201, response.get_data(as_text=True)
    return name


@given(parsers.parse('its version "{version}", which starts in "{stage}"'),
       target_fixture="version_url")
def _(client, api_name, version, stage):
    response = client.post(f"/api/v1/apis/{api_name}/versions", json={"version": version})
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["stage"] == stage
    return f"/api/v1/apis/{api_name}/versions/{version}"


@given("the version has a compliant document", target_fixture="first_revision")
def _(client, version_url, uploads):
    response = upload(client, version_url, COMPLIANT, uploads)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()["revision"]


@given(parsers.parse('the version was promoted to "{stage}" with a compliant document'),
       target_fixture="first_revision")
def _(client, version_url, uploads, stage):
    response = upload(client, version_url, COMPLIANT, uploads)
    assert response.status_code == 201, response.get_data(as_text=True)
    revision = response.get_json()["revision"]
    while stage_of(client, version_url) != stage:
        step = compliance(client, version_url)["target"]
        promoted = move(client, version_url, step)
        assert promoted.status_code == 201, promoted.get_data(as_text=True)
    return revision


@given(parsers.parse("the organisation accepts documents of at most {limit:d} bytes"))
def _(app, limit):
    app.config["SPEC_MAX_BYTES"] = limit


# ----------------------------------------------------------------------------- when
@when(parsers.parse('I promote the version to "{stage}"'), target_fixture="response")
def _(client, version_url, stage):
    return move(client, version_url, stage)


# --- four-eyes approval (lifecycle/review/approvals.py; steps of features/review/ use it too)
@when(parsers.parse('I request the promotion to "{stage}" and another approver approves it'),
      target_fixture="response")
def _(client, version_url, stage):
    from approvalkit import promote_with_approval

    return promote_with_approval(client, version_url, stage)
# --- end four-eyes approval


@given("the version's gateway is configured and proven with a real nginx")
@when("the version's gateway is configured and proven with a real nginx")
def _(client, version_url):
    gateway_proven(client, version_url)


@when(parsers.parse('"{actor}" demotes the version to "{stage}" because "{reason}"'),
      target_fixture="response")
def _(client, version_url, actor, stage, reason):
    return move(client, version_url, stage, reason=reason, actor=actor)


@when(parsers.parse('"{actor}" demotes the version to "{stage}" without a reason'),
      target_fixture="response")
def _(client, version_url, actor, stage):
    return move(client, version_url, stage, actor=actor)


@when(parsers.parse('"{actor}" demotes the version to "{stage}" with a blank reason'),
      target_fixture="response")
def _(client, version_url, actor, stage):
    return move(client, version_url, stage, reason="   \n ", actor=actor)


@when("I upload a document whose info has no version", target_fixture="response")
def _(client, version_url, uploads):
    return upload(client, version_url, INFO_WITHOUT_VERSION, uploads)


@when("I upload the corrected document", target_fixture="response")
@when("I upload the compliant document again", target_fixture="response")
def _(client, version_url, uploads):
    return upload(client, version_url, COMPLIANT, uploads)


@when("I upload a document in which GET /orders/{id} has an empty security list",
      target_fixture="response")
def _(client, version_url, uploads):
    return upload(client, version_url, PUBLIC_OPERATION, uploads)


@when("I upload a document in which GET /orders/{id} requires the access token",
      target_fixture="response")
def _(client, version_url, uploads):
    return upload(client, version_url, EXPLICITLY_SECURED, uploads)


# ----------------------------------------------------------------------------- bad uploads
PNG_HEADER = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06"


def alias_bomb() -> bytes:
    """Billion laughs: nine levels, each listing the previous nine times."""
    lines = ['lol0: &lol0 "lol"']
    lines += [f"lol{i}: &lol{i} [" + ", ".join([f"*lol{i - 1}"] * 9) + "]" for i in range(1, 10)]
    return ("\n".join(lines) + "\n").encode()


BAD_FILES = {
    "a YAML alias bomb": alias_bomb,
    # random bytes always contain a byte sequence that is not UTF-8 (0xff never is)
    "a binary file": lambda: b"\xff" + os.urandom(4096),
    "a PNG picture": lambda: PNG_HEADER + os.urandom(512),
    "a JSON array": lambda: b'[{"openapi": "3.1.0"}]',
    "a document with a duplicated key": lambda: COMPLIANT.replace(
        b"servers:", b"info: {title: Again, version: '2'}\nservers:", 1),
    "an empty file": lambda: b"  \n\n",
}


@when(parsers.re("I upload (?P<bad_file>" + "|".join(BAD_FILES) + ")$"),
      target_fixture="response")
def _(client, version_url, uploads, bad_file):
    return upload(client, version_url, BAD_FILES[bad_file](), uploads)


@when(parsers.parse("I upload a document of {size:d} bytes"), target_fixture="response")
def _(client, version_url, uploads, size):
    raw = COMPLIANT + b"#" * (size - len(COMPLIANT))
    assert len(raw) == size
    return upload(client, version_url, raw, uploads)


@when(parsers.parse("I upload a YAML document indented with a tab on line {line:d}"),
      target_fixture="response")
def _(client, version_url, uploads, line):
    lines = COMPLIANT.decode().splitlines()
    lines[line - 1] = "\t" + lines[line - 1].lstrip()
    return upload(client, version_url, ("\n".join(lines) + "\n").encode(), uploads)


@when("I upload a document that says openapi: 3.1 without quotes on line 2",
      target_fixture="response")
def _(client, version_url, uploads):
    raw = b"# Orders API, draft\n" + COMPLIANT.replace(b"openapi: 3.1.0", b"openapi: 3.1", 1)
    return upload(client, version_url, raw, uploads)


# ----------------------------------------------------------------------------- then
@then(parsers.parse('the promotion is refused by the "{stage}" gate because of "{rule}"'))
def _(response, stage, rule):
    body = assert_error(response, 409, "gate_failed")
    assert body["details"]["target"] == stage
    assert body["details"]["rules"] == [rule]
    assert rule in body["message"]


@then(parsers.parse('the promotion is refused by the "{stage}" gate, which asks for a sample '
                    'access token'))
def _(response, stage):
    body = assert_error(response, 409, "gate_failed")
    assert body["details"]["target"] == stage
    assert "TOK-NESTED-JWE" in body["details"]["rules"]
    blocking = body["details"]["blocking"]
    assert {f["status"] for f in blocking} == {"missing-evidence"}
    token = next(f for f in blocking if f["rule"] == "TOK-NESTED-JWE")
    assert "sample access token" in token["message"].lower()


@then("the blocking finding says that no OpenAPI document has been uploaded")
def _(response):
    blocking = response.get_json()["details"]["blocking"]
    assert blocking
    assert all(f["status"] == "missing-evidence" for f in blocking)
    assert all("No OpenAPI document" in f["message"] for f in blocking)


@then(parsers.parse('the version is still in "{stage}"'))
@then(parsers.parse('the version is in "{stage}"'))
def _(client, version_url, stage):
    assert stage_of(client, version_url) == stage


@then(parsers.parse("the document is stored as revision {number:d}"))
def _(response, number):
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert body["created"] is True
    assert body["revision"]["number"] == number


def _blocked_at(client: Any, version_url: str, stage: str, rule: str, line: int) -> Any:
    body = compliance(client, version_url)
    assert (body["target"], body["passed"]) == (stage, False)
    assert [f["rule"] for f in body["blocking"]] == [rule]
    (finding,) = body["blocking"]
    assert finding["status"] == "fail"
    assert finding["line"] == line, finding
    assert finding["pointer"] is not None
    return finding


@then(parsers.parse('the gate into "{stage}" is blocked by "{rule}" at line {line:d} of the '
                    "document"), target_fixture="blocking_finding")
def _(client, version_url, stage, rule, line):
    return _blocked_at(client, version_url, stage, rule, line)


@then(parsers.parse('the gate into "{stage}" is blocked by "{rule}" at the line of that '
                    "security list"), target_fixture="blocking_finding")
def _(client, version_url, uploads, stage, rule):
    line = line_of(uploads[-1], b"security: []")
    finding = _blocked_at(client, version_url, stage, rule, line)
    assert finding["pointer"] == "/paths/~1orders~1{id}/get/security"
    return finding


def _checked(tmp_path: Path, raw: bytes) -> Any:
    path = tmp_path / "openapi.yaml"
    path.write_bytes(raw)
    return run_check(path)


@then('"stagegate check" of the same bytes reports the findings the upload reported')
def _(client, version_url, uploads, tmp_path):
    body = compliance(client, version_url)
    cli = _checked(tmp_path, uploads[-1])
    assert cli.target == body["target"] and cli.findings is not None
    assert Counter(tuple(f.values()) for f in cli.findings) == Counter(
        tuple(finding_of(f, "rule").values()) for f in body["findings"])


@then("the version page lists the same findings")
def _(client, version_url):
    body = compliance(client, version_url)
    page = client.get(version_url.removeprefix("/api/v1"))
    assert page.status_code == 200
    shown = GatePage.read(page.get_data(as_text=True))
    assert shown.target == body["target"]
    assert web_lists(shown) == as_page_lists(finding_of(f, "rule") for f in body["findings"])


@then('"stagegate check" refuses the same bytes with the same message at the same line')
def _(response, uploads, tmp_path):
    details = response.get_json()["details"]
    cli = _checked(tmp_path, uploads[-1])
    assert cli.error == details


@then("the blocking finding tells me how to fix it and cites its sources")
def _(blocking_finding):
    assert blocking_finding["message"]
    assert blocking_finding["remediation"]
    assert blocking_finding["sources"]
    assert all(s["url"].startswith("https://") for s in blocking_finding["sources"])


@then("the blocking finding says to quote the version")
def _(blocking_finding):
    assert blocking_finding["pointer"] == "/openapi"
    assert "quote" in blocking_finding["message"]


@then(parsers.parse('the gate into "{stage}" passes'))
def _(client, version_url, stage):
    body = compliance(client, version_url)
    assert (body["target"], body["passed"], body["blocking"]) == (stage, True, [])


@then(parsers.parse("the history reads: {events}"))
def _(client, version_url, events):
    expected = []
    for item in (e.strip() for e in events.split(",")):
        kind, _, rest = item.partition(" ")
        if kind == "revision":
            expected.append(("revision", int(rest)))
        else:
            expected.append((kind, rest.removeprefix("to ").strip('"')))
    history = client.get(f"{version_url}/history").get_json()["events"]
    actual = [("revision", e["number"]) if e["type"] == "revision" else (e["kind"], e["to"])
              for e in history]
    assert actual == expected


@then(parsers.parse("the promotion records the passed check of revision {number:d}"))
def _(response, number):
    assert response.status_code == 201, response.get_data(as_text=True)
    transition = response.get_json()["transition"]
    assert transition["kind"] == "promotion"
    assert transition["check_run"]["passed"] is True
    assert transition["check_run"]["revision"] == number


@then(parsers.parse('the move is refused as impossible with a message containing "{text}"'))
def _(response, text):
    body = assert_error(response, 422, "invalid_transition")
    assert text in body["message"]


@then(parsers.parse('the last history entry is a demotion from "{source}" to "{target}" by '
                    '"{actor}" because "{reason}"'))
def _(client, version_url, source, target, actor, reason):
    last = client.get(f"{version_url}/history").get_json()["events"][-1]
    assert (last["type"], last["kind"], last["from"], last["to"], last["actor"],
            last["reason"]) == ("transition", "demotion", source, target, actor, reason)
    assert last["check_run"] is None  # demotions are not gated


@then("the history has no demotion")
def _(client, version_url):
    events = client.get(f"{version_url}/history").get_json()["events"]
    assert not [e for e in events if e.get("kind") == "demotion"]


@then(parsers.parse('the upload is refused with status {status:d} and the error "{error}"'))
def _(response, status, error):
    assert_error(response, status, error)


@then(parsers.parse('the message explains: "{text}"'))
def _(response, text):
    assert text in response.get_json()["message"]


@then(parsers.parse("the error names line {line:d}"))
def _(response, line):
    assert response.get_json()["details"]["line"] == line


@then("revision 1 is still the only revision, with the same content")
def _(client, version_url, first_revision, uploads):
    version = client.get(version_url).get_json()
    assert version["revisions"] == [first_revision]
    assert first_revision["sha256"] == hashlib.sha256(uploads[0]).hexdigest()

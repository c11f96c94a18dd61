"""Pathological uploads through ``PUT /api/v1/apis/{name}/versions/{version}/spec``
(issue 2, acceptance point 3; DESIGN.md "Input safety").

Each test first stores a good revision, then sends the bad input, and checks: never a 500,
a JSON error with ``error``/``message`` when refused, an answer in under 2 s (a generous
acceptance bound on pathological input), and revision 1 still there, byte-for-byte.
"""

from __future__ import annotations

import hashlib
import http.server
import os
import threading
import time
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest
from documents import ORDERS

from specs import load_document

URL = "/api/v1/apis/orders/versions/1.0.0"
BOUND = 2.0  # seconds

#: the Orders API with its response code quoted (``'200'``)
GOOD = ORDERS.replace(b"        200:", b"        '200':", 1)


def with_schema(schema_yaml: str, version: bytes = b"3.1.0") -> bytes:
    """GOOD with ``components.schemas`` set to ``schema_yaml`` (indented 4 spaces)."""
    return GOOD.replace(b"openapi: 3.1.0", b"openapi: " + version, 1) + (
        "  schemas:\n" + schema_yaml).encode()


def billion_laughs() -> bytes:
    lines = ['lol0: &lol0 "lol"']
    lines += [f"lol{i}: &lol{i} [" + ", ".join([f"*lol{i - 1}"] * 9) + "]" for i in range(1, 10)]
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def first(client) -> dict[str, Any]:
    """API ``orders`` 1.0.0 with GOOD stored as revision 1; its revision dict."""
    created = client.post("/api/v1/apis",
                          json={"name": "orders", "title": "Orders", "team": "shop"})
    assert created.status_code == 201
    assert client.post("/api/v1/apis/orders/versions", json={"version": "1.0.0"}).status_code == 201
    response = client.put(f"{URL}/spec", data=GOOD)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()["revision"]


def put(client, raw: bytes, content_type: str = "application/octet-stream") -> tuple[Any, float]:
    started = time.perf_counter()
    response = client.put(f"{URL}/spec", data=raw, content_type=content_type)
    elapsed = time.perf_counter() - started
    assert response.status_code != 500, response.get_data(as_text=True)[:2000]
    assert response.is_json, response.get_data(as_text=True)[:500]
    assert "Traceback" not in response.get_data(as_text=True)
    assert elapsed < BOUND, f"took {elapsed:.2f} s"
    return response, elapsed


def refused(response, status: int, error: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    body = response.get_json()
    assert body["error"] == error
    assert isinstance(body["message"], str) and len(body["message"]) > 10
    return body


def accepted(response) -> dict[str, Any]:
    assert response.status_code == 201, response.get_data(as_text=True)[:2000]
    return response.get_json()


def assert_revision_1_unchanged(client, first: dict[str, Any], total: int = 1) -> None:
    version = client.get(URL).get_json()
    assert version["revisions"][0] == first
    assert first["sha256"] == hashlib.sha256(GOOD).hexdigest()
    assert len(version["revisions"]) == total
    history = client.get(f"{URL}/history").get_json()["events"]
    assert [e["number"] for e in history if e["type"] == "revision"] == list(range(1, total + 1))


def finding(body: dict[str, Any], rule: str) -> list[dict[str, Any]]:
    return [f for f in body["compliance"]["findings"] if f["rule"] == rule]


# ---------------------------------------------------------------------------- refused
def test_a_yaml_alias_bomb_is_refused_fast_with_little_memory(client, first):
    tracemalloc.start()
    try:
        response, _ = put(client, billion_laughs(), "application/yaml")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    body = refused(response, 422, "spec_unreadable")
    assert body["details"]["code"] == "alias_budget"
    assert "alias" in body["message"]
    assert isinstance(body["details"]["line"], int)
    assert peak < 50 * 1024 * 1024, f"peak {peak / 1e6:.0f} MB"
    assert_revision_1_unchanged(client, first)


def test_a_30_mb_body_is_413_json(client, first):
    response, _ = put(client, b"openapi: 3.1.0\n" + b"#" * (30 * 1024 * 1024))
    body = refused(response, 413, "too_large")
    assert "large" in body["message"]
    assert_revision_1_unchanged(client, first)


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"\xff\xfe" + os.urandom(64 * 1024), id="random-bytes"),
        pytest.param(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + os.urandom(2048), id="png"),
        pytest.param(b"%PDF-1.7\n\x00\x01\x02binary\n", id="pdf-with-nul"),
    ],
)
def test_binary_garbage_is_a_clear_422(client, first, raw):
    response, _ = put(client, raw, "image/png")
    body = refused(response, 422, "spec_unreadable")
    assert body["details"]["code"] == "encoding"
    assert "UTF-8" in body["message"] or "binary" in body["message"]
    assert_revision_1_unchanged(client, first)


@pytest.mark.parametrize("raw", [b'[{"openapi": "3.1.0"}]', b"- openapi: 3.1.0\n"])
def test_an_array_is_a_clear_422(client, first, raw):
    response, _ = put(client, raw, "application/json")
    body = refused(response, 422, "spec_unreadable")
    assert body["details"]["code"] == "not_a_mapping"
    assert "array" in body["message"]
    assert_revision_1_unchanged(client, first)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"a: !!python/object/apply:os.system ['touch /tmp/stagegate-pwned']\n",
         "unsupported_tag"),
        (b"[" * 50_000 + b"]" * 50_000, "too_deep"),
        (b'{"openapi": "3.1.0", "openapi": "3.0.0"}', "duplicate_key"),
        (b"a: &x\n  b: *x\n", "alias_budget"),
    ],
    ids=["python-tag", "deep-nesting", "duplicate-key", "recursive-alias"],
)
def test_other_hostile_yaml_and_json_is_a_clear_422(client, first, raw, code):
    response, _ = put(client, raw)
    body = refused(response, 422, "spec_unreadable")
    assert body["details"]["code"] == code
    assert not os.path.exists("/tmp/stagegate-pwned")
    assert_revision_1_unchanged(client, first)


# ---------------------------------------------------------------------------- accepted
def test_an_unquoted_openapi_31_is_stored_with_a_finding_on_line_2(client, first):
    raw = b"# Orders API\n" + GOOD.replace(b"openapi: 3.1.0", b"openapi: 3.1", 1)
    response, _ = put(client, raw)
    body = accepted(response)
    assert body["revision"]["valid"] is False
    assert body["revision"]["openapi_version"] is None
    (valid,) = finding(body, "SPEC-VALID")
    assert (valid["status"], valid["pointer"], valid["line"]) == ("fail", "/openapi", 2)
    assert "quote" in valid["message"]
    assert body["compliance"]["passed"] is False
    assert_revision_1_unchanged(client, first, total=2)


def test_bare_200_response_keys_are_valid(client, first):
    raw = GOOD.replace(b"        '200':", b"        200:", 1).replace(b"title: Orders API",
                                                                      b"title: Orders (bare)")
    assert b"        200:" in raw
    body = accepted(put(client, raw)[0])
    assert body["revision"]["valid"] is True
    assert finding(body, "SPEC-VALID")[0]["status"] == "pass"
    assert_revision_1_unchanged(client, first, total=2)


def test_times_dates_and_malformed_numbers_stay_strings(client, first):
    raw = GOOD.replace(
        b"          description: The order\n",
        b"          description: The order\n"
        b"          headers:\n"
        b"            X-Opens:\n"
        b"              schema: {type: string, example: 9:30}\n"
        b"            X-Since:\n"
        b"              schema: {type: string, format: date, example: 2024-01-31}\n"
        b"            X-Mask:\n"
        b"              schema: {type: string, example: 0x_}\n",
    )
    headers = load_document(raw).data["paths"]["/orders/{id}"]["get"]["responses"]["200"][
        "headers"]
    assert [headers[h]["schema"]["example"] for h in ("X-Opens", "X-Since", "X-Mask")] == [
        "9:30", "2024-01-31", "0x_"]
    body = accepted(put(client, raw)[0])
    assert body["revision"]["valid"] is True
    assert_revision_1_unchanged(client, first, total=2)


class _CountingServer(http.server.HTTPServer):
    connections = 0

    def verify_request(self, request: Any, client_address: Any) -> bool:
        self.connections += 1
        return True


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"type": "string", "description": "FETCHED-FROM-SERVER"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def listener() -> Iterator[_CountingServer]:
    """A real HTTP server on 127.0.0.1 and a free port that counts connections."""
    server = _CountingServer(("127.0.0.1", 0), _Handler)
    server.connections = 0
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_listener_counts_a_real_connection(listener):
    """The check below would notice a fetch: a real request is counted."""
    import urllib.request

    port = listener.server_address[1]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/x.json", timeout=5) as reply:
        assert b"FETCHED" in reply.read()
    assert listener.connections == 1


@pytest.mark.parametrize("version", [b"3.0.3", b"3.1.0"])
def test_a_ref_to_a_local_http_server_is_never_fetched(client, first, listener, version):
    port = listener.server_address[1]
    raw = with_schema(
        "    Order:\n"
        f"      $ref: 'http://127.0.0.1:{port}/x.json'\n", version
    ).replace(b"          description: The order\n",
              b"          description: The order\n"
              b"          content:\n"
              b"            application/json:\n"
              b"              schema: {$ref: '#/components/schemas/Order'}\n")
    body = accepted(put(client, raw)[0])
    time.sleep(0.2)  # a fetch in a background thread would have connected by now
    assert listener.connections == 0
    assert "FETCHED-FROM-SERVER" not in str(body)
    (external,) = [f for f in finding(body, "SPEC-NO-EXTERNAL-REF") if f["status"] == "fail"]
    assert external["pointer"] == "/components/schemas/Order/$ref"
    assert external["line"] == raw.decode().splitlines().index(
        f"      $ref: 'http://127.0.0.1:{port}/x.json'") + 1
    assert_revision_1_unchanged(client, first, total=2)


def test_a_ref_to_a_local_file_leaks_nothing(client, first):
    raw = with_schema("    Secret:\n      $ref: 'file:///etc/passwd'\n")
    response, _ = put(client, raw)
    body = accepted(response)
    text = response.get_data(as_text=True)
    assert "root:" not in text
    (external,) = [f for f in finding(body, "SPEC-NO-EXTERNAL-REF") if f["status"] == "fail"]
    assert external["pointer"] == "/components/schemas/Secret/$ref"
    assert "/etc/passwd" in external["message"]
    compliance = client.get(f"{URL}/compliance").get_data(as_text=True)
    assert "root:" not in compliance
    assert_revision_1_unchanged(client, first, total=2)


def test_a_self_including_oneof_schema_is_valid_not_a_500(client, first):
    # openapi-spec-validator issue #400: a oneOf member allOf-includes its parent.  Issue 10:
    # the document is valid (it used to fail SPEC-VALID with "recurse").
    raw = with_schema(
        "    Node:\n"
        "      oneOf:\n"
        "        - allOf:\n"
        "            - $ref: '#/components/schemas/Node'\n"
        "            - type: object\n"
        "        - type: string\n"
    )
    body = accepted(put(client, raw)[0])
    (valid,) = finding(body, "SPEC-VALID")
    assert valid["status"] == "pass"
    assert_revision_1_unchanged(client, first, total=2)


def test_a_real_document_with_dozens_of_aliases_is_accepted(client, first):
    paths = "".join(
        f"  /orders/{{id}}/part{i}:\n"
        "    get:\n"
        f"      operationId: part{i}\n"
        "      parameters: *id-param\n"
        "      responses: *ok\n"
        for i in range(40)
    )
    raw = GOOD.replace(
        b"      parameters:\n        - {name: id, in: path, required: true, "
        b"schema: {type: string}}",
        b"      parameters: &id-param\n        - {name: id, in: path, required: true, "
        b"schema: {type: string}}",
    ).replace(b"      responses:\n        '200':", b"      responses: &ok\n        '200':")
    raw = raw.replace(b"components:\n", paths.encode() + b"components:\n", 1)
    assert raw.count(b"*id-param") == 40 and raw.count(b"*ok") == 40
    body = accepted(put(client, raw)[0])
    assert body["revision"]["valid"] is True
    assert finding(body, "SPEC-VALID")[0]["status"] == "pass"
    assert_revision_1_unchanged(client, first, total=2)

"""``GET /api/v1/openapi.json``: the contract as this instance serves it, and the contract
against the app's URL map (a route added without documenting it fails here)."""

from __future__ import annotations

import json
import re

from click.testing import CliRunner
from contractkit import CONTRACT, METHODS, PREFIX
from flask import Flask
from flask.testing import FlaskClient

from lifecycle.api import contract
from lifecycle.cli import main
from specs import load_document, validate_document

#: werkzeug converters in a rule (``<name>``, ``<path:rest>``) → OpenAPI ``{name}``
_CONVERTER = re.compile(r"<(?:[a-z_]+(?:\([^)]*\))?:)?([A-Za-z_][A-Za-z0-9_]*)>")


def _served(anon: FlaskClient) -> dict:
    response = anon.get("/api/v1/openapi.json")
    assert response.status_code == 200, response.data
    assert response.mimetype == "application/json"
    return json.loads(response.data)


def test_the_contract_is_public_and_names_this_instance(make_app, app: Flask) -> None:
    other = make_app(TOKEN_ISSUER="https://gate.internal.example", API_AUDIENCE=None)
    doc = _served(other.test_client(user=None))
    assert doc["openapi"] == "3.1.0"
    assert doc["servers"][0]["url"] == "https://gate.internal.example/api/v1"
    scheme = doc["components"]["securitySchemes"]["accessToken"]
    assert scheme["flows"]["clientCredentials"]["tokenUrl"] == \
        "https://gate.internal.example/api/v1/token"
    profile = scheme["x-token-encryption"]
    assert profile["issuer"] == "https://gate.internal.example"
    assert profile["audience"] == "https://gate.internal.example/api/v1"
    assert profile["jwks-uri"] == "https://gate.internal.example/api/v1/token/jwks.json"
    assert profile["alg"] == "ECDH-ES+A256KW" and profile["max-lifetime"] == 900
    # the packaged contract is parsed once and never changed by serving it
    assert contract.contract()["servers"][0]["url"] == "https://stagegate.example.org/api/v1"


def test_an_explicit_audience_is_the_server_url(make_app) -> None:
    other = make_app(TOKEN_ISSUER="https://id.example", API_AUDIENCE="https://api.example/v1")
    doc = _served(other.test_client(user=None))
    assert doc["servers"][0]["url"] == "https://api.example/v1"
    profile = doc["components"]["securitySchemes"]["accessToken"]["x-token-encryption"]
    assert (profile["issuer"], profile["audience"]) == ("https://id.example",
                                                        "https://api.example/v1")


def test_the_served_document_is_valid_openapi_31_and_passes_the_deployment_gate(
        make_app, tmp_path) -> None:
    other = make_app(TOKEN_ISSUER="https://stagegate.corp.example")
    raw = other.test_client(user=None).get("/api/v1/openapi.json").data
    doc = load_document(raw)
    assert doc.openapi_version == "3.1"
    assert validate_document(doc) == []
    served = tmp_path / "openapi.json"
    served.write_bytes(raw)
    result = CliRunner().invoke(main, ["check", str(served), "--stage", "deployment",
                                       "--format", "json"])
    assert result.exit_code == 0, result.output
    statuses = {f["rule_id"]: f["status"] for f in json.loads(result.output)["findings"]}
    assert statuses["SPEC-TOKEN-PROFILE"] == "pass"
    assert statuses["TRN-HTTPS-ONLY"] == "pass"


def test_an_http_instance_serves_a_contract_the_deployment_gate_refuses(anon, tmp_path) -> None:
    """The default TOKEN_ISSUER (http://127.0.0.1:5000) is a development instance: the
    served document says so honestly, and the gate notices (the check is not vacuous)."""
    response = anon.get("/api/v1/openapi.json")
    assert json.loads(response.data)["servers"][0]["url"] == "http://127.0.0.1:5000/api/v1"
    served = tmp_path / "openapi.json"
    served.write_bytes(response.data)
    result = CliRunner().invoke(main, ["check", str(served), "--stage", "deployment",
                                       "--format", "json"])
    assert result.exit_code == 1, result.output
    failed = {f["rule_id"] for f in json.loads(result.output)["findings"]
              if f["status"] == "fail"}
    assert "TRN-HTTPS-ONLY" in failed


def _routes(app: Flask) -> set[tuple[str, str]]:
    routes: set[tuple[str, str]] = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(PREFIX + "/"):
            continue
        template = _CONVERTER.sub(r"{\1}", rule.rule[len(PREFIX):])
        for method in rule.methods or ():
            if method.lower() in METHODS and method not in ("HEAD", "OPTIONS"):
                routes.add((template, method.lower()))
    return routes


def _shape(template: str) -> str:
    """A template with its parameter names erased (``/apis/{}``): names may differ."""
    return re.sub(r"\{[^}]*\}", "{}", template)


def test_every_api_route_is_in_the_contract_and_every_operation_has_a_route(app) -> None:
    routes = {(_shape(t), m) for t, m in _routes(app)}
    documented = {(_shape(t), m) for t, m in CONTRACT.documented()}
    assert routes, "no /api/v1 routes found"
    undocumented = sorted(routes - documented)
    unserved = sorted(documented - routes)
    assert not undocumented, f"routes missing from lifecycle/api/openapi.yaml: {undocumented}"
    assert not unserved, f"operations in the contract that no route serves: {unserved}"


def test_the_url_map_check_notices_an_undocumented_route(make_app) -> None:
    other = make_app()
    other.add_url_rule("/api/v1/secret-admin/<int:n>", "secret", lambda n: "",
                       methods=["DELETE"])
    documented = {(_shape(t), m) for t, m in CONTRACT.documented()}
    missing = {(_shape(t), m) for t, m in _routes(other)} - documented
    assert missing == {("/secret-admin/{}", "delete")}

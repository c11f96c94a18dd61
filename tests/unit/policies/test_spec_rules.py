"""Each spec rule on compliant and failing OpenAPI 3.x and Swagger 2.0 documents."""

from __future__ import annotations

from typing import Any

import pytest

from policies.findings import Finding, Status
from policies.rules import Severity
from policies.spec_rules import SPEC_RULES, evaluate_one, is_credential_name
from specs import load_document
from specs.index import SpecIndex

JWT = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1MSJ9.c2lnbmF0dXJl"


def failures(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.status is Status.FAIL]


def only_pass(findings: list[Finding]) -> bool:
    return [f.status for f in findings] == [Status.PASS]


def pointers(findings: list[Finding]) -> list[str | None]:
    return [f.pointer for f in failures(findings)]


@pytest.mark.parametrize("rule_id", sorted(SPEC_RULES))
def test_every_rule_passes_a_compliant_openapi_31_document(
    evaluate: Any, openapi: dict[str, Any], rule_id: str
) -> None:
    assert only_pass(evaluate(rule_id, openapi))


@pytest.mark.parametrize("rule_id", sorted(SPEC_RULES))
def test_every_rule_passes_a_compliant_swagger_20_document(
    evaluate: Any, swagger: dict[str, Any], rule_id: str
) -> None:
    assert only_pass(evaluate(rule_id, swagger))


class TestSpecValid:
    def test_one_fail_per_validation_issue_with_location(self, evaluate: Any) -> None:
        findings = evaluate("SPEC-VALID", """
            openapi: 3.1.0
            info: {title: t}
            paths:
              /a:
                get:
                  responses: "not a mapping"
        """)
        assert len(failures(findings)) >= 2
        assert all(f.severity is Severity.HIGH for f in findings)
        assert all(f.line is not None for f in findings if f.pointer is not None)
        assert any(f.pointer == "/info" and "version" in f.message for f in findings)

    def test_document_without_openapi_field_fails(self, evaluate: Any) -> None:
        (finding,) = evaluate("SPEC-VALID", "title: just yaml\n")
        assert finding.status is Status.FAIL
        assert "not an OpenAPI document" in finding.message

    def test_external_ref_is_left_to_its_own_rule(self, evaluate: Any,
                                                  openapi: dict[str, Any]) -> None:
        openapi["components"]["schemas"] = {"Pet": {"$ref": "pet.yaml"}}
        findings = evaluate("SPEC-VALID", openapi)
        # the ref itself is SPEC-NO-EXTERNAL-REF's; validity fails only because the
        # validator could not finish (fail closed)
        assert "/components/schemas/Pet/$ref" not in pointers(findings)
        assert all("could not finish" in f.message for f in failures(findings))

    def test_pass_mentions_external_refs_checked_without(self, evaluate: Any,
                                                         openapi: dict[str, Any]) -> None:
        openapi["paths"]["/payments/{id}"]["get"]["x-docs"] = {"$ref": "docs.md"}
        (finding,) = evaluate("SPEC-VALID", openapi)
        assert finding.status is Status.PASS
        assert "external reference" in finding.message


class TestNoExternalRef:
    def test_each_external_ref_fails_once_at_its_ref_member(
        self, evaluate: Any, openapi: dict[str, Any]
    ) -> None:
        openapi["components"]["schemas"] = {
            "Pet": {"$ref": "https://example.com/pet.yaml"},
            "Owner": {"$ref": "./owner.yaml#/Owner"},
            "Local": {"$ref": "#/components/schemas/Pet"},
        }
        findings = evaluate("SPEC-NO-EXTERNAL-REF", openapi)
        assert sorted(pointers(findings)) == [
            "/components/schemas/Owner/$ref", "/components/schemas/Pet/$ref"]
        assert all(f.line is not None for f in findings)
        assert any("https://example.com/pet.yaml" in f.message and "bundle" in f.message
                   for f in findings)


class TestHttpsOnly:
    def test_http_server_fails_critical(self, evaluate: Any, openapi: dict[str, Any]) -> None:
        openapi["servers"].append({"url": "http://api.example.com"})
        (finding,) = evaluate("TRN-HTTPS-ONLY", openapi)
        assert (finding.status, finding.severity) == (Status.FAIL, Severity.CRITICAL)
        assert finding.pointer == "/servers/1/url"
        assert "http://api.example.com" in finding.message

    def test_loopback_http_says_local_development_only(
        self, evaluate: Any, openapi: dict[str, Any]
    ) -> None:
        openapi["servers"] = [{"url": "http://127.0.0.1:8080"}]
        (finding,) = evaluate("TRN-HTTPS-ONLY", openapi)
        assert finding.status is Status.FAIL
        assert "local development" in finding.message

    def test_relative_server_fails_closed(self, evaluate: Any, openapi: dict[str, Any]) -> None:
        openapi["servers"] = [{"url": "/v1"}]
        (finding,) = evaluate("TRN-HTTPS-ONLY", openapi)
        assert finding.status is Status.FAIL
        assert "relative" in finding.message and "cannot prove HTTPS" in finding.message

    def test_no_servers_asks_to_declare_https_servers(
        self, evaluate: Any, openapi: dict[str, Any]
    ) -> None:
        del openapi["servers"]
        (finding,) = evaluate("TRN-HTTPS-ONLY", openapi)
        assert finding.status is Status.FAIL
        assert "Declare https servers" in finding.message

    def test_operation_level_http_server_fails(self, evaluate: Any,
                                               openapi: dict[str, Any]) -> None:
        openapi["paths"]["/payments/{id}"]["get"]["servers"] = [{"url": "ws://x.example.com"}]
        findings = evaluate("TRN-HTTPS-ONLY", openapi)
        assert pointers(findings) == ["/paths/~1payments~1{id}/get/servers/0/url"]

    def test_every_variable_value_is_checked(self, evaluate: Any,
                                             openapi: dict[str, Any]) -> None:
        openapi["servers"] = [{
            "url": "{scheme}://api.example.com",
            "variables": {"scheme": {"default": "https", "enum": ["https", "http"]}},
        }]
        (finding,) = evaluate("TRN-HTTPS-ONLY", openapi)
        assert finding.status is Status.FAIL
        assert "'http://api.example.com'" in finding.message

    def test_https_only_variable_values_pass(self, evaluate: Any,
                                             openapi: dict[str, Any]) -> None:
        openapi["servers"] = [{
            "url": "https://{region}.example.com",
            "variables": {"region": {"default": "eu", "enum": ["eu", "us"]}},
        }]
        assert only_pass(evaluate("TRN-HTTPS-ONLY", openapi))

    def test_undefined_variable_cannot_prove_https(self, evaluate: Any,
                                                   openapi: dict[str, Any]) -> None:
        openapi["servers"] = [{"url": "{base}/v1"}]
        (finding,) = evaluate("TRN-HTTPS-ONLY", openapi)
        assert finding.status is Status.FAIL
        assert "{base}" in finding.message

    def test_swagger_http_scheme_fails_at_the_scheme(self, evaluate: Any,
                                                     swagger: dict[str, Any]) -> None:
        swagger["schemes"] = ["https", "http"]
        (finding,) = evaluate("TRN-HTTPS-ONLY", swagger)
        assert (finding.status, finding.pointer) == (Status.FAIL, "/schemes/1")

    def test_swagger_without_schemes_fails_closed(self, evaluate: Any,
                                                  swagger: dict[str, Any]) -> None:
        del swagger["schemes"]
        (finding,) = evaluate("TRN-HTTPS-ONLY", swagger)
        assert (finding.status, finding.pointer) == (Status.FAIL, "/host")
        assert "no `schemes`" in finding.message

    def test_swagger_without_schemes_or_host(self, evaluate: Any,
                                             swagger: dict[str, Any]) -> None:
        del swagger["schemes"], swagger["host"]
        (finding,) = evaluate("TRN-HTTPS-ONLY", swagger)
        assert finding.status is Status.FAIL
        assert "Declare https servers" in finding.message


class TestBearerHeader:
    def test_missing_bearer_scheme_fails(self, evaluate: Any, openapi: dict[str, Any]) -> None:
        openapi["components"]["securitySchemes"] = {
            "accessToken": {"type": "apiKey", "in": "header", "name": "X-Key"}}
        findings = evaluate("TRN-BEARER-HEADER", openapi)
        assert pointers(findings) == ["/components/securitySchemes"]
        assert "No token-bearing security scheme" in findings[0].message

    @pytest.mark.parametrize("scheme", [
        {"type": "oauth2", "flows": {"clientCredentials": {
            "tokenUrl": "https://auth.example.com/token", "scopes": {}}}},
        {"type": "openIdConnect",
         "openIdConnectUrl": "https://auth.example.com/.well-known/openid-configuration"},
    ])
    def test_oauth2_and_openid_connect_carry_bearer_tokens(
        self, evaluate: Any, openapi: dict[str, Any], scheme: dict[str, Any]
    ) -> None:
        # was a bug: RFC 6750 §2.1, OAuth 2.0 / OIDC access tokens are Authorization: Bearer
        openapi["components"]["securitySchemes"] = {"accessToken": scheme}
        assert only_pass(evaluate("TRN-BEARER-HEADER", openapi))

    def test_webhooks_only_document_is_not_applicable(self, evaluate: Any) -> None:
        (finding,) = evaluate("TRN-BEARER-HEADER", """
            openapi: 3.1.0
            info: {title: t, version: '1'}
            webhooks:
              paid:
                post:
                  responses: {'200': {description: ok}}
        """)
        assert finding.status is Status.NOT_APPLICABLE

    def test_scheme_name_compare_is_case_insensitive(self, evaluate: Any,
                                                     openapi: dict[str, Any]) -> None:
        openapi["components"]["securitySchemes"]["accessToken"]["scheme"] = "Bearer"
        assert only_pass(evaluate("TRN-BEARER-HEADER", openapi))

    def test_operation_not_using_bearer_fails(self, evaluate: Any,
                                              openapi: dict[str, Any]) -> None:
        openapi["components"]["securitySchemes"]["basic"] = {"type": "http", "scheme": "basic"}
        openapi["paths"]["/payments/{id}"]["delete"]["security"] = [{"basic": []}]
        findings = evaluate("TRN-BEARER-HEADER", openapi)
        assert pointers(findings) == ["/paths/~1payments~1{id}/delete/security/0"]
        assert "DELETE /payments/{id}" in findings[0].message

    def test_same_alternative_on_many_operations_is_reported_once(
        self, evaluate: Any, openapi: dict[str, Any]
    ) -> None:
        openapi["components"]["securitySchemes"]["basic"] = {"type": "http", "scheme": "basic"}
        openapi["security"] = [{"basic": []}]
        findings = evaluate("TRN-BEARER-HEADER", openapi)
        assert pointers(findings) == ["/security/0"]
        assert "GET /payments/{id} and 1 more operation" in findings[0].message

    def test_used_api_key_in_query_or_cookie_fails_at_the_scheme(
        self, evaluate: Any, openapi: dict[str, Any]
    ) -> None:
        schemes = openapi["components"]["securitySchemes"]
        schemes["queryKey"] = {"type": "apiKey", "in": "query", "name": "key"}
        schemes["cookieKey"] = {"type": "apiKey", "in": "cookie", "name": "sid"}
        schemes["unused"] = {"type": "apiKey", "in": "query", "name": "k"}
        openapi["security"] = [{"accessToken": [], "queryKey": [], "cookieKey": []}]
        findings = evaluate("TRN-BEARER-HEADER", openapi)
        assert sorted(pointers(findings)) == [
            "/components/securitySchemes/cookieKey", "/components/securitySchemes/queryKey"]

    def test_swagger_authorization_api_key_counts_as_bearer(
        self, evaluate: Any, swagger: dict[str, Any]
    ) -> None:
        assert only_pass(evaluate("TRN-BEARER-HEADER", swagger))
        swagger["securityDefinitions"]["accessToken"]["name"] = "X-Token"
        findings = evaluate("TRN-BEARER-HEADER", swagger)
        assert pointers(findings) == ["/securityDefinitions"]


class TestNoTokenInUrl:
    @pytest.mark.parametrize("name", [
        "access_token", "Access-Token", "accessToken", "token", "JWT", "id_token", "auth",
        "Authorization", "api_key", "apikey", "API-KEY", "bearer", "refresh_token",
        "client_secret", "password",
    ])
    def test_credential_names(self, name: str) -> None:
        assert is_credential_name(name)

    @pytest.mark.parametrize("name", [
        "key", "oauth_token", "oauth_consumer_key", "sessionToken", "id_token_hint",
        "webhook_token", "private_key", "X-Amz-Signature", "sig", "code_verifier",
        "client_assertion", "X-API-Key", "passwd", "subscription-key", "session_id",
    ])
    def test_credential_names_beyond_a_list(self, name: str) -> None:
        assert is_credential_name(name)

    @pytest.mark.parametrize("name", [
        "expand", "author", "tokens_left", "page", "page_token", "next_token", "start-token",
        "continuation", "cursor", "tokenId", "token_id", "token_type_hint",
        "oauth_signature_method", "sort_key", "template_key", "idempotency_key", "keyId",
        "actor_ids", "login_hint", "public_key",
    ])
    def test_ordinary_names(self, name: str) -> None:
        assert not is_credential_name(name)

    @pytest.mark.parametrize(("name", "location", "expected"), [
        ("key", "path", False),  # /objects/{key}: an object key
        ("session_id", "path", False),  # /sessions/{session_id}: a record
        ("session_id", "cookie", True),  # the session credential itself
    ])
    def test_location_matters(self, name: str, location: str, expected: bool) -> None:
        assert is_credential_name(name, location) is expected

    def test_query_parameter_named_like_a_token_fails(
        self, evaluate: Any, openapi: dict[str, Any]
    ) -> None:
        openapi["paths"]["/payments/{id}"]["get"]["parameters"].append(
            {"name": "access_token", "in": "query", "schema": {"type": "string"}})
        findings = evaluate("TRN-NO-TOKEN-IN-URL", openapi)
        assert pointers(findings) == ["/paths/~1payments~1{id}/get/parameters/1/name"]
        assert findings[0].line is not None

    def test_header_parameter_named_token_is_fine(self, evaluate: Any,
                                                  openapi: dict[str, Any]) -> None:
        openapi["paths"]["/payments/{id}"]["get"]["parameters"].append(
            {"name": "token", "in": "header", "schema": {"type": "string"}})
        assert only_pass(evaluate("TRN-NO-TOKEN-IN-URL", openapi))

    def test_shared_parameter_is_reported_once(self, evaluate: Any,
                                               openapi: dict[str, Any]) -> None:
        openapi["components"]["parameters"] = {
            "Token": {"name": "jwt", "in": "query", "schema": {"type": "string"}}}
        item = openapi["paths"]["/payments/{id}"]
        item["get"]["parameters"].append({"$ref": "#/components/parameters/Token"})
        item["delete"]["parameters"] = [{"$ref": "#/components/parameters/Token"}]
        findings = evaluate("TRN-NO-TOKEN-IN-URL", openapi)
        assert pointers(findings) == ["/components/parameters/Token/name"]

    def test_swagger_path_parameter(self, evaluate: Any, swagger: dict[str, Any]) -> None:
        swagger["paths"]["/tokens/{token}"] = {"get": {
            "parameters": [{"name": "token", "in": "path", "required": True, "type": "string"}],
            "responses": {"200": {"description": "ok"}}}}
        findings = evaluate("TRN-NO-TOKEN-IN-URL", swagger)
        assert pointers(findings) == ["/paths/~1tokens~1{token}/get/parameters/0/name"]

    def test_jwt_in_query_parameter_examples_fails(self, evaluate: Any,
                                                   openapi: dict[str, Any]) -> None:
        openapi["paths"]["/payments/{id}"]["get"]["parameters"][0]["examples"] = {
            "sample": {"value": f"filter {JWT}"}}
        findings = evaluate("TRN-NO-TOKEN-IN-URL", openapi)
        assert pointers(findings) == [
            "/paths/~1payments~1{id}/get/parameters/0/examples/sample/value"]
        assert JWT not in findings[0].message  # never echo a whole token

    def test_jwt_in_server_url_fails(self, evaluate: Any, openapi: dict[str, Any]) -> None:
        openapi["servers"] = [{"url": f"https://api.example.com/v1?t={JWT}"}]
        findings = evaluate("TRN-NO-TOKEN-IN-URL", openapi)
        assert pointers(findings) == ["/servers/0/url"]


class TestOperationsSecured:
    def test_security_empty_list_fails(self, evaluate: Any, openapi: dict[str, Any]) -> None:
        openapi["paths"]["/payments/{id}"]["delete"]["security"] = []
        findings = evaluate("SPEC-OPERATIONS-SECURED", openapi)
        assert pointers(findings) == ["/paths/~1payments~1{id}/delete/security"]
        assert "security: []" in findings[0].message

    def test_empty_requirement_makes_auth_optional(self, evaluate: Any,
                                                   openapi: dict[str, Any]) -> None:
        openapi["paths"]["/payments/{id}"]["get"]["security"] = [{"accessToken": []}, {}]
        findings = evaluate("SPEC-OPERATIONS-SECURED", openapi)
        assert pointers(findings) == ["/paths/~1payments~1{id}/get/security/1"]
        assert "optional" in findings[0].message

    def test_undefined_scheme_fails(self, evaluate: Any, openapi: dict[str, Any]) -> None:
        openapi["paths"]["/payments/{id}"]["get"]["security"] = [{"oauth": []}]
        findings = evaluate("SPEC-OPERATIONS-SECURED", openapi)
        assert pointers(findings) == ["/paths/~1payments~1{id}/get/security/0/oauth"]
        assert "`oauth`" in findings[0].message

    def test_no_security_anywhere_fails_once_per_operation(
        self, evaluate: Any, openapi: dict[str, Any]
    ) -> None:
        del openapi["security"]
        findings = evaluate("SPEC-OPERATIONS-SECURED", openapi)
        assert pointers(findings) == [
            "/paths/~1payments~1{id}/get", "/paths/~1payments~1{id}/delete"]

    def test_inherited_optional_global_security_fails_every_operation(
        self, evaluate: Any, swagger: dict[str, Any]
    ) -> None:
        swagger["security"] = [{}]
        findings = evaluate("SPEC-OPERATIONS-SECURED", swagger)
        assert pointers(findings) == ["/paths/~1payments~1{id}/get"]
        assert "global" in findings[0].message

    def test_webhooks_are_not_api_operations(self, evaluate: Any,
                                             openapi: dict[str, Any]) -> None:
        openapi["webhooks"] = {"paid": {"post": {"security": [],
                                                 "responses": {"200": {"description": "ok"}}}}}
        assert only_pass(evaluate("SPEC-OPERATIONS-SECURED", openapi))


class TestTokenProfile:
    def profile(self, openapi: dict[str, Any]) -> dict[str, Any]:
        scheme: dict[str, Any] = openapi["components"]["securitySchemes"]["accessToken"]
        return scheme["x-token-encryption"]

    def test_missing_profile_fails_at_the_scheme(self, evaluate: Any,
                                                 openapi: dict[str, Any]) -> None:
        del openapi["components"]["securitySchemes"]["accessToken"]["x-token-encryption"]
        findings = evaluate("SPEC-TOKEN-PROFILE", openapi)
        assert pointers(findings) == ["/components/securitySchemes/accessToken"]

    def test_no_bearer_scheme_fails(self, evaluate: Any, openapi: dict[str, Any]) -> None:
        openapi["components"]["securitySchemes"]["accessToken"] = {
            "type": "http", "scheme": "basic"}
        (finding,) = evaluate("SPEC-TOKEN-PROFILE", openapi)
        assert finding.status is Status.FAIL and "No token-bearing" in finding.message

    @pytest.mark.parametrize(("key", "value", "severity"), [
        ("alg", "RSA1_5", Severity.CRITICAL),
        ("alg", "PBES2-HS256+A128KW", Severity.HIGH),
        ("alg", "rsa-oaep-256", Severity.HIGH),
        ("alg", "dir", Severity.MEDIUM),
        ("alg", "RSA-OAEP", Severity.LOW),
        ("enc", "A128CBC", Severity.HIGH),
        ("enc", "A192GCM", Severity.LOW),
        ("signing-alg", "none", Severity.CRITICAL),
        ("signing-alg", "HS256", Severity.HIGH),
        ("signing-alg", "RS256", Severity.LOW),
    ])
    def test_algorithm_values_outside_the_allow_lists(
        self, evaluate: Any, openapi: dict[str, Any], key: str, value: str,
        severity: Severity,
    ) -> None:
        self.profile(openapi)[key] = value
        (finding,) = evaluate("SPEC-TOKEN-PROFILE", openapi)
        assert (finding.status, finding.severity) == (Status.FAIL, severity)
        assert finding.pointer == (
            f"/components/securitySchemes/accessToken/x-token-encryption/{key}")
        assert value in finding.message

    @pytest.mark.parametrize("alg", ["ECDH-ES+A256KW", "ECDH-ES", "RSA-OAEP-256"])
    def test_allowed_algorithms_pass(self, evaluate: Any, openapi: dict[str, Any],
                                     alg: str) -> None:
        self.profile(openapi)["alg"] = alg
        assert only_pass(evaluate("SPEC-TOKEN-PROFILE", openapi))

    @pytest.mark.parametrize(("value", "severity"), [
        (0, Severity.HIGH), (3601, Severity.HIGH), ("900", Severity.HIGH),
        (True, Severity.HIGH), (1800, Severity.LOW),
    ])
    def test_max_lifetime(self, evaluate: Any, openapi: dict[str, Any], value: object,
                          severity: Severity) -> None:
        self.profile(openapi)["max-lifetime"] = value
        (finding,) = evaluate("SPEC-TOKEN-PROFILE", openapi)
        assert (finding.status, finding.severity) == (Status.FAIL, severity)

    def test_missing_fields_are_each_reported(self, evaluate: Any,
                                              openapi: dict[str, Any]) -> None:
        openapi["components"]["securitySchemes"]["accessToken"]["x-token-encryption"] = {
            "issuer": "https://auth.example.com"}
        messages = " ".join(f.message for f in evaluate("SPEC-TOKEN-PROFILE", openapi))
        for key in ("`alg`", "`enc`", "`signing-alg`", "`max-lifetime`"):
            assert key in messages

    def test_issuer_and_audience_must_be_https(self, evaluate: Any,
                                               openapi: dict[str, Any]) -> None:
        self.profile(openapi)["issuer"] = "http://auth.example.com"
        self.profile(openapi)["audience"] = "payments"
        findings = evaluate("SPEC-TOKEN-PROFILE", openapi)
        assert sorted(p.rsplit("/", 1)[1] for p in pointers(findings)) == [  # type: ignore[union-attr]
            "audience", "issuer"]

    def test_swagger_profile_on_security_definition(self, evaluate: Any,
                                                    swagger: dict[str, Any]) -> None:
        swagger["securityDefinitions"]["accessToken"]["x-token-encryption"]["enc"] = "A512GCM"
        findings = evaluate("SPEC-TOKEN-PROFILE", swagger)
        assert pointers(findings) == [
            "/securityDefinitions/accessToken/x-token-encryption/enc"]


class TestFailClosed:
    def test_an_exception_in_a_rule_becomes_one_error_finding(
        self, monkeypatch: pytest.MonkeyPatch, openapi: dict[str, Any]
    ) -> None:
        def broken(*args: object) -> list[Finding]:
            raise RecursionError("maximum recursion depth exceeded")

        monkeypatch.setitem(SPEC_RULES, "TRN-HTTPS-ONLY", broken)
        doc = load_document(b'{"openapi": "3.1.0", "info": {"title": "t", "version": "1"}}')
        (finding,) = evaluate_one("TRN-HTTPS-ONLY", doc, SpecIndex(doc), [])
        assert finding.status is Status.ERROR
        assert finding.severity is Severity.CRITICAL
        assert finding.message.startswith("rule could not be evaluated: RecursionError")

    def test_a_rule_returning_nothing_is_an_error(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setitem(SPEC_RULES, "TRN-HTTPS-ONLY", lambda *args: [])
        doc = load_document(b'{"openapi": "3.1.0", "info": {"title": "t", "version": "1"}}')
        (finding,) = evaluate_one("TRN-HTTPS-ONLY", doc, SpecIndex(doc), [])
        assert finding.status is Status.ERROR


class TestIntentionallyPublicReads:
    """``security: []`` with ``x-stagegate-public`` on a GET/HEAD passes and says why;
    everywhere else ``security: []`` still fails."""

    def _jwks_endpoint(self, openapi: dict[str, Any], method: str = "get",
                       reason: object = "Public keys exist to be published.") -> None:
        openapi["paths"]["/jwks.json"] = {method: {
            "security": [], "x-stagegate-public": reason,
            "responses": {"200": {"description": "the keys"}}}}

    def test_a_public_read_with_a_reason_passes_and_is_named(
            self, evaluate: Any, openapi: dict[str, Any]) -> None:
        self._jwks_endpoint(openapi)
        (finding,) = evaluate("SPEC-OPERATIONS-SECURED", openapi)
        assert finding.status is Status.PASS
        assert "GET /jwks.json (Public keys exist to be published.)" in finding.message
        assert only_pass(evaluate("TRN-BEARER-HEADER", openapi))

    def test_a_write_can_never_be_public(self, evaluate: Any,
                                         openapi: dict[str, Any]) -> None:
        self._jwks_endpoint(openapi, method="post")
        findings = evaluate("SPEC-OPERATIONS-SECURED", openapi)
        assert pointers(findings) == ["/paths/~1jwks.json/post/security"]
        assert "GET and HEAD only" in findings[0].message

    @pytest.mark.parametrize("reason", ["", "   ", True, None])
    def test_a_public_read_without_a_reason_fails(self, evaluate: Any,
                                                  openapi: dict[str, Any],
                                                  reason: object) -> None:
        self._jwks_endpoint(openapi, reason=reason)
        assert pointers(evaluate("SPEC-OPERATIONS-SECURED", openapi)) == [
            "/paths/~1jwks.json/get/security"]

    def test_the_marker_does_not_excuse_a_read_that_keeps_security_optional(
            self, evaluate: Any, openapi: dict[str, Any]) -> None:
        get = openapi["paths"]["/payments/{id}"]["get"]
        get["security"] = [{"accessToken": []}, {}]
        get["x-stagegate-public"] = "not really"
        assert pointers(evaluate("SPEC-OPERATIONS-SECURED", openapi)) == [
            "/paths/~1payments~1{id}/get/security/1"]


class TestOAuthTokenEndpoint:
    """The POST at an oauth2 flow's ``tokenUrl`` authenticates clients with their own
    credentials (RFC 6749 §2.3.1), so Basic there is no bearer gap."""

    def _oauth(self, openapi: dict[str, Any], token_url: str) -> None:
        schemes = openapi["components"]["securitySchemes"]
        schemes["accessToken"] = {
            "type": "oauth2", "x-token-encryption": schemes["accessToken"]["x-token-encryption"],
            "flows": {"clientCredentials": {"tokenUrl": token_url, "scopes": {}}}}
        schemes["client"] = {"type": "http", "scheme": "basic"}
        openapi["paths"]["/token"] = {"post": {
            "security": [{"client": []}],
            "responses": {"200": {"description": "an access token"}}}}

    @pytest.mark.parametrize("token_url", ["https://api.example.com/v1/token", "/v1/token"])
    def test_basic_client_authentication_at_the_token_endpoint_passes(
            self, evaluate: Any, openapi: dict[str, Any], token_url: str) -> None:
        self._oauth(openapi, token_url)
        assert only_pass(evaluate("TRN-BEARER-HEADER", openapi))
        (finding,) = evaluate("TRN-NO-BASIC-AUTH", openapi)
        assert finding.status is Status.PASS and "RFC 6749" in finding.message
        assert only_pass(evaluate("SPEC-OPERATIONS-SECURED", openapi))

    def test_basic_on_any_other_operation_still_fails(self, evaluate: Any,
                                                      openapi: dict[str, Any]) -> None:
        self._oauth(openapi, "https://api.example.com/v1/token")
        openapi["paths"]["/payments/{id}"]["get"]["security"] = [{"client": []}]
        assert pointers(evaluate("TRN-NO-BASIC-AUTH", openapi)) == [
            "/components/securitySchemes/client"]
        assert pointers(evaluate("TRN-BEARER-HEADER", openapi)) == [
            "/paths/~1payments~1{id}/get/security/0"]

    def test_a_token_url_elsewhere_exempts_nothing(self, evaluate: Any,
                                                   openapi: dict[str, Any]) -> None:
        self._oauth(openapi, "https://auth.example.com/oauth/token")
        assert pointers(evaluate("TRN-NO-BASIC-AUTH", openapi)) == [
            "/components/securitySchemes/client"]
        assert pointers(evaluate("TRN-BEARER-HEADER", openapi)) == [
            "/paths/~1token/post/security/0"]

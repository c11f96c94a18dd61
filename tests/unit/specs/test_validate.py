"""Validation with openapi-spec-validator: the right class per version, nothing fetched,
nothing raised, every issue located (pointer and line) where the validator allows."""

from __future__ import annotations

import socket
import time

import pytest
from openapi_spec_validator import (
    OpenAPIV2SpecValidator,
    OpenAPIV30SpecValidator,
    OpenAPIV31SpecValidator,
    OpenAPIV32SpecValidator,
)

from specs import ValidationIssue, load_document, validate_document
from specs.validate import VALIDATORS, external_refs

KINDS = {"structural", "semantic", "reference", "external-ref", "version", "validator-error"}

SWAGGER_20 = b"""swagger: '2.0'
info: {title: Pets, version: '1'}
paths:
  /pets:
    get:
      responses:
        200:
          description: ok
          schema: {$ref: '#/definitions/Pet'}
definitions:
  Pet: {type: object, properties: {id: {type: integer}}}
"""

OPENAPI_30 = b"""openapi: 3.0.3
info: {title: Pets, version: '1'}
paths:
  /pets:
    get:
      operationId: listPets
      responses:
        200:
          description: ok
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Pet'}
components:
  schemas:
    Pet: {type: object, nullable: true, properties: {id: {type: integer}}}
"""

OPENAPI_31 = b"""openapi: 3.1.0
info: {title: Pets, version: '1'}
webhooks:
  newPet:
    post:
      requestBody:
        content:
          application/json:
            schema: {$ref: '#/components/schemas/Pet'}
      responses:
        200: {description: ok}
components:
  schemas:
    Pet: {type: [object, 'null'], properties: {id: {type: integer}}}
"""

OPENAPI_32 = b"""openapi: 3.2.0
info: {title: Pets, version: '1'}
paths:
  /pets:
    query:
      responses:
        200: {description: ok}
"""


def issues_of(raw: bytes) -> list[ValidationIssue]:
    return validate_document(load_document(raw))


class TestValidDocuments:
    @pytest.mark.parametrize(
        ("raw", "version"),
        [(SWAGGER_20, "2.0"), (OPENAPI_30, "3.0"), (OPENAPI_31, "3.1"), (OPENAPI_32, "3.2")],
    )
    def test_a_valid_document_of_each_version_has_no_issues(self, raw, version):
        doc = load_document(raw)
        assert doc.openapi_version == version
        assert validate_document(doc) == []

    def test_json_and_yaml_of_the_same_document_agree(self):
        import json

        doc = load_document(OPENAPI_30)
        as_json = load_document(json.dumps(doc.data).encode())
        assert as_json.format == "json"
        assert validate_document(as_json) == []


class TestValidatorChoice:
    @pytest.mark.parametrize(
        ("version", "base"),
        [("2.0", OpenAPIV2SpecValidator), ("3.0", OpenAPIV30SpecValidator),
         ("3.1", OpenAPIV31SpecValidator), ("3.2", OpenAPIV32SpecValidator)],
    )
    def test_each_version_has_its_own_validator_class(self, version, base):
        assert issubclass(VALIDATORS[version], base)
        others = {OpenAPIV2SpecValidator, OpenAPIV30SpecValidator, OpenAPIV31SpecValidator,
                  OpenAPIV32SpecValidator} - {base}
        assert not any(issubclass(VALIDATORS[version], other) for other in others)

    def test_webhooks_without_paths_are_valid_in_31_but_not_in_30(self):
        as_30 = OPENAPI_31.replace(b"openapi: 3.1.0", b"openapi: 3.0.3")
        messages = [i.message for i in issues_of(as_30)]
        assert any("paths" in m for m in messages)
        assert issues_of(OPENAPI_31) == []

    def test_the_query_method_is_valid_in_32_but_not_in_31(self):
        as_31 = OPENAPI_32.replace(b"openapi: 3.2.0", b"openapi: 3.1.0")
        (issue,) = issues_of(as_31)
        assert issue.kind == "structural"
        assert "query" in issue.message
        assert issue.pointer == "/paths/~1pets"
        assert issue.line == 4


class TestVersionIssues:
    def test_an_unquoted_31_is_a_version_issue_on_its_line(self):
        issues = issues_of(b"# Payments API\nopenapi: 3.1\ninfo: {title: x, version: '1'}\n"
                           b"paths: {}\n")
        assert [(i.kind, i.pointer, i.line, i.column) for i in issues] == [
            ("version", "/openapi", 2, 1)]
        assert 'quote the version' in issues[0].message
        assert '"3.1"' in issues[0].message

    def test_no_version_field_is_not_openapi(self):
        (issue,) = issues_of(b"info: {title: x, version: '1'}\npaths: {}\n")
        assert (issue.kind, issue.pointer, issue.line) == ("version", "", 1)
        assert "not an OpenAPI document" in issue.message

    @pytest.mark.parametrize(
        ("raw", "pointer"),
        [(b"openapi: 4.0.0\n", "/openapi"),
         (b"openapi: 2.0.0\n", "/openapi"),
         (b"swagger: '1.2'\n", "/swagger"), (b"{\"openapi\": \"banana\"}", "/openapi")],
    )
    def test_an_unsupported_version_is_named(self, raw, pointer):
        (issue,) = issues_of(raw)
        assert (issue.kind, issue.pointer, issue.line) == ("version", pointer, 1)
        assert "Unsupported" in issue.message


class TestLocatedIssues:
    def test_a_missing_required_field_points_at_its_parent(self):
        (issue,) = issues_of(b"openapi: 3.0.3\ninfo:\n  title: x\npaths: {}\n")
        assert (issue.kind, issue.pointer, issue.line, issue.column) == (
            "structural", "/info", 2, 1)
        assert "version" in issue.message

    def test_a_duplicate_operation_id_points_at_the_second_operation(self):
        raw = b"""openapi: 3.0.3
info: {title: x, version: '1'}
paths:
  /a:
    get:
      operationId: dup
      responses: {200: {description: ok}}
  /b:
    get:
      operationId: dup
      responses: {200: {description: ok}}
"""
        (issue,) = issues_of(raw)
        assert issue.kind == "semantic"
        assert "dup" in issue.message
        assert issue.pointer in ("/paths/~1b/get", "/paths/~1b/get/operationId")
        assert issue.line in (9, 10)

    def test_a_duplicate_operation_id_in_minified_json_has_a_column(self):
        raw = (b'{"openapi":"3.0.3","info":{"title":"x","version":"1"},"paths":{'
               b'"/a":{"get":{"operationId":"d","responses":{"200":{"description":"o"}}}},'
               b'"/b":{"get":{"operationId":"d","responses":{"200":{"description":"o"}}}}}}')
        (issue,) = issues_of(raw)
        assert issue.pointer == "/paths/~1b/get/operationId"
        assert issue.line == 1
        assert issue.column - 1 == raw.rindex(b'"operationId"')  # the second one, under /b

    def test_a_bad_default_value_points_at_its_schema(self):
        raw = b"""openapi: 3.0.3
info: {title: x, version: '1'}
paths: {}
components:
  schemas:
    Count:
      type: integer
      default: many
"""
        (issue,) = issues_of(raw)
        assert issue.kind == "semantic"
        assert "'many' is not of type 'integer'" in issue.message
        assert (issue.pointer, issue.line, issue.column) == (
            "/components/schemas/Count/default", 8, 7)

    def test_a_bad_parameter_default_points_into_the_parameter(self):
        raw = b"""openapi: 3.1.0
info: {title: x, version: '1'}
paths:
  /a:
    get:
      parameters:
        - name: q
          in: query
          schema: {type: integer, default: x}
      responses: {200: {description: ok}}
"""
        (issue,) = issues_of(raw)
        assert issue.pointer == "/paths/~1a/get/parameters/0/schema/default"
        assert issue.line == 9


class TestReferences:
    def test_external_refs_are_reported_with_pointers_and_lines(self):
        raw = b"""openapi: 3.1.0
info: {title: x, version: '1'}
paths:
  /a:
    get:
      responses:
        200:
          $ref: 'responses.yaml#/Ok'
        400:
          description: bad
          content:
            application/json:
              schema: {$ref: 'https://schemas.example.com/error.json'}
"""
        doc = load_document(raw)
        assert external_refs(doc) == [
            ("/paths/~1a/get/responses/200/$ref", "responses.yaml#/Ok"),
            ("/paths/~1a/get/responses/400/content/application~1json/schema/$ref",
             "https://schemas.example.com/error.json"),
        ]
        issues = validate_document(doc)
        external = [i for i in issues if i.kind == "external-ref"]
        assert [(i.pointer, i.line) for i in external] == [
            ("/paths/~1a/get/responses/200/$ref", 8),
            ("/paths/~1a/get/responses/400/content/application~1json/schema/$ref", 13),
        ]
        assert all("not fetched" in i.message for i in external)

    def test_refs_to_a_listening_server_and_a_local_file_are_never_read(self, tmp_path):
        secret = tmp_path / "secret.json"
        secret.write_text('{"type": "string", "description": "CANARY-7f3a"}')
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen(8)
            listener.setblocking(False)
            port = listener.getsockname()[1]
            for version in ("3.0.3", "3.1.0", "3.2.0"):
                raw = f"""openapi: {version}
info: {{title: x, version: '1'}}
paths:
  /a:
    get:
      responses:
        200:
          description: ok
          content:
            application/json:
              schema: {{$ref: 'http://127.0.0.1:{port}/x.json'}}
        201:
          description: ok
          content:
            application/json:
              schema: {{$ref: '{secret.as_uri()}'}}
""".encode()
                issues = issues_of(raw)
                assert sum(i.kind == "external-ref" for i in issues) == 2
                assert not any("CANARY" in i.message for i in issues)
            with pytest.raises(BlockingIOError):
                listener.accept()  # nobody connected

    def test_a_swagger_20_external_ref_is_not_fetched(self):
        raw = SWAGGER_20.replace(b"'#/definitions/Pet'", b"'file:///etc/passwd'")
        issues = issues_of(raw)
        assert [i.kind for i in issues if i.kind == "external-ref"] == ["external-ref"]
        assert not any("root:" in i.message for i in issues)

    def test_a_dangling_local_ref_is_a_located_reference_issue(self):
        raw = OPENAPI_30.replace(b"'#/components/schemas/Pet'", b"'#/components/schemas/Gone'")
        issues = issues_of(raw)
        assert [i.kind for i in issues] == ["reference"]
        assert "does not resolve" in issues[0].message
        assert "#/components/schemas/Gone" in issues[0].message
        assert issues[0].pointer is not None
        assert issues[0].pointer.startswith("/paths/~1pets/get/responses/200")

    def test_a_dangling_local_ref_is_reported_not_raised(self):
        raw = OPENAPI_30.replace(b"'#/components/schemas/Pet'", b"'#/components/schemas/Gone'")
        issues = issues_of(raw)
        assert len(issues) == 1
        assert "Gone" in issues[0].message


class TestNeverRaises:
    def test_a_self_including_oneof_schema_is_valid_not_a_crash(self):
        # openapi-spec-validator issue #400: a oneOf member that allOf-includes its parent.
        # Issue 10: this document is valid; it used to be reported as a validator-error.
        raw = b"""openapi: 3.1.0
info: {title: x, version: '1'}
paths: {}
components:
  schemas:
    Node:
      oneOf:
        - allOf:
            - $ref: '#/components/schemas/Node'
            - type: object
        - type: string
"""
        started = time.perf_counter()
        issues = issues_of(raw)
        assert time.perf_counter() - started < 2.0
        assert issues == []

    @pytest.mark.parametrize(
        "body",
        [
            b"paths: [1, 2]\n",
            b"paths: {}\ncomponents: {schemas: {A: 5, B: {$ref: 5}}}\n",
            b"paths: {/a: {get: {parameters: [{$ref: 7}], responses: {200: {description: o}}}}}\n",
            b"paths: {/a: null}\n",
            b"paths: {}\ncomponents: {securitySchemes: {s: [1]}}\n",
            b"paths: {}\ntags: 3\n",
        ],
    )
    @pytest.mark.parametrize("version", [b"3.0.3", b"3.1.0", b"3.2.0"])
    def test_odd_shapes_become_issues(self, version, body):
        raw = b"openapi: " + version + b"\ninfo: {title: x, version: '1'}\n" + body
        issues = issues_of(raw)
        assert issues
        assert all(isinstance(i, ValidationIssue) and i.kind in KINDS for i in issues)
        assert all(len(i.message) <= 400 for i in issues)

    def test_issues_are_plain_json(self):
        (issue,) = issues_of(b"openapi: 3.0.3\ninfo:\n  title: x\npaths: {}\n")
        assert issue.to_dict() == {"message": issue.message, "pointer": "/info",
                                   "kind": "structural", "line": 2, "column": 1}

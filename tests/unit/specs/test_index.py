"""SpecIndex: operations, parameters, security schemes and servers for 2.0 and 3.x."""

from __future__ import annotations

import json
import textwrap

from specs import load_document
from specs.index import SpecIndex


def index_of(text: str) -> SpecIndex:
    return SpecIndex(load_document(textwrap.dedent(text).encode()))


OPENAPI = """
openapi: 3.1.0
info: {title: t, version: "1"}
servers:
  - url: https://api.example.com
security:
  - bearer: []
paths:
  /pets/{id}:
    servers:
      - url: https://pets.example.com
    parameters:
      - $ref: '#/components/parameters/Id'
      - name: verbose
        in: query
    get:
      parameters:
        - name: verbose
          in: query
          schema: {type: boolean}
      responses: {"200": {description: ok}}
    delete:
      security: []
      servers:
        - url: http://localhost:8080
      responses: {"204": {description: ok}}
    x-not-an-operation: {}
  /shared:
    $ref: '#/components/pathItems/Shared'
webhooks:
  newPet:
    post:
      responses: {"200": {description: ok}}
components:
  parameters:
    Id: {name: id, in: path, required: true, schema: {type: string}}
  pathItems:
    Shared:
      put:
        responses: {"200": {description: ok}}
  securitySchemes:
    bearer:
      $ref: '#/components/securitySchemes/real'
    real: {type: http, scheme: bearer}
    remote:
      $ref: 'https://example.com/schemes.yaml#/key'
"""


class TestOpenAPI3:
    def test_operations_have_pointers_methods_and_webhook_flag(self) -> None:
        index = index_of(OPENAPI)
        found = [(op.path, op.method, op.pointer, op.webhook) for op in index.operations]
        assert found == [
            ("/pets/{id}", "get", "/paths/~1pets~1{id}/get", False),
            ("/pets/{id}", "delete", "/paths/~1pets~1{id}/delete", False),
            ("/shared", "put", "/components/pathItems/Shared/put", False),
            ("newPet", "post", "/webhooks/newPet/post", True),
        ]
        assert [op.method for op in index.api_operations] == ["get", "delete", "put"]

    def test_effective_security_is_operation_level_else_global(self) -> None:
        get, delete, put, _ = index_of(OPENAPI).operations
        assert (get.security, get.security_pointer, get.security_source) == (
            [{"bearer": []}], "/security", "global")
        assert (delete.security, delete.security_pointer, delete.security_source) == (
            [], "/paths/~1pets~1{id}/delete/security", "operation")

    def test_no_security_anywhere_is_source_none(self) -> None:
        index = index_of("""
            openapi: 3.0.3
            info: {title: t, version: "1"}
            paths:
              /a:
                get: {responses: {"200": {description: ok}}}
        """)
        (op,) = index.operations
        assert (op.security, op.security_pointer, op.security_source) == (None, None, "none")

    def test_parameters_merge_path_item_and_operation_and_resolve_refs(self) -> None:
        get = index_of(OPENAPI).operations[0]
        params = {(p.name, p.location): p for p in get.parameters}
        assert set(params) == {("id", "path"), ("verbose", "query")}
        assert params[("id", "path")].pointer == "/components/parameters/Id"
        assert params[("id", "path")].used_at == "/paths/~1pets~1{id}/parameters/0"
        # the operation's own parameter replaces the path item's one
        assert params[("verbose", "query")].pointer == "/paths/~1pets~1{id}/get/parameters/0"

    def test_security_schemes_resolve_local_refs_and_keep_external_unresolved(self) -> None:
        schemes = index_of(OPENAPI).security_schemes
        assert schemes["bearer"].type == "http"
        assert schemes["bearer"].pointer == "/components/securitySchemes/real"
        assert schemes["remote"].resolved is False
        assert schemes["remote"].data == {}

    def test_servers_at_root_path_item_and_operation_level(self) -> None:
        servers = index_of(OPENAPI).servers
        assert [(s.url, s.url_pointer, s.level) for s in servers] == [
            ("https://api.example.com", "/servers/0/url", "root"),
            ("https://pets.example.com", "/paths/~1pets~1{id}/servers/0/url", "path"),
            ("http://localhost:8080", "/paths/~1pets~1{id}/delete/servers/0/url", "operation"),
        ]

    def test_openapi_32_query_method_and_additional_operations(self) -> None:
        index = index_of("""
            openapi: 3.2.0
            info: {title: t, version: "1"}
            paths:
              /search:
                query: {responses: {"200": {description: ok}}}
                additionalOperations:
                  COPY: {responses: {"200": {description: ok}}}
        """)
        assert [(op.method, op.pointer) for op in index.operations] == [
            ("query", "/paths/~1search/query"),
            ("COPY", "/paths/~1search/additionalOperations/COPY"),
        ]

    def test_query_is_not_an_operation_before_32(self) -> None:
        index = index_of("""
            openapi: 3.1.0
            info: {title: t, version: "1"}
            paths:
              /search:
                query: {responses: {"200": {description: ok}}}
                trace: {responses: {"200": {description: ok}}}
        """)
        assert [op.method for op in index.operations] == ["trace"]


class TestSwagger2:
    def test_schemes_host_and_base_path_become_servers(self) -> None:
        index = index_of("""
            swagger: "2.0"
            info: {title: t, version: "1"}
            host: api.example.com
            basePath: /v1
            schemes: [http, https]
            paths:
              /a:
                get:
                  schemes: [wss]
                  responses: {"200": {description: ok}}
        """)
        assert [(s.url, s.pointer, s.scheme, s.level) for s in index.servers] == [
            ("http://api.example.com/v1", "/schemes/0", "http", "root"),
            ("https://api.example.com/v1", "/schemes/1", "https", "root"),
            ("wss://api.example.com/v1", "/paths/~1a/get/schemes/0", "wss", "operation"),
        ]

    def test_host_without_schemes_is_one_server_without_scheme(self) -> None:
        index = index_of("""
            swagger: "2.0"
            info: {title: t, version: "1"}
            host: api.example.com
            paths: {}
        """)
        assert [(s.url, s.pointer, s.scheme) for s in index.servers] == [
            ("//api.example.com", "/host", None)]

    def test_security_definitions_and_trace_is_not_a_method(self) -> None:
        index = index_of("""
            swagger: "2.0"
            info: {title: t, version: "1"}
            securityDefinitions:
              token: {type: apiKey, in: header, name: Authorization}
            paths:
              /a:
                trace: {responses: {"200": {description: ok}}}
                get:
                  security: [{token: []}]
                  responses: {"200": {description: ok}}
        """)
        assert index.security_schemes_pointer == "/securityDefinitions"
        assert index.security_schemes["token"].pointer == "/securityDefinitions/token"
        assert [(op.method, op.security_source) for op in index.operations] == [
            ("get", "operation")]


def test_unsupported_version_gives_an_empty_index() -> None:
    index = index_of("""
        openapi: 4.0.0
        info: {title: t, version: "1"}
        paths:
          /a:
            get: {responses: {"200": {description: ok}}}
    """)
    assert index.version is None
    assert (index.operations, index.servers, index.security_schemes) == ([], [], {})


def test_malformed_parts_are_skipped_not_raised() -> None:
    index = index_of("""
        openapi: 3.0.3
        info: {title: t, version: "1"}
        servers: not-a-list
        components: {securitySchemes: [1, 2]}
        paths:
          /a: 7
          /b:
            get: nope
            post:
              parameters: [1, {$ref: '#/missing'}, {name: q, in: query}]
              responses: {}
    """)
    (op,) = index.operations
    assert [(p.name, p.location) for p in op.parameters] == [("q", "query")]
    assert index.servers == [] and index.security_schemes == {}


def test_path_items_operations_and_parameters_defined_elsewhere_are_unresolved() -> None:
    index = index_of("""
        openapi: 3.1.0
        info: {title: t, version: "1"}
        paths:
          /a: {$ref: 'resources/a.yml'}
          /b:
            get: {$ref: 'resources/b.yml#/get'}
            post:
              parameters: [{$ref: 'params.yml#/P'}]
              responses: {}
          /c: {$ref: '#/components/pathItems/Missing'}
          /d: {$ref: '#/components/pathItems/D'}
        webhooks:
          w: {$ref: 'hooks.yml'}
        components:
          pathItems:
            D: {get: {responses: {}}}
    """)
    found = [(u.kind, u.path, u.method, u.pointer, u.external, u.webhook)
             for u in index.unresolved]
    assert found == [
        ("path-item", "/a", None, "/paths/~1a", True, False),
        ("operation", "/b", "get", "/paths/~1b/get", True, False),
        ("parameter", "/b", "post", "/paths/~1b/post/parameters/0", True, False),
        ("path-item", "/c", None, "/paths/~1c", False, False),
        ("path-item", "w", None, "/webhooks/w", True, True),
    ]
    assert [u.path for u in index.unresolved_api_operations] == ["/a", "/b", "/c"]
    assert [(op.path, op.method) for op in index.operations] == [("/b", "post"), ("/d", "get")]


def test_parameters_sharing_one_reference_each_name_their_own_place() -> None:
    # a reference is followed once per index; every use keeps its own used_at
    doc = load_document(json.dumps({
        "swagger": "2.0", "info": {"title": "t", "version": "1"},
        "parameters": {"p": {"name": "limit", "in": "query", "type": "integer"}},
        "paths": {"/a": {"get": {"parameters": [{"$ref": "#/parameters/p"}],
                                 "responses": {"200": {"description": "ok"}}}},
                  "/b~c": {"get": {"parameters": [{"$ref": "#/parameters/p"}],
                                   "responses": {"200": {"description": "ok"}}}}},
    }).encode())
    index = SpecIndex(doc)
    used = [(p.pointer, p.used_at, p.name) for op in index.operations for p in op.parameters]
    assert used == [("/parameters/p", "/paths/~1a/get/parameters/0", "limit"),
                    ("/parameters/p", "/paths/~1b~0c/get/parameters/0", "limit")]

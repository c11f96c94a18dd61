"""Fixtures for policy unit tests: compliant 3.1 and 2.0 documents and a rule runner.

Documents are plain dicts, serialised to JSON bytes and loaded with the real loader and
validator, so every test sees the same pipeline as ``check_spec``.
"""

from __future__ import annotations

import copy
import json
import textwrap
from collections.abc import Callable
from typing import Any

import pytest

from policies.check import locate_findings
from policies.findings import Finding
from policies.spec_rules import evaluate_one
from specs import load_document, validate_document
from specs.index import SpecIndex

PROFILE: dict[str, Any] = {
    "alg": "RSA-OAEP-256",
    "enc": "A256GCM",
    "signing-alg": "ES256",
    "issuer": "https://auth.example.com",
    "audience": "https://api.example.com/payments",
    "jwks-uri": "https://auth.example.com/.well-known/jwks.json",
    "max-lifetime": 900,
}

OPENAPI_31: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Payments", "version": "1.0.0"},
    "servers": [{"url": "https://api.example.com/v1"}],
    "security": [{"accessToken": []}],
    "paths": {
        "/payments/{id}": {
            "parameters": [
                {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "get": {
                "operationId": "getPayment",
                "parameters": [{"name": "expand", "in": "query", "schema": {"type": "string"}}],
                "responses": {"200": {"description": "the payment"}},
            },
            "delete": {
                "operationId": "deletePayment",
                "responses": {"204": {"description": "deleted"}},
            },
        }
    },
    "components": {
        "securitySchemes": {
            "accessToken": {
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "JWT",
                "x-token-encryption": PROFILE,
            }
        }
    },
}

SWAGGER_20: dict[str, Any] = {
    "swagger": "2.0",
    "info": {"title": "Payments", "version": "1.0.0"},
    "host": "api.example.com",
    "basePath": "/v1",
    "schemes": ["https"],
    "security": [{"accessToken": []}],
    "securityDefinitions": {
        "accessToken": {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "x-token-encryption": PROFILE,
        }
    },
    "paths": {
        "/payments/{id}": {
            "get": {
                "operationId": "getPayment",
                "parameters": [
                    {"name": "id", "in": "path", "required": True, "type": "string"},
                    {"name": "expand", "in": "query", "type": "string"},
                ],
                "responses": {"200": {"description": "the payment"}},
            }
        }
    },
}


@pytest.fixture
def openapi() -> dict[str, Any]:
    """A compliant OpenAPI 3.1 document (a fresh deep copy per test)."""
    return copy.deepcopy(OPENAPI_31)


@pytest.fixture
def swagger() -> dict[str, Any]:
    """A compliant Swagger 2.0 document (a fresh deep copy per test)."""
    return copy.deepcopy(SWAGGER_20)


def to_bytes(document: dict[str, Any] | str) -> bytes:
    """JSON bytes for a dict, dedented UTF-8 for YAML text."""
    if isinstance(document, str):
        return textwrap.dedent(document).encode()
    return json.dumps(document, indent=2).encode()


Evaluate = Callable[[str, "dict[str, Any] | str"], list[Finding]]


@pytest.fixture
def evaluate() -> Evaluate:
    """Run one spec rule on a document (dict or YAML text); findings are located."""

    def run(rule_id: str, document: dict[str, Any] | str) -> list[Finding]:
        doc = load_document(to_bytes(document))
        issues = validate_document(doc)
        return locate_findings(doc, evaluate_one(rule_id, doc, SpecIndex(doc), issues))

    return run

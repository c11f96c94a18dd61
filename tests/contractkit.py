"""Checks real REST responses against Stagegate's own contract (``lifecycle/api/openapi.yaml``).

:class:`Contract` finds the documented operation of a request (path template + method) and
checks the response: the status is documented, the media type is one the operation declares,
and a JSON body is valid against the response schema (JSON Schema 2020-12, the dialect of
OpenAPI 3.1; ``$ref`` resolved inside the document only).  Every check records what it saw,
so a test can assert that every documented operation was exercised.

openapi-core would do the same, but its releases pin openapi-spec-validator below the 0.9 the
product needs; this is the small part of it the tests use.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import referencing
import referencing.jsonschema
import yaml
from flask import Flask, Response, request, request_finished

CONTRACT_PATH = Path(__file__).resolve().parents[1] / "lifecycle" / "api" / "openapi.yaml"
PREFIX = "/api/v1"
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
_URI = "urn:stagegate:openapi"
FORMATS = jsonschema.Draft202012Validator.FORMAT_CHECKER


class ContractViolation(AssertionError):
    """A response that the contract does not allow (the message says which rule broke)."""


@dataclass(frozen=True, slots=True)
class Operation:
    """One documented operation: ``template`` (``/apis/{name}``), ``method`` (lower case)."""

    template: str
    method: str
    pattern: re.Pattern[str]
    literal_segments: int


@dataclass
class Contract:
    """The parsed contract and what has been checked against it so far."""

    document: Mapping[str, Any]
    operations: list[Operation] = field(default_factory=list)
    seen: set[tuple[str, str, str]] = field(default_factory=set)
    _registry: referencing.Registry[Any] = field(default_factory=referencing.Registry)

    @classmethod
    def load(cls, path: Path = CONTRACT_PATH) -> Contract:
        """Parse ``openapi.yaml``; operations sorted so literal segments win over templates."""
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        contract = cls(document)
        for template, item in document["paths"].items():
            for method in METHODS:
                if method in item:
                    contract.operations.append(_operation(template, method))
        contract.operations.sort(key=lambda op: -op.literal_segments)
        contract._registry = referencing.Registry().with_resource(
            _URI, referencing.Resource.from_contents(
                dict(document), default_specification=referencing.jsonschema.DRAFT202012))
        return contract

    # ------------------------------------------------------------------ lookups
    def operation(self, method: str, path: str) -> Operation | None:
        """The documented operation of ``method path`` (``path`` with the ``/api/v1``
        prefix and without the query string), or ``None``."""
        if not path.startswith(PREFIX):
            return None
        rest = path[len(PREFIX):] or "/"
        for op in self.operations:
            if op.method == method.lower() and op.pattern.fullmatch(rest):
                return op
        return None

    def documented(self) -> Iterator[tuple[str, str]]:
        """Every ``(template, method)`` of the contract."""
        for op in self.operations:
            yield op.template, op.method

    # ------------------------------------------------------------------ checks
    def check(self, method: str, path: str, status: int, mimetype: str | None,
              body: bytes) -> None:
        """Check one response.

        :raises ContractViolation: an undocumented endpoint (other than 404/405 for paths
            no route serves), an undocumented status, a media type the operation does not
            declare, or a JSON body that is not valid against the response schema.
        """
        op = self.operation(method, path)
        if op is None:
            if status in (404, 405):
                return
            raise ContractViolation(f"{method} {path} answered {status} but is not in the "
                                    "contract")
        responses = self.document["paths"][op.template][op.method]["responses"]
        key = str(status) if str(status) in responses else "default"
        if key not in responses:
            raise ContractViolation(
                f"{method.upper()} {op.template} answered {status}, which the contract does "
                f"not document (documented: {', '.join(sorted(responses))})")
        response, pointer = self._deref(
            responses[key], f"/paths/{_escape(op.template)}/{op.method}/responses/{key}")
        self.seen.add((op.template, op.method, str(status)))
        content = response.get("content")
        if not content:
            return
        if mimetype not in content:
            raise ContractViolation(
                f"{method.upper()} {op.template} {status} answered {mimetype!r}; the contract "
                f"declares {', '.join(content)}")
        if "schema" not in content[mimetype] or not mimetype.endswith("json"):
            return
        try:
            instance = json.loads(body)
        except ValueError as exc:
            raise ContractViolation(f"{method.upper()} {op.template} {status}: the body is "
                                    f"not JSON ({exc})") from None
        validator = jsonschema.Draft202012Validator(
            {"$ref": f"{_URI}#{pointer}/content/{_escape(mimetype)}/schema"},
            registry=self._registry, format_checker=FORMATS)
        errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
        if errors:
            first = errors[0]
            where = "/".join(str(p) for p in first.absolute_path)
            raise ContractViolation(
                f"{method.upper()} {op.template} {status}: the body breaks the contract at "
                f"/{where}: {first.message}")

    def _deref(self, node: Mapping[str, Any], pointer: str) -> tuple[Mapping[str, Any], str]:
        """Follow local ``$ref`` hops: the target and its pointer."""
        while "$ref" in node:
            pointer = node["$ref"].removeprefix("#")
            target: Any = self.document
            for part in pointer.strip("/").split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            node = target
        return node, pointer


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _operation(template: str, method: str) -> Operation:
    parts = template.strip("/").split("/") if template != "/" else []
    regex = "".join("/" + ("[^/]+" if p.startswith("{") else re.escape(p)) for p in parts)
    literal = sum(1 for p in parts if not p.startswith("{"))
    return Operation(template, method, re.compile(regex or "/"), literal)


# ------------------------------------------------------------------ pytest wiring
CONTRACT = Contract.load()


@contextmanager
def responses_checked(violations: list[str]) -> Iterator[None]:
    """While active, every response of every Flask app under ``/api/v1`` is checked against
    the contract; what breaks it is appended to ``violations`` (a handler that raised would
    turn the response into a 500 and hide the cause)."""

    def check(sender: Flask, response: Response, **_: Any) -> None:
        if not request.path.startswith(PREFIX + "/"):
            return
        body = response.get_data() if (response.mimetype or "").endswith("json") else b""
        try:
            CONTRACT.check(request.method, request.path, response.status_code,
                           response.mimetype, body)
        except ContractViolation as exc:
            violations.append(str(exc))

    request_finished.connect(check)
    try:
        yield
    finally:
        request_finished.disconnect(check)

"""Validate a loaded document with openapi-spec-validator, safely and with locations.

- The validator class is chosen explicitly from the declared version (2.0, 3.0, 3.1, 3.2);
  ``OpenAPIV3SpecValidator`` is never used because it now means 3.2.
- ``$ref`` resolution never leaves the document: the ``file``, ``http`` and ``https`` handlers
  are replaced by one that refuses (server-side request forgery / local file read, see
  ``docs/openapi-notes.md`` gotcha 3).  External references are reported instead.
- Every exception the validator can raise (``RecursionError``, ``Unresolvable``,
  ``KeyError``, ``TypeError`` …) becomes a :class:`ValidationIssue`; nothing propagates.
- openapi-spec-validator gives a document-rooted path only for structural errors; for the
  keyword checks we record which part of the document each keyword validator was looking at,
  so those issues get a JSON pointer too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from jsonschema.exceptions import ValidationError, best_match
from jsonschema_path.paths import SchemaPath
from openapi_spec_validator import (
    OpenAPIV2SpecValidator,
    OpenAPIV30SpecValidator,
    OpenAPIV31SpecValidator,
    OpenAPIV32SpecValidator,
)
from openapi_spec_validator.validation.exceptions import DuplicateOperationIDError
from openapi_spec_validator.validation.keywords import SchemaValidator, ValueValidator
from openapi_spec_validator.validation.validators import SpecValidator

from specs import pointer as jp
from specs.document import SpecDocument

MAX_MESSAGE = 400


@dataclass(slots=True)
class ValidationIssue:
    """One problem found while validating a document.

    :ivar message: what is wrong, for a person (at most a few hundred characters).
    :ivar pointer: JSON pointer of the offending part, ``""`` for the whole document, or
        ``None`` when the validator gave no location.
    :ivar kind: ``structural`` (against the OpenAPI JSON Schema), ``semantic`` (keyword
        checks: operationIds, parameters, schema values), ``reference`` (a ``$ref`` that does
        not resolve), ``external-ref`` (a reference outside the document, never fetched),
        ``version`` (missing or unsupported ``openapi``/``swagger``), ``validator-error``
        (the validator itself failed on this input).
    :ivar line: 1-based line in the uploaded text, filled by :func:`validate_document`.
    :ivar column: 1-based column.
    """

    message: str
    pointer: str | None
    kind: str
    line: int | None = None
    column: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {"message": self.message, "pointer": self.pointer, "kind": self.kind,
                "line": self.line, "column": self.column}


class ExternalReferenceRefused(Exception):
    """Raised by our resolver handler instead of reading a file or URL."""


def _refuse(uri: str) -> Any:
    raise ExternalReferenceRefused(uri)


_REFUSING_HANDLERS = {"file": _refuse, "http": _refuse, "https": _refuse, "<all_urls>": _refuse}


def _locating(cls: type) -> type:
    """Subclass a keyword validator so errors remember the document part being checked.

    The innermost validator wins (errors bubble out through the outer ones).  The value
    validator only checks ``default`` values in openapi-spec-validator 0.9, so its errors
    point at the ``default`` member; a duplicate operationId points at ``operationId``.
    """
    suffix: tuple[str, ...] = ("default",) if issubclass(cls, ValueValidator) else ()

    def __call__(self: Any, *args: Any, **kwargs: Any) -> Iterator[ValidationError]:
        where = next((a for a in args if isinstance(a, SchemaPath)), None)
        for err in cls.__call__(self, *args, **kwargs):
            if where is not None and not hasattr(err, "_stagegate_parts"):
                parts = (*where.parts, *suffix)
                if isinstance(err, DuplicateOperationIDError):
                    parts = (*parts, "operationId")
                err._stagegate_parts = parts  # type: ignore[attr-defined]
            yield err

    namespace: dict[str, Any] = {"__call__": __call__}
    if issubclass(cls, SchemaValidator):
        namespace["__init__"] = _with_id_sets(cls)
    return type(cls.__name__, (cls,), namespace)


class _IdSet(list[int]):
    """The list openapi-spec-validator uses to remember visited schemas, with set lookups.

    Its ``SchemaValidator`` scans a plain list on every schema (``id in list``), which is
    quadratic in the number of schemas: half of Cloudflare's validation time.  Same contents,
    same answers, O(1) membership.
    """

    def __init__(self) -> None:
        super().__init__()
        self._members: set[int] = set()

    def __contains__(self, item: object) -> bool:
        return item in self._members

    def append(self, item: int) -> None:
        self._members.add(item)
        super().append(item)


def _with_id_sets(cls: type) -> Any:
    def __init__(self: Any, registry: Any) -> None:
        cls.__init__(self, registry)
        self.visited_schema_ids = _IdSet()
        self.meta_checked_schema_ids = _IdSet()

    return __init__


def _safe(base: type[SpecValidator]) -> type[SpecValidator]:
    keywords = {name: _locating(kv) for name, kv in base.keyword_validators.items()}
    return type(
        f"Safe{base.__name__}",
        (base,),
        {"resolver_handlers": _REFUSING_HANDLERS, "keyword_validators": keywords},
    )


VALIDATORS: dict[str, type[SpecValidator]] = {
    "2.0": _safe(OpenAPIV2SpecValidator),
    "3.0": _safe(OpenAPIV30SpecValidator),
    "3.1": _safe(OpenAPIV31SpecValidator),
    "3.2": _safe(OpenAPIV32SpecValidator),
}

_ESCAPED_DOLLAR = re.compile(r"\\(?:u0024|x24|U00000024)", re.IGNORECASE)
_EXTERNAL_REF_HINT = re.compile(r"""\$ref["']?\s*:\s*["']?(?![#\s{\[])[^\s"']""")


def validate_document(doc: SpecDocument) -> list[ValidationIssue]:
    """Validate ``doc`` and return every issue found, each located where possible.

    Never raises for any document content; never reads a file or the network.

    :returns: issues in the order found; empty when the document is valid.
    """
    issues = list(_version_issues(doc))
    external = external_refs(doc)
    issues += [
        ValidationIssue(
            f"External reference {ref!r} was not fetched: Stagegate never reads files or URLs "
            "named in a document. Bundle it into one document.",
            pointer,
            "external-ref",
        )
        for pointer, ref in external
    ]
    if doc.openapi_version is not None:
        issues += _run_validator(doc)
    _locate(doc, issues)
    return issues


def _locate(doc: SpecDocument, issues: list[ValidationIssue]) -> None:
    """Fill line/column of every issue that has a pointer (closest ancestor if need be)."""
    located = doc.locate_nearest({i.pointer for i in issues if i.pointer is not None})
    for issue in issues:
        pos = located.get(issue.pointer) if issue.pointer is not None else None
        if pos is not None:
            issue.line, issue.column = pos.line, pos.column


def _version_issues(doc: SpecDocument) -> Iterator[ValidationIssue]:
    data = doc.data
    if doc.openapi_version is not None:
        return
    field_name = "openapi" if "openapi" in data else "swagger" if "swagger" in data else None
    if field_name is None:
        yield ValidationIssue(
            "This is not an OpenAPI document: it has no 'openapi' (3.x) or 'swagger' (2.0) field.",
            "",
            "version",
        )
        return
    value = data[field_name]
    if not isinstance(value, str):
        yield ValidationIssue(
            f"'{field_name}' must be a string such as \"3.1.0\", but it is the "
            f"{type(value).__name__} {value!r}. In YAML, quote the version: "
            f"{field_name}: \"{value}\".",
            jp.join(field_name),
            "version",
        )
    else:
        yield ValidationIssue(
            f"Unsupported {field_name} version {value!r}: Stagegate validates Swagger 2.0 and "
            "OpenAPI 3.0, 3.1 and 3.2.",
            jp.join(field_name),
            "version",
        )


def external_refs(doc: SpecDocument) -> list[tuple[str, str]]:
    """Every ``$ref`` that leaves the document, as ``(pointer to the $ref member, ref)``.

    A cheap text scan decides whether the full walk is needed at all.
    """
    if not _EXTERNAL_REF_HINT.search(doc.text) and not _ESCAPED_DOLLAR.search(doc.text):
        return []
    found: list[tuple[str, str]] = []
    seen: set[int] = set()
    stack: list[tuple[Any, str]] = [(doc.data, "")]
    while stack:
        node, where = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and not ref.startswith("#"):
                found.append((jp.child(where, "$ref"), ref))
            for key, value in node.items():
                if isinstance(value, dict | list):
                    stack.append((value, jp.child(where, key)))
        else:
            for index, value in enumerate(node):
                if isinstance(value, dict | list):
                    stack.append((value, jp.child(where, index)))
    found.sort()
    return found


def _run_validator(doc: SpecDocument) -> list[ValidationIssue]:
    cls = VALIDATORS[doc.openapi_version or ""]
    issues: list[ValidationIssue] = []
    try:
        validator = cls(doc.data)
        for err in validator.schema_validator.iter_errors(validator.schema):
            issues.append(_structural(err))
        for err in validator.root_validator(validator.schema_path):
            issues.append(_semantic(err))
    except ExternalReferenceRefused as exc:
        issues.append(_stopped(f"it reached the external reference {exc.args[0]!r}", "reference"))
    except RecursionError:
        issues.append(_stopped(
            "a schema refers to itself in a way that makes the validator recurse without end "
            "(e.g. a oneOf member that allOf-includes its parent)", "validator-error"))
    except Exception as exc:  # noqa: BLE001 - any validator failure is a finding, never a 500
        issues.append(_unexpected(doc, exc))
    return issues


_REFERENCE_ERRORS = {"Unresolvable", "PointerToNowhere", "NoSuchResource", "Unretrievable",
                     "NoSuchAnchor", "InvalidAnchor"}


def _unexpected(doc: SpecDocument, exc: BaseException) -> ValidationIssue:
    """Turn an exception that escaped the validator into an issue."""
    name = type(exc).__name__
    if name not in _REFERENCE_ERRORS:
        cause = f"{name}: {_clip(str(exc))}" if str(exc) else name
        return _stopped(f"the validator failed ({cause})", "validator-error")
    ref = getattr(exc, "ref", None) or getattr(exc, "uri", None) or str(exc)
    ref = str(ref)
    local = name == "PointerToNowhere" or ref.startswith(("#", "/"))
    if not local:
        return _stopped(f"it reached the external reference {ref!r}, which is never fetched",
                        "reference")
    target = ref if ref.startswith("#") else "#" + ref
    return ValidationIssue(
        f"The reference {target!r} does not resolve inside the document; validation stopped "
        "there, so issues after that point are not known. Define the target or fix the $ref.",
        _find_ref(doc, target),
        "reference",
    )


def _find_ref(doc: SpecDocument, target: str) -> str | None:
    """Pointer of the first ``$ref`` member whose value is ``target``."""
    stack: list[tuple[Any, str]] = [(doc.data, "")]
    seen: set[int] = set()
    while stack:
        node, where = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in items:
            if key == "$ref" and isinstance(value, str) and value.split("#", 1)[-1] == target[1:]:
                return jp.child(where, "$ref")
            if isinstance(value, dict | list):
                stack.append((value, jp.child(where, key)))
    return None


def _stopped(cause: str, kind: str) -> ValidationIssue:
    return ValidationIssue(
        f"Validation could not finish because {cause}. Issues after that point are not known.",
        None,
        kind,
    )


def _structural(err: ValidationError) -> ValidationIssue:
    best = best_match([err]) if err.context else err
    best = best if best is not None else err
    # best_match descends into the most relevant sub-error (e.g. inside oneOf branches).
    deeper = len(best.absolute_path) >= len(err.absolute_path)
    path = best.absolute_path if deeper else err.absolute_path
    return ValidationIssue(_message(best), jp.from_parts(path), "structural")


def _semantic(err: ValidationError) -> ValidationIssue:
    parts: tuple[Any, ...] = getattr(err, "_stagegate_parts", ())
    pointer = jp.from_parts((*parts, *err.absolute_path)) if parts or err.absolute_path else None
    kind = "semantic"
    if "Unresolvable" in _message(err) or "unresolvable" in _message(err).lower():
        kind = "reference"
    return ValidationIssue(_message(err), pointer, kind)


def _message(err: ValidationError) -> str:
    # The jsonschema-rs backend appends the failing schema and the whole instance; a person
    # needs only the first sentence, and the location is given separately.
    return _clip(" ".join(err.message.split()).split(" Failed validating ", 1)[0])


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"

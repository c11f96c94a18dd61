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
- One failure costs one part (issue 10): the keyword checks run per section (the tags, each
  path item, each component schema), so a crash in one is reported there and the others
  still run; cyclic ``allOf``/``oneOf`` schemas are walked with an explicit stack, each schema
  object once by identity (openapi-spec-validator issue #400).
- A revision read as a difference from the previous document is not checked whole against
  the OpenAPI JSON Schema when its changed members, away from the previous errors, are
  proven without errors: it has the previous errors (:func:`_structural_issues`).
- Every same-document ``$ref`` is checked by :mod:`specs.refs`, not by the validator: it
  resolves, and names an object of the kind its position requires.  The keyword checks see
  an empty schema in place of a schema ``$ref`` already reported, so they do not stop there.
- Blame the defective place: the validator's path follows ``$ref`` s (it names use sites, or
  places that do not exist); an issue is reported at the object itself, with the
  references into it as :attr:`ValidationIssue.reached_from`.  A path parameter missing
  from the template is reported at that parameter; a failed ``oneOf`` of the OpenAPI schema
  names the unexpected member when there is exactly one.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import quote

import jsonschema_rs
from jsonschema import FormatChecker
from jsonschema.exceptions import SchemaError, ValidationError, best_match
from jsonschema.validators import validator_for
from jsonschema_path.paths import SchemaPath
from openapi_schema_validator._specifications import REGISTRY as _OPENAPI_REGISTRY
from openapi_schema_validator.validators import check_openapi_schema
from openapi_spec_validator import (
    OpenAPIV2SpecValidator,
    OpenAPIV30SpecValidator,
    OpenAPIV31SpecValidator,
    OpenAPIV32SpecValidator,
)
from openapi_spec_validator.schemas import schema_v2, schema_v30, schema_v31, schema_v32
from openapi_spec_validator.schemas.backend.jsonschema_rs import JsonschemaRsValidatorWrapper
from openapi_spec_validator.validation.exceptions import (
    DuplicateOperationIDError,
    OpenAPIValidationError,
    UnresolvableParameterError,
)
from openapi_spec_validator.validation.keywords import SchemaValidator, ValueValidator
from openapi_spec_validator.validation.validators import SpecValidator

from specs import _fastpaths, _fastrefs
from specs import pointer as jp
from specs.document import SpecDocument
from specs.memo import (
    KeyedSet,
    Reuse,
    SectionMemo,
    SectionRecord,
    SectionReplay,
    Tracker,
    section_keys,
)
from specs.pointer import CONTAINERS, decode_ref
from specs.refs import RefIndex, Unchanged, problems_of, scan_parts, scan_refs

MAX_MESSAGE = 400

_fastpaths.install()
_fastrefs.install()


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
    :ivar reached_from: pointers of the ``$ref`` members through which the defective place is
        used (``…/schema/$ref``), in document order; empty when it is not reached through a
        reference.  ``pointer`` always names the defective place itself.
    :ivar reached_from_lines: 1-based line of each ``reached_from`` pointer (``None`` where
        unknown), filled by :func:`validate_document`.
    """

    message: str
    pointer: str | None
    kind: str
    line: int | None = None
    column: int | None = None
    reached_from: tuple[str, ...] = ()
    reached_from_lines: tuple[int | None, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form: ``message, pointer, kind, line, column`` and, only when the place
        is reached through references, ``reached_from`` (list of ``{pointer, line}``)."""
        result: dict[str, Any] = {"message": self.message, "pointer": self.pointer,
                                  "kind": self.kind, "line": self.line, "column": self.column}
        if self.reached_from:
            result["reached_from"] = [
                {"pointer": p, "line": line}
                for p, line in zip(self.reached_from, self._lines(), strict=True)]
        return result

    def describe(self, limit: int = 3) -> str:
        """``message`` followed by where the defective place is reached from, for a person.

        ``"… Reached from /paths/~1a/get/…/$ref (line 12) and 3 more."``; just ``message``
        when :attr:`reached_from` is empty.
        """
        if not self.reached_from:
            return self.message
        shown = [f"{p} (line {line})" if line is not None else p
                 for p, line in zip(self.reached_from[:limit], self._lines(), strict=False)]
        more = len(self.reached_from) - len(shown)
        tail = f" and {more} more" if more else ""
        return f"{self.message} Reached from {', '.join(shown)}{tail}."

    def _lines(self) -> tuple[int | None, ...]:
        lines = self.reached_from_lines
        if len(lines) != len(self.reached_from):
            lines = (None,) * len(self.reached_from)
        return lines


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
    Each error also keeps the object being checked (``_stagegate_node``): reached through a
    ``$ref``, the traversal path names no place in the document, the object's identity does.
    """
    suffix: tuple[str, ...] = ("default",) if issubclass(cls, ValueValidator) else ()

    def __call__(self: Any, *args: Any, **kwargs: Any) -> Iterator[ValidationError]:
        where = next((a for a in args if isinstance(a, SchemaPath)), None)
        tracker: Tracker | None = getattr(self, "_stagegate_tracker", None)
        if tracker is not None and where is not None:  # a schema: name it by its pointer
            tracker.enter(where.parts)
        for first in cls.__call__(self, *args, **kwargs):
            # a schema's other meta-schema errors (_every_meta_error): each its own error
            for err in (first, *first.__dict__.pop("_stagegate_more", ())):
                if where is not None and not hasattr(err, "_stagegate_parts"):
                    parts = (*where.parts, *suffix)
                    if isinstance(err, DuplicateOperationIDError):
                        parts = (*parts, "operationId")
                    setattr(err, "_stagegate_parts", parts)  # noqa: B010 - not declared
                    setattr(err, "_stagegate_where", where.parts)  # noqa: B010
                    setattr(err, "_stagegate_suffix", parts[len(where.parts):])  # noqa: B010
                yield err

    namespace: dict[str, Any] = {"__call__": __call__}
    if issubclass(cls, SchemaValidator):
        namespace["__init__"] = _with_id_sets(cls)
        namespace["_collect_properties"] = _collect_properties
        namespace["_validate_schema_meta"] = _every_meta_error(cls)
    return type(cls.__name__, (cls,), namespace)


def _every_meta_error(cls: Any) -> Any:
    """Replace the library's per-schema meta-schema check: every error, in document order.

    openapi-spec-validator checks each Schema Object against its dialect's meta-schema and
    reports the *first* error ``jsonschema`` yields, then stops looking at that schema.  That
    hides the others (two properties with a 3.0-style ``exclusiveMinimum: true`` in a 3.1
    schema: only one reported), and which one is first depends on ``jsonschema``'s set
    iteration, i.e. on ``PYTHONHASHSEED`` — the same bytes gave different findings from one
    process to the next (OpenAI's document).  Here every error of the library's own
    meta-schema validator is kept, sorted by where it is in the schema (document order,
    then keyword and message); the first is returned as the library would return it and the
    rest ride along (``_stagegate_more``, yielded separately by :func:`_locating`).

    Speed (issue 10): the same meta-schema, local registry and format checks compiled once
    with jsonschema-rs pre-check each schema; only a schema it rejects (or cannot take) is
    checked by the library's validator, which produces the errors and messages.  Verdicts
    are the library's; ``tests/unit/specs/test_fast_backend.py`` compares both over the
    whole corpus.  A checker that is not the library's ``check_openapi_schema`` runs as it
    is (its one error, if any).
    """
    get_checker: Callable[[Any, Any, Any], Callable[[Any], None]] = cls._get_schema_checker

    def _validate_schema_meta(self: Any, schema: Any, schema_value: Any
                              ) -> OpenAPIValidationError | None:
        try:
            checker = get_checker(self, schema, schema_value)
        except ValueError as exc:
            return OpenAPIValidationError(str(exc))
        errors = [OpenAPIValidationError.create_from(e)
                  for e in _meta_errors(checker, schema_value)]
        if not errors:
            return None
        if len(errors) > 1:
            setattr(errors[0], "_stagegate_more", errors[1:])  # noqa: B010
        return errors[0]

    return _validate_schema_meta


def _meta_errors(checker: Callable[[Any], None], value: Any
                 ) -> list[ValidationError | SchemaError]:
    """Every meta-schema error of the Schema Object ``value`` (see :func:`_every_meta_error`)."""
    parts = _meta_parts(checker)
    if parts is None:
        try:
            checker(value)
        except (SchemaError, ValidationError) as err:
            return [err]
        return []
    if FAST_SCHEMA_CHECKS:
        try:
            if _compiled_meta(*parts).is_valid(value):
                return []
        except Exception:  # noqa: BLE001 - no fast verdict: the library's validator decides
            pass
    return sorted(_library_meta(*parts).iter_errors(value),
                  key=functools.partial(_document_order, value))


def _document_order(instance: Any, error: ValidationError) -> tuple[list[int], str, str]:
    """Sort key of ``error``: the positions of its path's members in ``instance`` (a
    member's index in its mapping, an item's index), then its keyword and message."""
    where: list[int] = []
    node = instance
    for part in error.absolute_path:
        if isinstance(node, dict) and part in node:
            where.append(list(node).index(part))
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            where.append(part)
        else:
            break
        node = node[part]
    return where, str(error.validator), error.message


def _meta_parts(checker: Callable[[Any], None]) -> tuple[Any, FormatChecker | None] | None:
    """``(validator class, format checker)`` of the library's checker ``checker`` (a bound
    ``check_openapi_schema``, maybe a ``partial`` with a ``format_checker``), or ``None``
    when ``checker`` is anything else."""
    keywords: Mapping[str, Any] = {}
    func: Any = checker
    if isinstance(checker, functools.partial):
        func, keywords = checker.func, checker.keywords
        if checker.args:
            return None
    owner = getattr(func, "__self__", None)
    if owner is None or getattr(func, "__func__", None) is not check_openapi_schema:
        return None
    format_checker = keywords.get("format_checker", _UNSET)
    if format_checker is _UNSET:
        format_checker = owner.FORMAT_CHECKER
    return owner, format_checker


@functools.cache
def _library_meta(owner: Any, format_checker: FormatChecker | None) -> Any:
    """The meta-schema validator ``check_openapi_schema`` builds for ``owner`` (the same
    class, meta-schema, format checker and registry), built once."""
    validator_class = validator_for(owner.META_SCHEMA, default=owner)
    return validator_class(owner.META_SCHEMA, format_checker=format_checker,
                           registry=_OPENAPI_REGISTRY)


#: switch for the jsonschema-rs pre-check (tests compare the verdicts with and without it)
FAST_SCHEMA_CHECKS = True
_UNSET = object()


def _refuse_retrieval(uri: str) -> Any:
    raise ExternalReferenceRefused(uri)


@functools.cache
def _rs_registry() -> Any:
    """The library's local meta-schema registry (JSON Schema drafts + OpenAPI dialects and
    vocabularies) for jsonschema-rs; nothing is ever retrieved."""
    resources = [(uri, _OPENAPI_REGISTRY[uri].contents) for uri in _OPENAPI_REGISTRY]
    return jsonschema_rs.Registry(resources, retriever=_refuse_retrieval)


@functools.cache
def _compiled_meta(owner: Any, format_checker: FormatChecker | None) -> Any:
    formats: dict[str, Callable[..., bool]] = (
        {name: functools.partial(_conforms, format_checker, name)
         for name in format_checker.checkers} if format_checker is not None else {})
    return jsonschema_rs.validator_for(
        owner.META_SCHEMA, registry=_rs_registry(), retriever=_refuse_retrieval,
        formats=formats, validate_formats=format_checker is not None)


def _conforms(format_checker: FormatChecker, name: str, value: Any) -> bool:
    return bool(format_checker.conforms(value, name))


def _collect_properties(self: Any, schema: SchemaPath) -> set[str]:
    """Every property name reachable from ``schema`` through allOf/anyOf/oneOf/items/not.

    Replaces the library's recursive version, which never stops on a cycle such as a
    ``oneOf`` member that ``allOf``-includes its parent (openapi-spec-validator issue #400):
    an explicit stack, each schema object visited once by identity.
    """
    props: set[str] = set()
    seen: set[int] = set()
    stack = [schema]
    while stack:
        current = stack.pop()
        value = current.read_value()
        if id(value) in seen or not isinstance(value, Mapping):
            continue
        seen.add(id(value))
        if isinstance(value.get("properties"), Mapping):
            props.update(k for k in value["properties"] if isinstance(k, str))
        for keyword in ("allOf", "anyOf", "oneOf"):
            if isinstance(value.get(keyword), list):
                stack.extend(current / keyword)
        for keyword in ("items", "not"):
            if isinstance(value.get(keyword), Mapping):
                stack.append(current / keyword)
    return props


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
    base_init: Callable[[Any, Any], None] = cls.__init__  # type: ignore[misc]

    def __init__(self: Any, registry: Any) -> None:
        base_init(self, registry)
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


def validate_document(doc: SpecDocument, memo: SectionMemo | None = None
                      ) -> list[ValidationIssue]:
    """Validate ``doc`` and return every issue found, each located where possible.

    Never raises for any document content; never reads a file or the network.  A failure of
    the validator in one part of the document (a path item, a component schema, the tags)
    costs only that part: the others are still validated.  Every same-document ``$ref`` is
    checked independently of the validator (:mod:`specs.refs`): dangling references and
    references to an object of the wrong kind are always reported.  An issue inside an object
    reached through a ``$ref`` names that object (pointer and line) and lists the references
    it is reached from in :attr:`ValidationIssue.reached_from`.

    :param memo: the section records of the previous document of the same API version
        (:class:`specs.memo.SectionMemo`); sections whose result provably cannot differ are
        looked up instead of validated, and the memo then holds this document's sections.
        The issues are the same with or without it.
    The validation runs on a thread of its own, so it starts at the same stack depth
    whoever asks (the CLI, a web request, a job): where Python's recursion limit stops a
    very deep ``$ref`` chain — and so which issues are found — depends on the document alone.

    :returns: issues in the order found; empty when the document is valid.
    """
    return _on_own_stack(_validate, doc, memo)


def _on_own_stack(fn: Callable[[SpecDocument, SectionMemo | None], list[ValidationIssue]],
                  doc: SpecDocument, memo: SectionMemo | None) -> list[ValidationIssue]:
    """``fn(doc, memo)`` on a new thread (see :func:`validate_document`); what it raises is
    raised here."""
    outcome: list[Any] = []

    def target() -> None:
        try:
            outcome.append(fn(doc, memo))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            outcome.append(exc)

    worker = threading.Thread(target=target, name="stagegate-validate", daemon=True)
    worker.start()
    worker.join()
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    return cast(list[ValidationIssue], outcome[0])


def _validate(doc: SpecDocument, memo: SectionMemo | None) -> list[ValidationIssue]:
    """:func:`validate_document`'s work, on the caller's thread."""
    issues = list(_version_issues(doc))
    parts = memo.parts if memo is not None and not _may_share(doc) else None
    external = external_refs(doc, parts)
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
        unchanged: Unchanged | None = None
        try:
            if parts is not None:
                refs, kept, unchanged = scan_parts(
                    doc.data, doc.openapi_version, parts.last("refs.scan"))
                problems = problems_of(refs, doc.data, kept, unchanged)
                parts.keep("refs.scan", kept)
            else:
                refs = scan_refs(doc.data, doc.openapi_version, shared=_may_share(doc))
                problems = refs.problems(doc.data)
        except Exception as exc:  # noqa: BLE001 - defensive: never a 500
            refs, problems, unchanged = RefIndex(), [], None
            issues.append(_stopped(f"the reference check failed ({type(exc).__name__})",
                                   "validator-error"))
        issues += [ValidationIssue(p.message(), p.ref.pointer, "reference") for p in problems]
        dangling = {p.ref.target for p in problems if p.problem == "dangling"}
        neutral = [p.ref.pointer for p in problems if p.ref.expected in ("schema", None)]
        eligible = not problems and not external and not _may_share(doc)
        if memo is not None and not eligible:
            memo.records, memo.reused, memo.validated = {}, 0, 0
        issues += _run_validator(doc, refs, dangling, neutral,
                                 memo if eligible else None, unchanged, parts)
    issues = _merge(issues)
    _locate(doc, issues)
    return issues


_YAML_ANCHOR = re.compile(r"(?:^|[\s\[{,])&[^\s\[\]{},]")


def _may_share(doc: SpecDocument) -> bool:
    """True when parsed objects may be shared: a YAML text with an anchor (``&name``); only
    aliases of anchors share objects, and JSON never does."""
    return doc.format == "yaml" and _YAML_ANCHOR.search(doc.text) is not None


def _merge(issues: list[ValidationIssue]) -> list[ValidationIssue]:
    """One issue per (kind, message, pointer): the same defect reached from several places
    is reported once, with every place in ``reached_from``."""
    merged: dict[tuple[str, str, str | None], ValidationIssue] = {}
    for issue in issues:
        key = (issue.kind, issue.message, issue.pointer)
        first = merged.get(key)
        if first is None:
            merged[key] = issue
        elif issue.reached_from:
            extra = [p for p in issue.reached_from if p not in first.reached_from]
            first.reached_from = (*first.reached_from, *extra)
    return list(merged.values())


def _locate(doc: SpecDocument, issues: list[ValidationIssue]) -> None:
    """Fill line/column of every issue that has a pointer (closest ancestor if need be), and
    the line of every ``reached_from`` pointer."""
    wanted = {i.pointer for i in issues if i.pointer is not None}
    wanted.update(p for i in issues for p in i.reached_from)
    located = doc.locate_nearest(wanted)
    for issue in issues:
        pos = located.get(issue.pointer) if issue.pointer is not None else None
        if pos is not None:
            issue.line, issue.column = pos.line, pos.column
        if issue.reached_from:
            places = [located.get(p) for p in issue.reached_from]
            issue.reached_from_lines = tuple(
                place.line if place is not None else None for place in places)


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


def external_refs(doc: SpecDocument, parts: Reuse | None = None) -> list[tuple[str, str]]:
    """Every ``$ref`` that leaves the document, as ``(pointer to the $ref member, ref)``,
    sorted.

    A cheap text scan decides whether the full walk is needed at all.  With ``parts`` (the
    memo's :class:`specs.memo.Reuse`; only for documents whose objects are never shared),
    the references of each subtree to :data:`_EXTERNAL_DEPTH` are kept, and a revision
    walks again only the subtrees that are not the previous document's objects.
    """
    if parts is None:
        if not _external_hint(doc.text):
            return []
        found: list[tuple[str, str]] = []
        _external_walk(doc.data, "", found)
        found.sort()
        return found
    previous: _ExternalPart | None = parts.last("validate.external")
    if previous is None:
        if _external_hint(doc.text):
            root = _external_part(doc.data, "", 0, None)
        else:  # nothing anywhere: every subtree's list is empty
            root = _ExternalPart(doc.data, [])
    elif previous.node is doc.data:
        root = previous
    else:
        root = _external_part(doc.data, "", 0, previous)
    parts.keep("validate.external", root)
    if root.found and not _external_hint(doc.text):
        return []  # what the walk of the whole document answers then
    return sorted(root.found)


def _external_hint(text: str) -> bool:
    """Whether ``text`` may hold an external reference (false: it holds none)."""
    return bool(_EXTERNAL_REF_HINT.search(text) or _ESCAPED_DOLLAR.search(text))


def _external_walk(node: Any, where: str, found: list[tuple[str, str]]) -> None:
    """Add every external ``$ref`` inside ``node`` (at pointer ``where``) to ``found``."""
    seen: set[int] = set()
    stack: list[tuple[Any, str]] = [(node, where)]
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
                if isinstance(value, CONTAINERS):
                    stack.append((value, jp.child(where, key)))
        else:
            for index, value in enumerate(node):
                if isinstance(value, CONTAINERS):
                    stack.append((value, jp.child(where, index)))


#: depth of the subtrees whose external references :func:`external_refs` keeps apart
_EXTERNAL_DEPTH = 3


class _ExternalPart:
    """The external references inside one subtree (``node``), and its container members'
    parts by key (``int`` for an array item) when there are any and it is shallower than
    :data:`_EXTERNAL_DEPTH`; ``children`` is ``None`` otherwise (a part with no reference
    stands for every part inside it: all empty)."""

    __slots__ = ("children", "found", "node")

    def __init__(self, node: Any, found: list[tuple[str, str]],
                 children: dict[Any, _ExternalPart] | None = None) -> None:
        self.node = node
        self.found = found
        self.children = children

    def at(self, key: Any, in_list: bool) -> _ExternalPart | None:
        """The part of member ``key`` (an array item's when ``in_list``), ``None`` when
        there is none."""
        if self.children is not None:
            return self.children.get(key)
        node = self.node
        if self.found or isinstance(node, list) != in_list:
            return None
        value = (node[key] if key < len(node) else None) if in_list else node.get(key)
        return _ExternalPart(value, []) if isinstance(value, CONTAINERS) else None


def _external_part(node: Any, where: str, depth: int, old: _ExternalPart | None
                   ) -> _ExternalPart:
    """The :class:`_ExternalPart` of ``node`` at ``where``, reusing the parts of ``old``
    (the part at the same place in the previous document) whose subtree is the same."""
    found: list[tuple[str, str]] = []
    if depth >= _EXTERNAL_DEPTH:
        _external_walk(node, where, found)
        return _ExternalPart(node, found)
    children: dict[Any, _ExternalPart] = {}
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and not ref.startswith("#"):
            found.append((jp.child(where, "$ref"), ref))
        members: Iterable[tuple[Any, Any]] = node.items()
    else:
        members = enumerate(node)
    in_list = isinstance(node, list)
    for key, value in members:
        if isinstance(value, CONTAINERS):
            part = old.at(key, in_list) if old is not None else None
            if part is None or part.node is not value:
                part = _external_part(value, jp.child(where, key), depth + 1, part)
            children[key] = part
            found += part.found
    return _ExternalPart(node, found, children if found else None)


# --- the structural check of a revision (issue 10) -----------------------------------------

#: keywords that say nothing about an object's members, or only about the object's own type
_NEUTRAL = frozenset({"type", "description", "title", "$comment", "$schema", "$id", "id",
                      "default", "examples", "definitions", "$defs", "$anchor",
                      "$dynamicAnchor", "deprecated", "readOnly", "writeOnly"})
#: keywords that constrain each member alone, by its name and value
_PER_MEMBER = frozenset({"properties", "patternProperties", "additionalProperties",
                         "unevaluatedProperties"})
#: keywords that read only the object's member names
_KEY_ONLY = frozenset({"required", "minProperties", "maxProperties", "dependentRequired"})
_ROOT_KEY = "stagegate-root"


class _MetaShape:
    """What the OpenAPI JSON Schema ``meta`` says about an object's members, for proving a
    revision's errors those of the previous one without validating all of it
    (:func:`_proven_same`).

    A schema place (JSON pointer into ``meta``) is *strict* when every keyword applied to
    the object there (its own and those of ``$ref`` / ``allOf`` schemas) is per member
    (``properties``, ``patternProperties``, ``additionalProperties``,
    ``unevaluatedProperties``) or neutral (``type`` allowing objects, annotations): the
    object is valid exactly when each member is, so a one-member object ``{name: value}``
    checked against that place tells whether that member is.  It is *keyed* when it also
    has keywords that read member names only (``required`` …, or ``anyOf``/``oneOf``/
    ``not`` of those): valid with the same names and valid members.  Anything else is
    *opaque*.
    """

    def __init__(self, meta: dict[str, Any]) -> None:
        self.meta = meta
        self.draft4 = "draft-04" in str(meta.get("$schema", ""))
        self._defs = "$defs" if "$defs" in meta else "definitions"
        self._kinds: dict[str, str] = {}
        self._parts: dict[str, list[tuple[str, Any, frozenset[str]]] | None] = {}
        self._applicable: dict[tuple[str, str], tuple[str, ...] | None] = {}
        self._singletons: dict[str, Any] = {}

    def resolve(self, where: str) -> Any:
        return jp.resolve(self.meta, where, default=_GONE)

    def parts(self, where: str) -> list[tuple[str, Any, frozenset[str]]] | None:
        """``(pointer, schema, pointers of the schemas it is applied through)`` of every
        schema applied to the instance at ``where`` in place (itself, its ``$ref`` and
        ``allOf`` schemas), ``None`` when one cannot be followed."""
        if where in self._parts:
            return self._parts[where]
        found: list[tuple[str, Any, frozenset[str]]] = []
        stack: list[tuple[str, frozenset[str]]] = [(where, frozenset())]
        seen: set[str] = set()
        result: list[tuple[str, Any, frozenset[str]]] | None = found
        while stack:
            place, through = stack.pop()
            if place in seen:
                continue
            seen.add(place)
            schema = self.resolve(place)
            if schema is _GONE or not isinstance(schema, dict | bool):
                result = None
                break
            inside = through | {place}
            if isinstance(schema, dict) and "$ref" in schema:
                ref = schema["$ref"]
                if not isinstance(ref, str) or not ref.startswith("#"):
                    result = None
                    break
                stack.append((decode_ref(ref), inside))
                if self.draft4:
                    continue  # draft 4: the siblings of $ref are ignored
            if isinstance(schema, dict) and isinstance(schema.get("allOf"), list):
                stack.extend((jp.child(place, "allOf", i), inside)
                             for i in range(len(schema["allOf"])))
            found.append((place, schema, through))
        self._parts[where] = result
        return result

    def kind(self, where: str) -> str:
        """``strict``, ``keyed`` or ``opaque`` (see the class)."""
        known = self._kinds.get(where)
        if known is not None:
            return known
        parts = self.parts(where)
        kind = "opaque" if parts is None else "strict"
        for _, schema, _ in parts or ():
            if schema is True:
                continue
            if schema is False:
                kind = "opaque"
                break
            for keyword, value in schema.items():
                if keyword in ("$ref", "allOf") or keyword in _PER_MEMBER:
                    continue
                if keyword == "type":
                    types = value if isinstance(value, list) else [value]
                    if "object" not in types:
                        kind = "opaque"
                elif keyword in _KEY_ONLY or (
                        keyword in ("anyOf", "oneOf", "not") and _names_only(value)):
                    kind = "keyed" if kind == "strict" else kind
                elif keyword not in _NEUTRAL:
                    kind = "opaque"
        self._kinds[where] = kind
        return kind

    def applicable(self, where: str, name: str) -> tuple[str, ...] | None:
        """Pointers of the schemas member ``name`` of an object at ``where`` must be valid
        against (those that accept anything left out); ``None`` when that is not known."""
        key = (where, name)
        if key in self._applicable:
            return self._applicable[key]
        result: tuple[str, ...] | None
        if not (name.isascii() and name.isprintable()):  # regex dialects agree on these
            result = None
        else:
            result = self._members_schemas(where, name)
        self._applicable[key] = result
        return result

    def _members_schemas(self, where: str, name: str) -> tuple[str, ...] | None:
        parts = self.parts(where)
        if parts is None:
            return None
        found: list[str] = []
        evaluated: set[str] = set()  # the places (and those they apply through) naming it
        unevaluated: list[str] = []
        for place, schema, through in parts:
            if not isinstance(schema, dict):
                continue
            matched = False
            properties = schema.get("properties")
            if isinstance(properties, dict) and name in properties:
                found.append(jp.child(place, "properties", name))
                matched = True
            for pattern in schema.get("patternProperties") or {}:
                try:
                    hit = re.search(pattern, name) is not None
                except re.error:
                    return None
                if hit:
                    found.append(jp.child(place, "patternProperties", pattern))
                    matched = True
            if not matched and "additionalProperties" in schema:
                found.append(jp.child(place, "additionalProperties"))
                matched = True
            if matched:
                evaluated |= through | {place}
            if "unevaluatedProperties" in schema:
                unevaluated.append(place)
        # a schema's unevaluatedProperties sees what it and the schemas it applies evaluate
        found += [jp.child(place, "unevaluatedProperties") for place in unevaluated
                  if place not in evaluated]
        return tuple(p for p in found if not _accepts_anything(self.resolve(p)))

    def singleton_valid(self, where: str, name: str, value: Any) -> bool:
        """Whether ``{name: value}`` is valid against the schema at ``where`` (validated
        with the meta-schema's own definitions, as the whole document is)."""
        try:
            validator = self._singletons.get(where)
            if validator is None:
                validator = self._singletons[where] = _compile_at(self.meta, self._defs,
                                                                  where)
            return bool(validator.is_valid({name: value}))
        except Exception:  # noqa: BLE001 - no verdict: the whole document is checked
            return False


def _names_only(value: Any) -> bool:
    """Whether ``value`` (the schema(s) of ``anyOf``/``oneOf``/``not``) reads member names
    only."""
    schemas = value if isinstance(value, list) else [value]
    return all(isinstance(s, dict) and set(s) <= _KEY_ONLY | (_NEUTRAL - {"type"})
               for s in schemas)


def _accepts_anything(schema: Any) -> bool:
    return schema is True or (isinstance(schema, dict) and set(schema) <= _NEUTRAL - {"type"})


def _compile_at(meta: dict[str, Any], defs: str, where: str) -> Any:
    """A jsonschema-rs validator of the schema at ``where`` in ``meta``: ``meta`` with its
    root keywords moved under ``defs`` and the root applying ``where`` (references and
    dynamic anchors resolve as in ``meta``); built like openapi-spec-validator's own."""
    root = {k: v for k, v in meta.items()
            if k not in ("$schema", "$id", "id", "definitions", "$defs")}
    wrapper: dict[str, Any] = {k: meta[k] for k in ("$schema", "$id", "id") if k in meta}
    wrapper[defs] = {**meta.get(defs, {}), _ROOT_KEY: root}
    target = where if jp.split(where)[:1] == [defs] else jp.join(defs, _ROOT_KEY) + where
    wrapper["allOf"] = [{"$ref": "#" + quote(target, safe="/~")}]
    return jsonschema_rs.validator_cls_for(wrapper)(wrapper)


_SHAPES: dict[int, _MetaShape] = {}


def _shape(meta: dict[str, Any]) -> _MetaShape:
    shape = _SHAPES.get(id(meta))
    if shape is None or shape.meta is not meta:
        shape = _SHAPES[id(meta)] = _MetaShape(meta)
    return shape


#: members not shared with the previous document that a proof looks at before it gives up
#: (a revision read whole, not as a difference, shares nothing: checked whole, faster)
_PROOF_BUDGET = 64


class _Proof:
    """The state of one :func:`_proven_same`: the members it may still look at, whether
    member order must stay the same, the instance path of every member that differs, and
    of those proven member by member (the others were proven whole)."""

    __slots__ = ("budget", "changed", "opened", "ordered")

    def __init__(self, ordered: bool) -> None:
        self.budget = _PROOF_BUDGET
        self.ordered = ordered
        self.changed: list[tuple[str, ...]] = []
        self.opened: set[tuple[str, ...]] = set()


def _proven_same(shape: _MetaShape, where: str, old: Any, new: Any, proof: _Proof,
                 path: tuple[str, ...] = ()) -> bool:
    """Whether ``new`` provably gets the errors ``old`` (the previous revision's value at
    the same place, instance path ``path``) got against the schema at ``where``, given that
    ``old`` had none at ``path``, around or inside a member in :attr:`_Proof.changed`
    (the caller checks that against the errors it kept).

    Every member that is not the very same object is proven to have no error, member by
    member while one schema applies to it, or checked alone where the place is strict.
    With :attr:`_Proof.ordered` (the errors' order matters), members must keep their
    order.  ``False`` means not proven, also once :data:`_PROOF_BUDGET` members were
    looked at.
    """
    if old is new:
        return True
    if not (isinstance(old, dict) and isinstance(new, dict)):
        return False
    kind = shape.kind(where)
    if kind == "opaque" or ((kind == "keyed" or proof.ordered) and old.keys() != new.keys()):
        return False
    if proof.ordered and list(old) != list(new):
        return False
    for name, value in new.items():
        before = old.get(name, _GONE)
        if before is value:
            continue
        proof.budget -= 1
        if proof.budget < 0:
            return False
        member = (*path, name)
        proof.changed.append(member)
        schemas = shape.applicable(where, name)
        if schemas is None:
            return False
        if not schemas:
            continue
        if (before is not _GONE and len(schemas) == 1
                and _proven_same(shape, schemas[0], before, value, proof, member)):
            proof.opened.add(member)
            continue
        if proof.budget < 0:
            return False
        if kind == "strict" and shape.singleton_valid(where, name, value):
            continue
        return False
    return True


def _apart(errors: Sequence[tuple[Any, ...]], proof: _Proof) -> bool:
    """Whether no error's instance path in ``errors`` is around a changed member of
    ``proof`` or at it (an error there may quote the changed value), nor inside one proven
    whole (its old value had that error)."""
    for error in errors:
        for member in proof.changed:
            if len(error) <= len(member):
                if tuple(error) == member[:len(error)]:
                    return False
            elif member not in proof.opened and tuple(error[:len(member)]) == member:
                return False
    return True


def _shares_a_member(old: Any, new: Any) -> bool:
    """Whether ``new`` (a document's data) has an object or array member that is ``old``'s
    very member: it was read as a difference from ``old`` (a document read whole shares
    none, and is checked whole at once)."""
    return (isinstance(old, dict) and isinstance(new, dict)
            and any(isinstance(value, CONTAINERS) and new.get(key) is value
                    for key, value in old.items()))


def _proven(meta: dict[str, Any], before: _Checked, data: Any) -> bool:
    """Whether ``data`` provably has the structural errors of ``before.data``
    (:func:`_proven_same`, then :func:`_apart`); ``False`` when the proof fails in any way
    (the document is then checked whole: a shortcut never costs a finding)."""
    proof = _Proof(ordered=bool(before.found))
    try:
        return (_proven_same(_shape(meta), "", before.data, data, proof)
                and _apart(before.places, proof))
    except Exception:  # noqa: BLE001 - defensive: no proof, the whole check runs
        return False


@dataclass(slots=True)
class _Checked:
    """The last document's structural check (kept in :class:`Reuse`): its data, and the
    ``(message, pointer)`` of each issue with the instance path of its error, in order."""

    meta: Any
    data: Any
    found: tuple[tuple[str, str | None], ...]
    places: tuple[tuple[Any, ...], ...]


def _structural_issues(doc: SpecDocument, validator: SpecValidator, refs: RefIndex,
                       parts: Reuse | None) -> list[ValidationIssue]:
    """The structural check: ``doc`` against the OpenAPI JSON Schema of its version.

    With ``parts``, when this document differs from the previous one checked only in
    members :func:`_proven_same` proves without errors before and after (a path item, a
    component …), away from every error the previous check found, its issues are the
    previous check's (the same errors, in the same order; ``reached_from`` is this
    document's), without validating the whole document.
    """
    checker: Any = validator.schema_validator
    meta = checker.schema
    fast = isinstance(checker, JsonschemaRsValidatorWrapper) and isinstance(meta, dict)
    before: _Checked | None = parts.last("validate.structural") if parts is not None else None
    if (fast and before is not None and before.meta is meta
            and _shares_a_member(before.data, doc.data) and _proven(meta, before, doc.data)):
        assert parts is not None
        parts.keep("validate.structural", _Checked(meta, doc.data, before.found,
                                                   before.places))
        return [ValidationIssue(message, pointer, "structural",
                                reached_from=tuple(refs.refs_into(pointer))
                                if pointer is not None else ())
                for message, pointer in before.found]
    issues: list[ValidationIssue] = []
    places: list[tuple[Any, ...]] = []
    try:
        for err in checker.iter_errors(doc.data):
            issue = _structural(err, doc.openapi_version, doc.data)
            if issue.pointer is not None:
                issue.reached_from = tuple(refs.refs_into(issue.pointer))
            issues.append(issue)
            places.append(tuple(err.absolute_path))
    except Exception as exc:  # noqa: BLE001
        issues.append(_unexpected(doc, exc, None))
        return issues
    if parts is not None and fast:
        parts.keep("validate.structural", _Checked(
            meta, doc.data, tuple((i.message, i.pointer) for i in issues), tuple(places)))
    return issues


Section = tuple[str, Callable[[], Iterable[ValidationError]]]


def _run_validator(doc: SpecDocument, refs: RefIndex, dangling: set[str],
                   neutral: Sequence[str] = (), memo: SectionMemo | None = None,
                   unchanged: Unchanged | None = None, parts: Reuse | None = None
                   ) -> list[ValidationIssue]:
    """Structural check, then the keyword checks one section at a time.

    :param refs: the document's references (for "reached from" and relocation).
    :param dangling: targets of dangling local references, already reported by
        :func:`validate_document`; a section stopped by one of them says so in one issue.
    :param neutral: pointers of ``$ref`` members (schema positions) already reported as
        dangling or of the wrong kind: the keyword checks see an empty schema there instead,
        so they neither stop nor validate the wrong object.
    :param memo: section records to reuse and to refill (:mod:`specs.memo`); only for
        documents whose pointers name objects one to one (never with ``neutral``).
    :param unchanged: which pointers name the previous document's values
        (:func:`specs.refs.scan_parts`): their section keys are not computed again.
    :param parts: the memo's results by subtree (the structural check of a revision:
        :func:`_structural_issues`).
    """
    cls = VALIDATORS[doc.openapi_version or ""]
    issues: list[ValidationIssue] = []
    try:
        validator = cls(_neutralised(doc.data, neutral) if neutral else doc.data)
    except Exception as exc:  # noqa: BLE001 - any validator failure is a finding, never a 500
        return [_unexpected(doc, exc, None)]
    locator = _Relocator(doc.data, refs)
    issues += _structural_issues(doc, validator, refs, parts)
    sections = _sections(validator, parts)
    outcomes = (_memo_outcomes(validator, sections, memo, unchanged) if memo is not None
                else None)
    if memo is not None and outcomes is None:
        # the memo could not name every object the validator reached: validate plainly
        try:
            validator = cls(_neutralised(doc.data, neutral) if neutral else doc.data)
        except Exception as exc:  # noqa: BLE001
            return [*issues, _unexpected(doc, exc, None)]
        sections = _sections(validator)
    if outcomes is None:
        outcomes = [_section_outcome(run) for _, run in sections]
    for (where, _), outcome in zip(sections, outcomes, strict=True):
        issues += _outcome_issues(doc, locator, where, outcome, dangling)
    return issues


#: what one section's keyword checks produced, as plain data: ``("err", message, where
#: parts, suffix, absolute path, is a path-parameter error)`` per error, possibly ended by
#: ``("recursion",)``, ``("external", ref)`` or ``("exception", exc)`` when it stopped
Outcome = tuple[tuple[Any, ...], ...]


def _section_outcome(run: Callable[[], Iterable[ValidationError]]) -> Outcome:
    """Run one section's keyword checks; every exception is caught and recorded."""
    found: list[tuple[Any, ...]] = []
    try:
        for err in run():
            found.append(("err", _message(err), tuple(getattr(err, "_stagegate_where", ())),
                          tuple(getattr(err, "_stagegate_suffix", ())),
                          tuple(err.absolute_path),
                          isinstance(err, UnresolvableParameterError)))
    except RecursionError:
        found.append(("recursion",))
    except ExternalReferenceRefused as exc:
        found.append(("external", exc.args[0]))
    except Exception as exc:  # noqa: BLE001 - any validator failure is a finding
        found.append(("exception", exc))
    return tuple(found)


def _outcome_issues(doc: SpecDocument, locator: _Relocator, where: str, outcome: Outcome,
                    dangling: set[str]) -> list[ValidationIssue]:
    """The issues of one section's :data:`Outcome`, located in ``doc``."""
    issues = []
    for item in outcome:
        if item[0] == "err":
            issues.append(_semantic(*item[1:], locator=locator))
        elif item[0] == "recursion":
            issues.append(_stopped(
                "a schema refers to itself in a way that makes the validator recurse without "
                "end", "validator-error", where))
        elif item[0] == "external":
            issues.append(_stopped(f"it reached the external reference {item[1]!r}",
                                   "reference", where))
        else:
            issue = _unexpected(doc, item[1], where)
            if issue.kind == "reference" and _target_of(issue) in dangling:
                issues.append(_stopped(
                    f"it reached the dangling reference {_target_of(issue)!r} (reported at "
                    "its $ref)", "reference", where))
            else:
                issues.append(issue)
    return issues


def _memo_outcomes(validator: SpecValidator, sections: Sequence[Section],
                   memo: SectionMemo, unchanged: Unchanged | None = None
                   ) -> list[Outcome] | None:
    """Each section's outcome, looked up in ``memo`` where :mod:`specs.memo` proves it the
    same, validated otherwise; ``memo`` then holds this document's sections.

    :returns: ``None`` when an object reached by the validator could not be named by its
        pointer (nothing is reused or stored; the caller validates without the memo).
    """
    tracker = Tracker(validator.schema)
    registry = validator.keyword_validators_registry
    checker = registry["schema"]
    checker.visited_schema_ids = KeyedSet(tracker, "visited")  # type: ignore[attr-defined]
    checker.meta_checked_schema_ids = KeyedSet(tracker, "meta")  # type: ignore[attr-defined]
    setattr(checker, "_stagegate_tracker", tracker)  # noqa: B010 - read by _locating
    registry["operation"].operation_ids_registry = KeyedSet(  # type: ignore[attr-defined]
        tracker, "op")
    data = validator.schema
    settings = (f"{type(validator).__name__}|{data.get('jsonSchemaDialect')!r}|"
                f"{FAST_SCHEMA_CHECKS}")
    keys = section_keys(data, [where for where, _ in sections], settings, memo.parts,
                        unchanged)
    outcomes: list[Outcome] = []
    records: dict[str, SectionRecord] = {}
    reused = 0
    kept = memo.parts.last("memo.sequence")
    sequence = kept[1] if kept is not None and kept[0] is memo.records else None
    replayer = SectionReplay(tracker, sequence, len(sections))
    for (_, run), key in zip(sections, keys, strict=True):
        record = memo.records.get(key)
        if record is not None and replayer.reuse(key, record):
            outcomes.append(record.outcome)
            records[key] = record
            reused += 1
            continue
        replayer.start()
        outcome = _section_outcome(run)
        if tracker.unsound:
            memo.records, memo.reused, memo.validated = {}, 0, 0
            return None
        record = SectionRecord(tuple(tracker.events), outcome)
        replayer.ran(key, record)
        if not outcome or outcome[-1][0] == "err":  # a stopped section is never reused
            records[key] = record
        outcomes.append(outcome)
    memo.records, memo.reused, memo.validated = records, reused, len(sections) - reused
    memo.parts.keep("memo.sequence", (records, replayer.sequence))
    memo.replayed = reused - replayer.skipped
    return outcomes


def _neutralised(data: dict[str, Any], ref_members: Sequence[str]) -> dict[str, Any]:
    """A copy of ``data`` where the object holding each ``$ref`` member is ``{}``.

    Copy-on-write along the pointers only: every other object is shared (same identity), so
    the cost is proportional to the depth of the references, not to the document.
    """
    root = dict(data)
    copies = {id(root)}
    for member in ref_members:
        tokens = jp.split(member)[:-1]  # the Reference Object holding the $ref
        if not tokens:
            continue
        node: Any = root
        for token in tokens[:-1]:
            key: Any = int(token) if isinstance(node, list) else token
            child = node[key]
            if id(child) not in copies:
                child = dict(child) if isinstance(child, dict) else list(child)
                copies.add(id(child))
                node[key] = child
            node = child
        last: Any = int(tokens[-1]) if isinstance(node, list) else tokens[-1]
        node[last] = {}
    return root


def _sections(validator: SpecValidator, parts: Reuse | None = None) -> list[Section]:
    """The keyword checks of :class:`RootValidator`, split so that each can fail alone: the
    tags, each path item, each webhook-free component schema (same order as the library).

    A section's check is built when it runs (a revision runs few); with ``parts``, the
    pointers of the members of ``/paths`` and ``/components/schemas`` are those of the
    previous document when its member names are the same.
    """
    root = validator.root_validator
    registry = root.registry
    spec = validator.schema_path
    data = validator.schema
    sections: list[Section] = []
    if "tags" in data and "tags" in registry.keyword_validators:
        tags_validator: Callable[[SchemaPath], Iterable[ValidationError]] = cast(
            Any, registry["tags"])
        sections.append(("/tags", functools.partial(tags_validator, spec / "tags")))
    if isinstance(data.get("paths"), Mapping):
        path_validator = root.paths_validator.path_validator
        paths = spec / "paths"
        urls = _keys(paths)
        sections += zip(_pointers(("paths",), urls, parts),
                        [functools.partial(_member_check, path_validator, paths, url, True)
                         for url in urls], strict=True)
    components = data.get("components")
    if isinstance(components, Mapping) and isinstance(components.get("schemas"), Mapping):
        schema_validator = root.components_validator.schemas_validator.schema_validator
        schemas = spec / "components" / "schemas"
        names = _keys(schemas)
        sections += zip(_pointers(("components", "schemas"), names, parts),
                        [functools.partial(_member_check, schema_validator, schemas, name,
                                           False) for name in names], strict=True)
    return sections


def _keys(path: SchemaPath) -> list[str]:
    """The member names of the object at ``path`` (names containing ``#`` or ``/``
    included); ``[]`` when the object cannot be read."""
    try:
        return [key for key in path.keys() if isinstance(key, str)]  # noqa: SIM118 - names
    except Exception:  # noqa: BLE001 - the structural check reports the shape
        return []


def _member_check(check: Callable[..., Iterable[ValidationError]], parent: SchemaPath,
                  key: str, with_key: bool) -> Iterable[ValidationError]:
    """``check`` of member ``key`` of ``parent`` (given the key too when ``with_key``).
    The member's path is made as ``parent.items()`` makes it (never parsed from the key)."""
    make = getattr(parent, "_make_child_relpath", None)
    child = make(key) if make is not None else dict(parent.items())[key]
    return check(key, child) if with_key else check(child)


def _pointers(prefix: tuple[str, ...], keys: list[str], parts: Reuse | None) -> list[str]:
    """The pointer of each member ``keys`` of the object at ``prefix``; kept in ``parts``
    and reused while the names are the same."""
    kind = "validate.sections/" + "/".join(prefix)
    names = tuple(keys)
    kept = parts.last(kind) if parts is not None else None
    if kept is not None and kept[0] == names:
        pointers: list[str] = kept[1]
    else:
        pointers = [jp.join(*prefix, key) for key in keys]
    if parts is not None:
        parts.keep(kind, (names, pointers))
    return pointers


_REFERENCE_ERRORS = {"Unresolvable", "PointerToNowhere", "NoSuchResource", "Unretrievable",
                     "NoSuchAnchor", "InvalidAnchor"}


def _unexpected(doc: SpecDocument, exc: BaseException, where: str | None) -> ValidationIssue:
    """Turn an exception that escaped the validator in section ``where`` into an issue."""
    name = type(exc).__name__
    if name not in _REFERENCE_ERRORS:
        cause = f"{name}: {_clip(str(exc))}" if str(exc) else name
        return _stopped(f"the validator failed ({cause})", "validator-error", where)
    ref = getattr(exc, "ref", None) or getattr(exc, "uri", None) or str(exc)
    ref = str(ref)
    local = name == "PointerToNowhere" or ref.startswith(("#", "/"))
    if not local or "#" in ref.lstrip("#"):  # '/api/x#anchor' is a URI, not a pointer
        return _stopped(f"it reached the external reference {ref!r}, which is never fetched",
                        "reference", where)
    target = ref if ref.startswith("#") else "#" + ref
    return ValidationIssue(
        f"The reference {target!r} does not resolve inside the document; validation stopped "
        "there, so issues after that point are not known. Define the target or fix the $ref.",
        _find_ref(doc, target) or where,
        "reference",
    )


def _target_of(issue: ValidationIssue) -> str:
    """The decoded target pointer named in a reference issue made by :func:`_unexpected`."""
    start = issue.message.find("'#")
    end = issue.message.find("'", start + 1)
    return decode_ref(issue.message[start + 1:end]) if start >= 0 and end > start else ""


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
            if isinstance(value, CONTAINERS):
                stack.append((value, jp.child(where, key)))
    return None


def _stopped(cause: str, kind: str, where: str | None = None) -> ValidationIssue:
    part = f" of {where}" if where else ""
    after = "in that part" if where else "after that point"
    return ValidationIssue(
        f"Validation{part} could not finish because {cause}. Issues {after} are not known.",
        where,
        kind,
    )


def _structural(err: ValidationError, version: str | None = None, data: Any = None
                ) -> ValidationIssue:
    best = best_match([err]) if err.context else err
    best = best if best is not None else err
    # best_match descends into the most relevant sub-error (e.g. inside oneOf branches).
    deeper = len(best.absolute_path) >= len(err.absolute_path)
    path = list(best.absolute_path if deeper else err.absolute_path)
    message = _message(best)
    schema_path = list(err.relative_schema_path)
    if schema_path and schema_path[-1] in ("oneOf", "anyOf") and version is not None:
        instance = jp.resolve(data, jp.from_parts(err.absolute_path), default=_GONE)
        explained = None if instance is _GONE else _explain_branches(err, version, instance)
        if explained is not None:
            message, culprit = explained
            path = list(err.absolute_path) + ([culprit] if culprit is not None else [])
    return ValidationIssue(_clip(message), jp.from_parts(path), "structural")


_META_SCHEMAS = {"2.0": schema_v2, "3.0": schema_v30, "3.1": schema_v31, "3.2": schema_v32}


@functools.cache
def _meta_validator(version: str) -> Any:
    """A pure-Python validator of the OpenAPI JSON Schema for ``version``: the fast backend
    reports a failed ``oneOf`` without its branches, this one keeps them (errors only)."""
    schema = _META_SCHEMAS[version]
    return validator_for(schema)(schema)


def _explain_branches(err: ValidationError, version: str, instance: Any
                      ) -> tuple[str, str | None] | None:
    """For a failed ``oneOf``/``anyOf`` of the OpenAPI schema: why each allowed form failed.

    Re-validates only the failing value against the keyword's schema with branch errors
    kept.  When exactly one member of the value is rejected as unexpected by the branches
    (``additionalProperties``), that member is the culprit (``optionalFields``): the message
    starts with it and its name is returned to point at it.

    :returns: ``(message, culprit member or None)``, or ``None`` when nothing better than the
        validator's own message can be said.
    """
    try:
        root = _meta_validator(version)
        schema: Any = _META_SCHEMAS[version]
        for token in list(err.relative_schema_path)[:-1]:
            schema = schema[token]
        failed = next((e for e in root.evolve(schema=schema).iter_errors(instance)
                       if e.validator in ("oneOf", "anyOf") and not e.relative_path), None)
    except Exception:  # noqa: BLE001 - an explanation is optional; never fail validation
        return None
    if failed is None or not failed.context:
        return None
    branches = failed.validator_value if isinstance(failed.validator_value, list) else []
    reasons: dict[int, list[str]] = {}
    unexpected: set[str] = set()
    for sub in failed.context:
        branch = sub.relative_schema_path[0] if sub.relative_schema_path else None
        if not isinstance(branch, int):
            continue
        reasons.setdefault(branch, []).append(_message(sub))
        if (sub.validator in ("additionalProperties", "unevaluatedProperties")
                and not sub.relative_path and isinstance(sub.instance, dict)):
            unexpected.update(_extra_members(sub.instance, sub.schema))
    forms = "; ".join(
        f"as {_form_name(branches, b)}, " + ", ".join(dict.fromkeys(reasons[b]))
        for b in sorted(reasons))
    if len(unexpected) == 1:
        culprit = unexpected.pop()
        return (f"{culprit!r} is not allowed here: it is no keyword of this object (extensions "
                f"start with 'x-'). The value matches none of the allowed forms: {forms}.",
                culprit)
    return f"The value matches none of the allowed forms: {forms}.", None


def _extra_members(instance: dict[str, Any], schema: Any) -> list[str]:
    """Members of ``instance`` that neither ``properties`` nor ``patternProperties`` allow."""
    if not isinstance(schema, dict):
        return []
    named = schema.get("properties") or {}
    patterns = list((schema.get("patternProperties") or {}).keys())
    return [k for k in instance
            if k not in named and not any(re.search(p, k) for p in patterns)]


def _form_name(branches: list[Any], index: int) -> str:
    """``Reference`` for a branch ``{"$ref": "#/definitions/Reference"}``, else ``form N``."""
    branch = branches[index] if index < len(branches) else None
    ref = branch.get("$ref") if isinstance(branch, dict) else None
    if isinstance(ref, str):
        return "a " + ref.rsplit("/", 1)[-1]
    return f"form {index + 1}"


class _Relocator:
    """Maps a validator traversal path (which follows ``$ref``s) to the defective place."""

    def __init__(self, data: Any, refs: RefIndex) -> None:
        self._data = data
        self._refs = refs

    def place(self, parts: Sequence[Any]) -> tuple[str | None, tuple[str, ...]]:
        """Real pointer of the object reached along ``parts``, and the ``$ref`` members
        that lead into it (every use site, however the validator reached it; ``()`` when no
        reference names the place or one of its ancestors).

        ``(None, ())`` when the path cannot be followed in the data.
        """
        node: Any = self._data
        where = ""
        for part in (*parts, None):
            hops = 0
            while isinstance(node, dict) and isinstance(node.get("$ref"), str) and hops < 32:
                ref = node["$ref"]
                if not ref.startswith("#"):
                    return None, ()
                where = decode_ref(ref)
                node = jp.resolve(self._data, where, default=_GONE)
                hops += 1
            if part is None:
                break
            in_dict = isinstance(node, dict) and part in node
            in_list = isinstance(node, list) and isinstance(part, int) and part < len(node)
            if in_dict or in_list:
                node = node[part]
            else:
                return None, ()
            where = jp.child(where, part)
        return where, tuple(self._refs.refs_into(where))


_GONE = object()
_PATH_PARAM = re.compile(r"^Path parameter '(.*)' for '(.*)' operation in '(.*)' was not resolved$")


def _semantic(message: str, where: tuple[Any, ...], suffix: tuple[Any, ...],
              absolute_path: tuple[Any, ...], path_parameter: bool, *, locator: _Relocator
              ) -> ValidationIssue:
    """The issue of one keyword-check error (its :data:`Outcome` item), located."""
    kind = "reference" if "unresolvable" in message.lower() else "semantic"
    parts = (*where, *suffix)
    if not parts and not absolute_path:
        return ValidationIssue(message, None, kind)
    place, reached = locator.place(where)
    if place is None:
        return ValidationIssue(message, jp.from_parts((*parts, *absolute_path)), kind)
    if path_parameter:
        issue = _path_parameter(message, locator, place, reached)
        if issue is not None:
            return issue
    pointer = jp.child(place, *suffix, *absolute_path)
    return ValidationIssue(message, pointer, kind, reached_from=reached)


def _path_parameter(message: str, locator: _Relocator, operation: str,
                    reached: tuple[str, ...]) -> ValidationIssue | None:
    """A path parameter missing from the template is reported at that parameter (the item
    of the operation's or path item's ``parameters``); a template variable without a
    parameter stays at the operation."""
    match = _PATH_PARAM.match(message)
    if match is None:
        return None
    name, method, url = match.groups()
    template = set(re.findall(r"{([^{}]*)}", url))
    if name in template:
        return ValidationIssue(
            f"The path template {url!r} has {{{name}}} but the {method} operation declares no "
            f"path parameter {name!r}.", operation, "semantic", reached_from=reached)
    data = locator._data
    path_item = operation.rsplit("/", 1)[0]
    for owner in (operation, path_item):
        params = jp.resolve(data, owner + "/parameters")
        if not isinstance(params, list):
            continue
        for i, param in enumerate(params):
            target, _ = jp.deref(data, param)
            if (isinstance(target, dict) and target.get("name") == name
                    and target.get("in") == "path"):
                return ValidationIssue(
                    f"Path parameter {name!r} (in: path) is declared for the {method} operation "
                    f"but the path template {url!r} has no {{{name}}}.",
                    jp.child(owner, "parameters", i), "semantic", reached_from=reached)
    return None


def _message(err: ValidationError) -> str:
    # The jsonschema-rs backend appends the failing schema and the whole instance; a person
    # needs only the first sentence, and the location is given separately.
    return _clip(" ".join(err.message.split()).split(" Failed validating ", 1)[0])


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"

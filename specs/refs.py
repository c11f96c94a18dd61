"""Every ``$ref`` of a document, checked without the validator: resolves, and the right kind.

One iterative walk over the document along the OpenAPI structure (Swagger 2.0, OpenAPI 3.0,
3.1, 3.2) records, for every place a Reference Object may stand, the kind of object that
place requires (``schema``, ``parameter``, ``response`` …) and, for every object the walk
reaches inline, the kind it is.  Each same-document reference (``#/…``) is then checked:

- it **resolves** (RFC 6901 pointer, percent-decoded as a URI fragment);
- it points at an object of the **kind its position requires**: a Schema ``$ref: '#'`` points
  at the document root, which is not a Schema Object; a parameter ``$ref`` must point at a
  Parameter, and so on.  Targets outside the typed structure (e.g. under an ``x-`` extension)
  are accepted when they are objects, since their kind cannot be known.

The walk never follows references and never recurses (explicit stack), so cyclic schemas and
deep documents cost one visit per node.  Example values, ``default``/``enum``/``const`` and
``x-`` extensions are data, not structure: a ``$ref`` key inside them is not a reference.

Sources: OpenAPI 3.0.3 / 3.1.1 §4.8 (where Reference Objects may appear), Swagger 2.0
§Reference Object, RFC 6901 §6 (pointers in URI fragments).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from specs import pointer as jp

#: schema keywords whose value is one schema
_SCHEMA_ONE = ("not", "if", "then", "else", "additionalProperties", "unevaluatedProperties",
               "unevaluatedItems", "contains", "propertyNames", "additionalItems",
               "contentSchema")
#: schema keywords whose value is an array of schemas
_SCHEMA_LIST = ("allOf", "anyOf", "oneOf", "prefixItems")
#: schema keywords whose value maps names to schemas
_SCHEMA_MAP = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")

_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace",
                      "query"})

#: components member -> kind of each entry (3.x)
_COMPONENTS = {
    "schemas": "schema", "responses": "response", "parameters": "parameter",
    "examples": "example", "requestBodies": "requestBody", "headers": "header",
    "securitySchemes": "securityScheme", "links": "link", "callbacks": "callback",
    "pathItems": "pathItem", "mediaTypes": "mediaType",
}
#: Swagger 2.0 top-level member -> kind of each entry
_SWAGGER_SECTIONS = {"definitions": "schema", "parameters": "parameter",
                     "responses": "response", "securityDefinitions": "securityScheme"}

#: readable names of the kinds, for messages
KIND_NAMES = {
    "document": "the document root", "schema": "a Schema Object",
    "parameter": "a Parameter Object", "response": "a Response Object",
    "requestBody": "a Request Body Object", "header": "a Header Object",
    "example": "an Example Object", "link": "a Link Object", "callback": "a Callback Object",
    "securityScheme": "a Security Scheme Object", "pathItem": "a Path Item Object",
    "operation": "an Operation Object", "mediaType": "a Media Type Object",
    "paths": "the Paths Object", "components": "the Components Object",
    "responses": "a Responses Object", "encoding": "an Encoding Object",
    "container": "a map of components",
}


@dataclass(frozen=True, slots=True)
class LocalRef:
    """One same-document reference.

    :ivar pointer: JSON pointer of the ``$ref`` member itself (``…/schema/$ref``).
    :ivar ref: the reference as written (``#/components/schemas/Pet``).
    :ivar target: the decoded JSON pointer it names (``/components/schemas/Pet``).
    :ivar expected: the kind of object its position requires (a key of :data:`KIND_NAMES`),
        or ``None`` where the structure does not say.
    """

    pointer: str
    ref: str
    target: str
    expected: str | None


@dataclass(frozen=True, slots=True)
class RefProblem:
    """A local reference that is wrong.

    :ivar ref: the reference.
    :ivar problem: ``dangling`` (names nothing) or ``wrong-kind`` (names an object of another
        kind than its position requires).
    :ivar found: for ``wrong-kind``, the kind of the target (a key of :data:`KIND_NAMES`) or
        the JSON type of a non-object target (``string``, ``array`` …).
    """

    ref: LocalRef
    problem: str
    found: str | None = None

    def message(self) -> str:
        """A sentence for a person naming the reference and what is wrong with it."""
        ref = self.ref
        if self.problem == "dangling":
            return (f"The reference {ref.ref!r} does not resolve inside the document: nothing "
                    f"is defined at {ref.target or '/'}. Define the target or fix the $ref.")
        want = KIND_NAMES.get(ref.expected or "", "an object")
        got = KIND_NAMES.get(self.found or "", f"a {self.found}")
        return (f"The reference {ref.ref!r} is used as {want} but points at {got}. "
                "Point it at " + want.replace("a ", "", 1).replace("an ", "", 1) + ".")


@dataclass(slots=True)
class RefIndex:
    """The result of :func:`scan_refs`.

    :ivar local: every same-document reference, in document order.
    :ivar external: every other reference as ``(pointer of the $ref member, ref)``.
    :ivar kinds: kind of each object the structural walk reached inline, by pointer.
    """

    local: list[LocalRef] = field(default_factory=list)
    external: list[tuple[str, str]] = field(default_factory=list)
    kinds: dict[str, str] = field(default_factory=dict)

    def problems(self, data: Any) -> list[RefProblem]:
        """Dangling and wrong-kind local references of the document ``data``.

        :returns: problems in document order of the ``$ref`` members.
        """
        found: list[RefProblem] = []
        cache: dict[str, Any] = {}
        for ref in self.local:
            if ref.target not in cache:
                cache[ref.target] = jp.resolve(data, ref.target, default=_MISSING)
            target = cache[ref.target]
            if target is _MISSING:
                found.append(RefProblem(ref, "dangling"))
                continue
            got = self._kind_of(ref.target, target)
            if ref.expected is not None and got is not None and got != ref.expected:
                found.append(RefProblem(ref, "wrong-kind", got))
        return found

    def _kind_of(self, target: str, value: Any) -> str | None:
        """Kind of the object at ``target``; ``None`` when it cannot be known (accepted)."""
        if target == "":
            return "document"
        kind = self.kinds.get(target)
        if kind is not None:
            return kind
        if isinstance(value, dict):
            return None
        if isinstance(value, bool):
            return None  # a boolean schema (3.1) is fine; elsewhere the validator says so
        return _json_type(value)

    def refs_into(self, pointer: str) -> list[str]:
        """Pointers of the ``$ref`` members whose target is ``pointer`` or one of its ancestors.

        These are the places from which the object at ``pointer`` is reached.
        """
        wanted = set(_self_and_ancestors(pointer))
        return [r.pointer for r in self.local if r.target in wanted]


_MISSING = object()


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def _self_and_ancestors(pointer: str) -> Iterator[str]:
    yield pointer
    while pointer:
        pointer = pointer.rsplit("/", 1)[0]
        yield pointer


def decode_ref(ref: str) -> str:
    """The JSON pointer named by a same-document reference (``#/a%20b`` → ``/a b``)."""
    return unquote(ref[1:])


def scan_refs(data: dict[str, Any], version: str | None) -> RefIndex:
    """Walk ``data`` once and collect every reference with the kind its position requires.

    :param data: the parsed document (not modified).
    :param version: ``"2.0"``, ``"3.0"``, ``"3.1"``, ``"3.2"`` or ``None`` (unknown: every
        reference is collected, none has an expected kind).
    :returns: a :class:`RefIndex`.  Never raises for any document shape.
    """
    index = RefIndex()
    # stack of (node, pointer, kind); kind None = untyped (generic walk)
    stack: list[tuple[Any, str, str | None]] = [(data, "", "document")]
    seen: set[tuple[int, str | None]] = set()
    swagger = version == "2.0"
    kinds = index.kinds
    while stack:
        node, where, kind = stack.pop()
        if not isinstance(node, dict | list):
            continue
        key = (id(node), kind)
        if key in seen:
            continue  # a YAML alias: the same object under another name, already walked
        seen.add(key)
        if isinstance(node, list):
            if kind is None:
                stack.extend((v, jp.child(where, i), None) for i, v in enumerate(node))
            continue
        ref = node.get("$ref")
        if isinstance(ref, str) and kind not in ("document", "paths", "components",
                                                  "container", "responses"):
            if ref.startswith("#"):
                index.local.append(LocalRef(jp.child(where, "$ref"), ref, decode_ref(ref),
                                            kind if kind in KIND_NAMES else None))
            else:
                index.external.append((jp.child(where, "$ref"), ref))
            if kind != "schema" and kind != "pathItem":
                continue  # a Reference Object: its other members are ignored
        if kind is not None:
            kinds[where] = kind
        for child_node, child_where, child_kind in _children(node, where, kind, swagger):
            stack.append((child_node, child_where, child_kind))
    index.local.sort(key=lambda r: r.pointer)
    index.external.sort()
    return index


def _entries(node: Any, where: str, kind: str, skip_x: bool = True
             ) -> Iterator[tuple[Any, str, str | None]]:
    if isinstance(node, dict):
        for name, value in node.items():
            if not (skip_x and name.startswith("x-")):
                yield value, jp.child(where, name), kind


def _items(node: Any, where: str, kind: str) -> Iterator[tuple[Any, str, str | None]]:
    if isinstance(node, list):
        for i, value in enumerate(node):
            yield value, jp.child(where, i), kind


def _children(node: dict[str, Any], where: str, kind: str | None, swagger: bool
              ) -> Iterator[tuple[Any, str, str | None]]:
    """The typed children of one object (``kind None``: every member, untyped)."""
    get = node.get
    if kind is None:
        for name, value in node.items():
            if not name.startswith("x-") and name not in ("example", "examples", "default",
                                                           "enum", "const"):
                yield value, jp.child(where, name), None
        return
    if kind == "schema":
        yield from _schema_children(node, where, swagger)
        return
    if kind == "document":
        if "paths" in node:
            yield get("paths"), jp.child(where, "paths"), "paths"
        if isinstance(get("webhooks"), dict):
            yield from _entries(get("webhooks"), jp.child(where, "webhooks"), "pathItem")
        if swagger:
            for section, entry_kind in _SWAGGER_SECTIONS.items():
                value = get(section)
                if isinstance(value, dict):
                    yield from _entries(value, jp.child(where, section), entry_kind)
        elif isinstance(get("components"), dict):
            components = jp.child(where, "components")
            for section, value in get("components").items():
                entry_kind = _COMPONENTS.get(section)
                if entry_kind is not None and isinstance(value, dict):
                    yield from _entries(value, jp.child(components, section), entry_kind,
                                        skip_x=False)
        return
    if kind == "paths":
        yield from _entries(node, where, "pathItem")
        return
    if kind == "pathItem":
        yield from _items(get("parameters"), jp.child(where, "parameters"), "parameter")
        for name, value in node.items():
            if name in _METHODS:
                yield value, jp.child(where, name), "operation"
        extra = get("additionalOperations")
        if isinstance(extra, dict):
            yield from _entries(extra, jp.child(where, "additionalOperations"), "operation",
                                skip_x=False)
        return
    if kind == "operation":
        yield from _items(get("parameters"), jp.child(where, "parameters"), "parameter")
        if "requestBody" in node:
            yield get("requestBody"), jp.child(where, "requestBody"), "requestBody"
        if isinstance(get("responses"), dict):
            yield from _entries(get("responses"), jp.child(where, "responses"), "response")
        if isinstance(get("callbacks"), dict):
            yield from _entries(get("callbacks"), jp.child(where, "callbacks"), "callback")
        return
    if kind == "callback":
        yield from _entries(node, where, "pathItem")
        return
    if kind in ("parameter", "header", "response", "mediaType", "requestBody"):
        if "schema" in node:
            yield get("schema"), jp.child(where, "schema"), "schema"
        if "itemSchema" in node:
            yield get("itemSchema"), jp.child(where, "itemSchema"), "schema"
        if isinstance(get("content"), dict):
            yield from _entries(get("content"), jp.child(where, "content"), "mediaType",
                                skip_x=False)
        if isinstance(get("examples"), dict) and not swagger:
            yield from _entries(get("examples"), jp.child(where, "examples"), "example",
                                skip_x=False)
        if isinstance(get("headers"), dict) and not swagger:
            yield from _entries(get("headers"), jp.child(where, "headers"), "header",
                                skip_x=False)
        if isinstance(get("links"), dict):
            yield from _entries(get("links"), jp.child(where, "links"), "link", skip_x=False)
        if isinstance(get("encoding"), dict):
            yield from _entries(get("encoding"), jp.child(where, "encoding"), "encoding",
                                skip_x=False)
        return
    if kind == "encoding":
        if isinstance(get("headers"), dict):
            yield from _entries(get("headers"), jp.child(where, "headers"), "header",
                                skip_x=False)
        return
    # example, link, securityScheme …: leaves (their values are data)


def _schema_children(node: dict[str, Any], where: str, swagger: bool
                     ) -> Iterator[tuple[Any, str, str | None]]:
    get = node.get
    for name in _SCHEMA_ONE:
        value = get(name)
        if isinstance(value, dict):
            yield value, jp.child(where, name), "schema"
    for name in _SCHEMA_LIST:
        yield from _items(get(name), jp.child(where, name), "schema")
    for name in _SCHEMA_MAP:
        value = get(name)
        if isinstance(value, dict):
            yield from _entries(value, jp.child(where, name), "schema", skip_x=False)
    items = get("items")
    if isinstance(items, dict):
        yield items, jp.child(where, "items"), "schema"
    elif isinstance(items, list):
        yield from _items(items, jp.child(where, "items"), "schema")
    # unknown keywords may hold schemas too (vocabularies); walk them untyped so their
    # references are still checked for resolution
    for name, value in node.items():
        if (isinstance(value, dict | list) and name not in _KNOWN_SCHEMA_KEYS
                and not name.startswith("x-")):
            yield value, jp.child(where, name), None


_KNOWN_SCHEMA_KEYS = frozenset({
    *_SCHEMA_ONE, *_SCHEMA_LIST, *_SCHEMA_MAP, "items", "example", "examples", "default",
    "enum", "const", "required", "type", "discriminator", "xml", "externalDocs",
    "dependentRequired", "dependencies",
})

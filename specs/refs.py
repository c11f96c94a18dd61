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

from specs import pointer as jp
from specs.pointer import CONTAINERS, decode_ref

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


class LocalRef:
    """One same-document reference.

    :ivar pointer: JSON pointer of the ``$ref`` member itself (``…/schema/$ref``), built on
        first use (most references of a large document are never reported).
    :ivar ref: the reference as written (``#/components/schemas/Pet``).
    :ivar target: the decoded JSON pointer it names (``/components/schemas/Pet``).
    :ivar expected: the kind of object its position requires (a key of :data:`KIND_NAMES`),
        or ``None`` where the structure does not say.
    """

    __slots__ = ("_pointer", "_position", "expected", "ref", "target")

    def __init__(self, position: Any, ref: str, target: str, expected: str | None) -> None:
        self._position = position
        self._pointer: str | None = None
        self.ref = ref
        self.target = target
        self.expected = expected

    @property
    def pointer(self) -> str:
        """See the class docstring."""
        if self._pointer is None:
            self._pointer = _pointer(self._position)
        return self._pointer

    def __repr__(self) -> str:
        return f"LocalRef({self.pointer!r}, {self.ref!r}, expected={self.expected!r})"


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
                f"Point it at {want}.")


@dataclass(slots=True)
class RefIndex:
    """The result of :func:`scan_refs`.

    :ivar local: every same-document reference, sorted by pointer.
    :ivar external: every other reference as ``(pointer of the $ref member, ref)``.
    :ivar swagger: the document is Swagger 2.0.
    :ivar known: the document's version is known (else no kind is checked).
    :ivar anchors: every ``$anchor`` / ``$dynamicAnchor`` of the document's schemas (3.1+:
        ``#name`` references name them, not a pointer).
    """

    local: list[LocalRef] = field(default_factory=list)
    external: list[tuple[str, str]] = field(default_factory=list)
    swagger: bool = False
    known: bool = True
    anchors: set[str] = field(default_factory=set)
    _by_target: dict[str, list[LocalRef]] | None = field(default=None, repr=False)

    def problems(self, data: Any) -> list[RefProblem]:
        """Dangling and wrong-kind local references of the document ``data``.

        :returns: problems ordered by the pointer of their ``$ref`` member.
        """
        found: list[RefProblem] = []
        cache: dict[str, tuple[Any, str | None]] = {}
        for ref in self.local:
            if ref.target not in cache:
                cache[ref.target] = self._lookup(data, ref.target)
            target, got = cache[ref.target]
            if target is _MISSING:
                found.append(RefProblem(ref, "dangling"))
                continue
            if ref.expected is not None and got is not None and got != ref.expected:
                found.append(RefProblem(ref, "wrong-kind", got))
        found.sort(key=lambda problem: problem.ref.pointer)
        return found

    def _lookup(self, data: Any, target: str) -> tuple[Any, str | None]:
        """``(value, kind)`` at ``target``; value ``_MISSING`` when nothing is there."""
        if target and not target.startswith("/"):
            # a plain-name fragment names a JSON Schema anchor, not a pointer (kind unknown)
            return (None if target in self.anchors else _MISSING), None
        value = jp.resolve(data, target, default=_MISSING)
        return value, None if value is _MISSING else self._kind_of(data, target, value)

    def _kind_of(self, data: Any, target: str, value: Any) -> str | None:
        """Kind of the object at ``target``; ``None`` when it cannot be known (accepted)."""
        if target == "":
            return "document"
        if self.known:
            kind = kind_at(data, target, "2.0" if self.swagger else "3.1")
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
        if self._by_target is None:
            self._by_target = {}
            for ref in self.local:
                self._by_target.setdefault(ref.target, []).append(ref)
        # a reference to the root ("#") is never a use site (it is reported as wrong-kind)
        found = [r.pointer for t in _self_and_ancestors(pointer) if t
                 for r in self._by_target.get(t, ())]
        return sorted(found)


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


# ----------------------------------------------------------------------------- the walk
# A position's kind decides the kind of each member: ``TRANSITIONS[kind][key]``, else
# ``DEFAULT[kind]`` for any other key.  ``map:K`` is an object whose every member is a K,
# ``list:K`` an array of K; ``None`` is untyped (walked, references have no expected kind);
# ``_SKIP`` is data (examples, defaults, extensions), not walked.
_SKIP = "-"
_DATA_KEYS = ("example", "examples", "default", "enum", "const")

_MEDIA: dict[str, str | None] = {
    "schema": "schema", "itemSchema": "schema", "examples": "map:example",
    "encoding": "map:encoding", "example": _SKIP}
_PARAM: dict[str, str | None] = {
    "schema": "schema", "content": "map:mediaType", "examples": "map:example",
    "example": _SKIP, "items": _SKIP, "default": _SKIP, "enum": _SKIP}
_TRANSITIONS: dict[str, dict[str, str | None]] = {
    "document3": {"paths": "paths", "webhooks": "map:pathItem", "components": "components"},
    "document2": {"paths": "paths", "definitions": "map:schema",
                  "parameters": "map:parameter", "responses": "map:response",
                  "securityDefinitions": "map:securityScheme"},
    "components": {name: f"map:{kind}" for name, kind in _COMPONENTS.items()},
    "pathItem": {"parameters": "list:parameter", "additionalOperations": "map:operation",
                 **dict.fromkeys(_METHODS, "operation")},
    "operation": {"parameters": "list:parameter", "requestBody": "requestBody",
                  "responses": "responses", "callbacks": "map:callback"},
    "parameter": _PARAM,
    "header": _PARAM,
    "mediaType": _MEDIA,
    "requestBody": {"content": "map:mediaType"},
    "response3": {"headers": "map:header", "content": "map:mediaType", "links": "map:link"},
    "response2": {"schema": "schema", "headers": _SKIP, "examples": _SKIP},
    "encoding": {"headers": "map:header"},
    "schema": {
        **dict.fromkeys(_SCHEMA_ONE, "schema"), **dict.fromkeys(_SCHEMA_LIST, "list:schema"),
        **dict.fromkeys(_SCHEMA_MAP, "map:schema"), "items": "schema",
        **dict.fromkeys(_DATA_KEYS, _SKIP),
    },
}
#: kind of members not named in the table (``_SKIP`` for leaves)
_DEFAULT: dict[str, str | None] = {
    "paths": "pathItem", "responses": "response", "callback": "pathItem", "schema": None,
}
#: kinds whose members starting with ``x-`` are extensions (data)
_EXTENSIBLE = frozenset({"document3", "document2", "components", "pathItem", "operation",
                         "parameter", "header", "mediaType", "requestBody", "response3",
                         "response2", "encoding", "schema", "paths", "responses",
                         "callback", None})
#: kinds a ``$ref`` may stand for (the others never hold a Reference Object)
_REFERABLE = frozenset({"schema", "parameter", "response2", "response3", "requestBody", "header",
                        "example", "link", "callback", "securityScheme", "pathItem",
                        "mediaType", None})


def _public(kind: str | None) -> str | None:
    """``response3`` → ``response``: the kind as named in :data:`KIND_NAMES`."""
    if kind is None:
        return None
    if kind in ("document2", "document3"):
        return "document"
    if kind in ("response2", "response3"):
        return "response"
    return kind


def _step(kind: str | None, key: str | int, value: Any, swagger: bool) -> str | None:  # noqa: PLR0911 - one branch per OpenAPI construct
    """Kind of member ``key`` (with ``value``) of an object or array of kind ``kind``."""
    if kind is None:
        if isinstance(key, str) and (key.startswith("x-") or key in _DATA_KEYS):
            return _SKIP
        return None
    if kind.startswith("map:"):
        inner = kind[4:]
        return ("response2" if swagger else "response3") if inner == "response" else inner
    if kind.startswith("list:"):
        return kind[5:] if isinstance(key, int) else _SKIP
    if isinstance(key, int):
        return _SKIP
    if key.startswith("x-") and kind in _EXTENSIBLE and kind != "components":
        return _SKIP
    table = _TRANSITIONS.get(kind)
    if table is not None and key in table:
        found = table[key]
        if found == "schema" and key == "items" and isinstance(value, list):
            return "list:schema"
        return found
    if kind in _DEFAULT:
        found = _DEFAULT[kind]
        if found == "response":
            return "response2" if swagger else "response3"
        return found
    return _SKIP


def _list_item_kind(kind: str | None) -> str | None:
    if kind is None:
        return None
    return kind[5:] if kind.startswith("list:") else _SKIP


_Entry = tuple[dict[str, str | None], str | None, bool]


class _Tables(dict[str | None, _Entry]):
    """Per kind: ``(member table, kind of the other members, x- members are extensions)``:
    the answers of :func:`_step`, precomputed for the walk."""

    def __init__(self, swagger: bool) -> None:
        super().__init__()
        self.swagger = swagger

    def __missing__(self, kind: str | None) -> _Entry:
        swagger = self.swagger
        entry: _Entry
        if kind is None:
            entry = (dict.fromkeys(_DATA_KEYS, _SKIP), None, True)
        elif kind.startswith("map:"):
            entry = ({}, _step(kind, "member", None, swagger), False)
        elif kind.startswith("list:"):
            entry = ({}, _SKIP, False)
        else:
            table = {name: _step(kind, name, None, swagger)
                     for name in _TRANSITIONS.get(kind, {})}
            entry = (table, _step(kind, "\u0000other", None, swagger), kind in _EXTENSIBLE)
        self[kind] = entry
        return entry


_TABLES_2 = _Tables(swagger=True)
_TABLES_3 = _Tables(swagger=False)


def scan_refs(data: dict[str, Any], version: str | None, shared: bool = True) -> RefIndex:
    """Walk ``data`` once and collect every reference with the kind its position requires.

    :param data: the parsed document (not modified).
    :param version: ``"2.0"``, ``"3.0"``, ``"3.1"``, ``"3.2"`` or ``None`` (unknown: every
        reference is collected, none has an expected kind).
    :param shared: objects may be shared (YAML aliases): walk each (object, kind) once.
        ``False`` for JSON, whose parsed objects are never shared.
    :returns: a :class:`RefIndex`.  Never raises for any document shape.
    """
    swagger = version == "2.0"
    index = RefIndex(swagger=swagger, known=version is not None)
    root_kind: str | None = ("document2" if swagger else "document3") if version else None
    _walk([(data, root_kind, None)], index.local, index.external, index.anchors,
          _TABLES_2 if swagger else _TABLES_3, shared)
    index.external.sort()
    return index


def _visit(node: Any, kind: str | None, pos: Any, tables: _Tables,
           local: list[LocalRef], external: list[tuple[str, str]], anchors: set[str]
           ) -> list[tuple[Any, Any, str | None]]:
    """Add ``node``'s own reference (a ``$ref`` member) and anchors to ``local``,
    ``external`` and ``anchors``; return ``(key, value, kind)`` of each member or item to
    walk next (none under a Reference Object, whose other members are ignored)."""
    if isinstance(node, list):
        item_kind = _list_item_kind(kind)
        if item_kind == _SKIP:
            return []
        return [(i, value, item_kind) for i, value in enumerate(node)
                if isinstance(value, CONTAINERS)]
    ref = node.get("$ref")
    if isinstance(ref, str) and kind in _REFERABLE:
        if ref.startswith("#"):
            local.append(LocalRef((pos, "$ref"), ref, decode_ref(ref), _public(kind)))
        else:
            external.append((_pointer((pos, "$ref")), ref))
        if kind not in {"schema", "pathItem"}:
            return []  # a Reference Object: its other members are ignored
    if kind == "schema":
        for anchor_key in ("$anchor", "$dynamicAnchor"):
            anchor = node.get(anchor_key)
            if isinstance(anchor, str):
                anchors.add(anchor)
    table, default, skip_x = tables[kind]
    members: list[tuple[Any, Any, str | None]] = []
    for name, value in node.items():
        if isinstance(value, CONTAINERS):
            if skip_x and name.startswith("x-"):
                continue
            child_kind = table.get(name, default)
            if child_kind == _SKIP:
                continue
            if child_kind == "schema" and name == "items" and isinstance(value, list):
                child_kind = "list:schema"
            members.append((name, value, child_kind))
    return members


def _walk(stack: list[tuple[Any, str | None, Any]], local: list[LocalRef],
          external: list[tuple[str, str]], anchors: set[str], tables: _Tables,
          shared: bool) -> None:
    """The walk of :func:`scan_refs` from the ``(node, kind, position)`` items of ``stack``
    (position = ``(parent position, key)``: a pointer is built only for the few places that
    hold a reference), adding to ``local``, ``external`` and ``anchors``."""
    seen: set[tuple[int, str | None]] = set()
    while stack:
        node, kind, pos = stack.pop()
        if shared:
            key = (id(node), kind)
            if key in seen:
                continue  # a YAML alias: the same object under another name, already walked
            seen.add(key)
        for key, value, child_kind in _visit(node, kind, pos, tables, local, external,
                                             anchors):
            stack.append((value, child_kind, (pos, key)))


# ------------------------------------------------------------- reuse across revisions
#: depth of the subtrees whose references are kept apart (root 0, ``/paths`` 1, a path
#: item 2, an operation 3): a revision walks again only the changed subtrees of that depth
#: and the containers above them
PART_DEPTH = 3


class RefPart:
    """The references of one subtree of a document (at most :data:`PART_DEPTH` deep), kept
    so that the next revision reuses it when the subtree is the same object.

    :ivar node: the subtree (a ``dict`` or ``list``).
    :ivar kind: its kind in the walk.
    :ivar local: every same-document reference inside it.
    :ivar own: how many of :attr:`local` (the first) are not inside a child part.
    :ivar external: every other reference inside it, ``(pointer, ref)``.
    :ivar anchors: schema anchors inside it.
    :ivar targets: the target pointers of :attr:`local`.
    :ivar children: the parts of its container members by key (``int`` for an array item),
        ``None`` at :data:`PART_DEPTH`.
    :ivar problems: ``(stamp, problems of local)``: computed against the target lookups
        stamped ``stamp`` (:class:`RefParts`); ``None`` before.
    """

    __slots__ = ("anchors", "children", "external", "kind", "local", "node", "own",
                 "problems", "targets")

    def __init__(self, node: Any, kind: str | None) -> None:
        self.node = node
        self.kind = kind
        self.local: list[LocalRef] = []
        self.own = 0
        self.external: list[tuple[str, str]] = []
        self.anchors: set[str] = set()
        self.targets: frozenset[str] = frozenset()
        self.children: dict[Any, RefPart] | None = None
        self.problems: tuple[object, list[RefProblem]] | None = None


@dataclass(slots=True)
class RefParts:
    """What :func:`scan_parts` keeps for the next revision of a document.

    :ivar version: the version the parts were scanned for.
    :ivar root: the part of the whole document.
    :ivar lookups: target pointer → ``(dangling, kind)`` for every target of ``root``.
    :ivar stamp: the token of ``lookups`` (see :attr:`RefPart.problems`).
    """

    version: str | None
    root: RefPart
    lookups: dict[str, tuple[bool, str | None]] = field(default_factory=dict)
    stamp: object = field(default_factory=object)


class Unchanged:
    """Answers whether the value at a pointer is provably the one of the previous document.

    True when the pointer leads, through containers that were walked again, into a part of
    the previous document's scan that is the very same object (documents are never changed
    after loading, so everything inside it is the same); False when that is not known.
    """

    def __init__(self, root: RefPart, fresh: set[int], since: RefPart | None = None) -> None:
        self._root = root
        self._fresh = fresh
        #: the scan of the previous document that the answers compare with (``None``: none)
        self.since = since
        #: this document's scan
        self.root = root
        #: how many parts were walked (the others were the previous document's)
        self.walked = len(fresh)
        self._known: dict[str, RefPart | bool] = {}

    def __call__(self, pointer: str) -> bool:
        part = self._root
        if id(part) not in self._fresh:
            return True
        if not pointer.startswith("/"):
            return False  # the whole document (walked again), or no pointer
        # each prefix's answer (a verdict, or the walked part it leads to) is kept: the
        # callers ask about thousands of pointers under a few prefixes
        known = self._known
        find = pointer.find
        pos = 0
        while True:
            end = find("/", pos + 1)
            prefix = pointer if end == -1 else pointer[:end]
            state = known.get(prefix)
            if state is None:
                state = known[prefix] = self._step(
                    part, pointer[pos + 1:] if end == -1 else pointer[pos + 1:end])
            if state is True or state is False:
                return state
            if end == -1:
                return False
            part, pos = state, end

    def kept_members(self, pointer: str) -> bool | frozenset[str]:
        """``True`` when the value at ``pointer`` is provably the previous document's; when
        it is an object or array walked again, the (escaped) reference tokens of its
        members that provably are; ``False`` when that is not known."""
        if self(pointer):
            return True
        part = self._known.get(pointer) if pointer else self._root
        if not isinstance(part, RefPart) or part.children is None:
            return False
        fresh = self._fresh
        return frozenset(jp.escape(key) for key, child in part.children.items()
                         if id(child) not in fresh)

    def _step(self, part: RefPart, token: str) -> RefPart | bool:
        """Where the (escaped) ``token`` leads from the walked ``part``: ``True`` into a
        part of the previous document, ``False`` out of the parts (not known), else the
        walked child part."""
        children = part.children
        if children is None:
            return False
        token = jp.unescape(token)
        if isinstance(part.node, list):
            if not token.isdigit():
                return False
            child = children.get(int(token))
        else:
            child = children.get(token)
        if child is None:
            return False
        if id(child) not in self._fresh:
            return True
        return child


def scan_parts(data: dict[str, Any], version: str | None, previous: RefParts | None
               ) -> tuple[RefIndex, RefParts, Unchanged]:
    """:func:`scan_refs` of a document whose objects are never shared (JSON), reusing the
    references of every subtree (to :data:`PART_DEPTH`) that is the same object as in
    ``previous`` (the result of the previous revision, or ``None``).

    :returns: the index (as :func:`scan_refs` gives it; references in another order), the
        parts to keep for the next revision (their lookups are filled by
        :func:`problems_of`) and which pointers are unchanged since ``previous``.
    """
    swagger = version == "2.0"
    index = RefIndex(swagger=swagger, known=version is not None)
    root_kind: str | None = ("document2" if swagger else "document3") if version else None
    old = previous.root if previous is not None and previous.version == version else None
    tables = _TABLES_2 if swagger else _TABLES_3
    fresh: set[int] = set()
    root = _scan_part(data, root_kind, None, 0, old, tables, fresh)
    index.local = root.local
    index.external = sorted(root.external)
    index.anchors = set(root.anchors)
    kept = RefParts(version, root)
    if previous is not None and old is not None:
        kept.lookups, kept.stamp = previous.lookups, previous.stamp
    return index, kept, Unchanged(root, fresh, old)


def _scan_part(node: Any, kind: str | None, pos: Any, depth: int, old: RefPart | None,
               tables: _Tables, fresh: set[int]) -> RefPart:
    """The :class:`RefPart` of ``node`` (of ``kind``, at position ``pos``), its container
    members' parts reused from ``old`` (the part at the same place in the previous
    revision) when they are the same objects."""
    part = RefPart(node, kind)
    fresh.add(id(part))
    local, external, anchors = part.local, part.external, part.anchors
    if depth >= PART_DEPTH:
        _walk([(node, kind, pos)], local, external, anchors, tables, False)
        part.own = len(local)
        part.targets = frozenset(ref.target for ref in local)
        return part
    children: dict[Any, RefPart] = {}
    part.children = children
    olds = old.children if old is not None and old.children is not None else {}
    members = _visit(node, kind, pos, tables, local, external, anchors)
    part.own = len(local)
    targets: set[str] = {ref.target for ref in local}
    for key, value, child_kind in members:
        child = olds.get(key)
        if child is None or child.node is not value or child.kind != child_kind:
            child = _scan_part(value, child_kind, (pos, key), depth + 1, child, tables, fresh)
        children[key] = child
        local += child.local
        external += child.external
        if child.anchors:
            anchors |= child.anchors
        targets |= child.targets
    part.targets = frozenset(targets)
    return part


def problems_of(index: RefIndex, data: Any, parts: RefParts, unchanged: Unchanged
                ) -> list[RefProblem]:
    """``index.problems(data)`` for the index :func:`scan_parts` gave with ``parts``: only
    the targets whose value may have changed since the previous revision are looked up
    again, and only the parts that reference a target whose answer changed are checked
    again.  Fills ``parts.lookups`` for the next revision."""
    before, stamp = parts.lookups, parts.stamp
    lookups: dict[str, tuple[bool, str | None]] = {}
    changed: set[str] = set()
    for target in parts.root.targets:
        known = before.get(target)
        # a plain-name target names an anchor, which may be anywhere: always looked up
        if known is None or not target.startswith("/") or not unchanged(target):
            value, kind = index._lookup(data, target)
            answer = (value is _MISSING, kind)
            if answer != known:
                changed.add(target)
            known = answer
        lookups[target] = known
    parts.lookups, parts.stamp = lookups, object()
    found = _part_problems(parts.root, lookups, changed, stamp, parts.stamp)
    found.sort(key=lambda problem: problem.ref.pointer)
    return found


def _part_problems(part: RefPart, lookups: dict[str, tuple[bool, str | None]],
                   changed: set[str], before: object, now: object) -> list[RefProblem]:
    """The problems of ``part``'s references: kept from the previous revision when they
    were found against the lookups ``before`` and none of the part's targets changed."""
    kept = part.problems
    if kept is not None and kept[0] is before and part.targets.isdisjoint(changed):
        part.problems = (now, kept[1])
        return list(kept[1])
    found: list[RefProblem] = []
    for ref in part.local if part.children is None else part.local[:part.own]:
        dangling, got = lookups[ref.target]
        if dangling:
            found.append(RefProblem(ref, "dangling"))
        elif ref.expected is not None and got is not None and got != ref.expected:
            found.append(RefProblem(ref, "wrong-kind", got))
    if part.children is not None:
        for child in part.children.values():
            found += _part_problems(child, lookups, changed, before, now)
    part.problems = (now, found)
    return list(found)


def _pointer(pos: Any) -> str:
    keys: list[str | int] = []
    while pos is not None:
        pos, key = pos
        keys.append(key)
    keys.reverse()
    return jp.join(*keys)


def kind_at(data: Any, pointer: str, version: str | None) -> str | None:
    """Kind of the object at ``pointer`` as the document structure defines it.

    :returns: a key of :data:`KIND_NAMES`, or ``None`` when the place is untyped (an
        extension, an example, an unknown keyword) or the pointer names nothing.
    """
    if version is None:
        return None
    swagger = version == "2.0"
    kind: str | None = "document2" if swagger else "document3"
    node = data
    for token in jp.split(pointer):
        if isinstance(node, dict) and token in node:
            node = node[token]
            kind = _step(kind, token, node, swagger)
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
            kind = _step(kind, int(token), node, swagger)
        else:
            return None
        if kind is None or kind == _SKIP:
            return None
    if kind is not None and kind.startswith(("map:", "list:")):
        return "container"
    return _public(kind)

"""The security-relevant structure of a loaded document, the same shape for 2.0 and 3.x.

Rules read operations, parameters, security schemes and servers through :class:`SpecIndex`
instead of walking ``doc.data`` themselves, so the differences between Swagger 2.0 and
OpenAPI 3.0/3.1/3.2 live in one place:

============================  ======================================  ==============================
what                          OpenAPI 3.x                             Swagger 2.0
============================  ======================================  ==============================
security schemes              ``components/securitySchemes``          ``securityDefinitions``
servers                       ``servers`` (root, path item,           ``schemes`` × ``host`` +
                              operation)                              ``basePath`` (root, operation)
operations                    HTTP methods of ``paths`` and           HTTP methods of ``paths``
                              ``webhooks`` (3.1+); 3.2 ``query`` and
                              ``additionalOperations``
============================  ======================================  ==============================

Every item carries the JSON pointer (RFC 6901) of where it is written, so a finding can be
located in the uploaded text.  Local ``$ref`` values (``#/...``) are followed with
:func:`specs.pointer.deref`; external references are never fetched and simply stay
unresolved (the ``SPEC-NO-EXTERNAL-REF`` rule reports them).  Building an index never raises
for any document content: malformed parts are skipped, the validator reports them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast

from specs import pointer as jp
from specs.document import SpecDocument

if TYPE_CHECKING:
    from specs.memo import Reuse

#: operation keys of a 3.0/3.1 path item (OpenAPI 3.1.0 §4.8.9 "Path Item Object")
HTTP_METHODS_3: tuple[str, ...] = (
    "get", "put", "post", "delete", "options", "head", "patch", "trace"
)
#: 3.2 adds the ``query`` method (``additionalOperations`` holds any other method)
HTTP_METHODS_32: tuple[str, ...] = (*HTTP_METHODS_3, "query")
#: operation keys of a Swagger 2.0 path item (no ``trace``)
HTTP_METHODS_2: tuple[str, ...] = ("get", "put", "post", "delete", "options", "head", "patch")

T = TypeVar("T")

ServerLevel = Literal["root", "path", "operation"]
SecuritySource = Literal["operation", "global", "none"]


@dataclass(frozen=True, slots=True)
class Parameter:
    """One parameter that applies to an operation.

    :ivar name: the ``name`` member (``""`` when missing or not a string).
    :ivar location: the ``in`` member: ``query``, ``path``, ``header``, ``cookie``,
        ``querystring`` (3.2), ``formData``/``body`` (2.0); ``""`` when missing.
    :ivar data: the parameter object after following local ``$ref`` hops.
    :ivar pointer: where the parameter object is written (the ``$ref`` target when it was a
        reference, so a shared definition has one pointer whatever uses it).
    :ivar used_at: the pointer of the list item that brings it in (operation or path item).
    """

    name: str
    location: str
    data: Mapping[str, Any]
    pointer: str
    used_at: str


@dataclass(frozen=True, slots=True)
class Operation:
    """One operation of a path item (or of a 3.1+ webhook).

    :ivar path: the path template (``/pets/{id}``), or the webhook name.
    :ivar method: lower-case method (``get``), or the key of a 3.2 ``additionalOperations``
        entry as written (``COPY``).
    :ivar pointer: JSON pointer of the operation object, e.g. ``/paths/~1pets/get``.
    :ivar data: the operation object.
    :ivar security: the effective security requirements: the operation's ``security`` if it
        has one, else the global ``security``, else ``None`` (nothing declared).  The value is
        as written (normally a list of ``{scheme name: [scopes]}`` mappings).
    :ivar security_pointer: pointer of the ``security`` member that ``security`` came from,
        or ``None``.
    :ivar security_source: ``"operation"``, ``"global"`` or ``"none"``.
    :ivar parameters: path-item and operation parameters; an operation parameter replaces a
        path-item parameter with the same ``name`` and ``in``.
    :ivar webhook: true for an operation under ``webhooks`` (a request the API *sends*).
    """

    path: str
    method: str
    pointer: str
    data: Mapping[str, Any]
    security: Any
    security_pointer: str | None
    security_source: SecuritySource
    parameters: tuple[Parameter, ...] = ()
    webhook: bool = False


@dataclass(frozen=True, slots=True)
class UnresolvedRef:
    """A path item, operation or parameter whose definition is not in the document.

    Stagegate never fetches external references, so what such a ``$ref`` names was never
    seen: rules must count it as "cannot be evaluated" (fail closed), never as compliant.

    :ivar kind: ``"path-item"``, ``"operation"`` or ``"parameter"``.
    :ivar path: the path template (or webhook name) it belongs to.
    :ivar method: the operation's method for ``operation``/``parameter`` entries, else
        ``None`` (a whole path item: every method it may define is unseen).
    :ivar pointer: JSON pointer of the object that holds the ``$ref`` member.
    :ivar ref: the ``$ref`` value as written (``resources/pets.yml#/get``), or ``""`` when
        the value is not a string.
    :ivar external: true for a reference outside the document; false for a local
        reference that does not resolve (dangling, or a cycle).
    :ivar webhook: true under ``webhooks``.
    """

    kind: Literal["path-item", "operation", "parameter"]
    path: str
    method: str | None
    pointer: str
    ref: str
    external: bool
    webhook: bool = False


@dataclass(frozen=True, slots=True)
class SecurityScheme:
    """A named security scheme.

    :ivar name: the key under ``components/securitySchemes`` / ``securityDefinitions``.
    :ivar data: the scheme object after following local ``$ref`` hops (``{}`` when the
        reference is external or dangling; see ``resolved``).
    :ivar pointer: where the scheme object is written (the ``$ref`` target if referenced).
    :ivar resolved: false when the entry is a ``$ref`` that could not be followed locally.
    """

    name: str
    data: Mapping[str, Any]
    pointer: str
    resolved: bool = True

    @property
    def type(self) -> str:
        """The ``type`` member (``http``, ``apiKey``, ``oauth2``, ``basic`` …) or ``""``."""
        value = self.data.get("type")
        return value if isinstance(value, str) else ""


@dataclass(frozen=True, slots=True)
class Server:
    """A base URL the API is served from.

    :ivar url: the URL as written (3.x, may contain ``{variables}`` or be relative), or for
        Swagger 2.0 the URL composed from ``scheme://host basePath`` (``//host/base`` when
        the document declares no ``schemes``).
    :ivar pointer: the 3.x server object (``/servers/0``), or for 2.0 the ``schemes`` item
        (``/schemes/1``) or ``/host`` when there are no schemes.
    :ivar level: ``root``, ``path`` or ``operation``.
    :ivar variables: the 3.x ``variables`` mapping (``{}`` for 2.0).
    :ivar url_pointer: pointer of the member that holds the URL or its scheme
        (``/servers/0/url``; 2.0: same as ``pointer``).
    :ivar scheme: for 2.0, the ``schemes`` entry (``None`` when the document declares none);
        for 3.x ``None`` (read it from ``url``).
    :ivar swagger: true when the server was composed from Swagger 2.0 fields.
    """

    url: Any
    pointer: str
    url_pointer: str
    level: ServerLevel = "root"
    variables: Mapping[str, Any] = field(default_factory=dict)
    scheme: str | None = None
    swagger: bool = False


class PathItemPiece:
    """What one path item (or webhook) adds to a :class:`SpecIndex`, kept for the next
    revision of the document (:class:`specs.memo.Reuse`).

    With ``reuse``, an index takes a path item's piece from the previous revision when the
    path item is the same object at the same key, every local ``$ref`` it follows leads to
    the same object and pointer, and nothing else it reads changed (version, global
    ``security``, 2.0 ``host`` and ``basePath``); the piece is then the very same object.

    :ivar item: the path item object (its ``$ref`` target when it is a reference).
    :ivar refs: every ``$ref`` text its parameters and servers follow, or ``None`` when an
        operation is itself a ``$ref`` (such a piece is never kept).
    :ivar operations: its operations, in document order.
    :ivar servers: its path-item and operation servers, in document order.
    :ivar unresolved: its operations and parameters that are unresolved ``$ref`` s.
    :ivar webhook: true for a piece of ``webhooks``.
    :ivar results: what later passes computed from the piece alone: pass name →
        ``(context, value)``; a pass takes ``value`` when its ``context`` (everything else
        it read) is the same object as its context now (:meth:`SpecIndex.context`).  Never
        read by the index itself.
    """

    __slots__ = ("item", "operations", "refs", "results", "servers", "unresolved", "webhook")

    def __init__(self, item: Any, refs: tuple[str, ...] | None,
                 operations: tuple[Operation, ...], servers: tuple[Server, ...],
                 unresolved: tuple[UnresolvedRef, ...], webhook: bool) -> None:
        self.item = item
        self.refs = refs
        self.operations = operations
        self.servers = servers
        self.unresolved = unresolved
        self.webhook = webhook
        self.results: dict[str, tuple[Any, Any]] = {}


class _KeptPieces:
    """What an index keeps for the next revision (``"index.pieces"``): the settings its
    pieces were built with, the target of every ``$ref`` text they follow (in the latest
    document: the next check follows each again; texts no kept piece uses are dropped), and
    the pieces by container and path (only path items that are objects and have no
    operation ``$ref`` s)."""

    __slots__ = ("global_security", "pieces", "refs", "settings")

    def __init__(self, settings: tuple[Any, ...], global_security: Any) -> None:
        self.settings = settings
        self.global_security = global_security
        self.refs: dict[str, tuple[Any, str | None]] = {}
        self.pieces: dict[str, dict[str, PathItemPiece]] = {}


class SpecIndex:
    """Version-aware view of a :class:`~specs.document.SpecDocument` for policy rules.

    :ivar version: the document's ``openapi_version`` (``"2.0"``, ``"3.0"``, ``"3.1"``,
        ``"3.2"``) or ``None`` when it declares no supported version (then every list is
        empty).
    :ivar operations: every operation of ``paths`` then of ``webhooks``, in document order.
    :ivar security_schemes: scheme name → :class:`SecurityScheme`.
    :ivar security_schemes_pointer: ``/components/securitySchemes`` or
        ``/securityDefinitions`` when present, else ``None``.
    :ivar servers: every server (3.x: root, path item and operation level; 2.0: one per
        root/operation ``schemes`` entry, or one ``/host`` entry when there are no schemes).
    :ivar global_security: the root ``security`` value, or ``None`` when absent.
    :ivar global_security_pointer: ``/security`` when present, else ``None``.
    :ivar unresolved: path items, operations and parameters that are ``$ref`` s the index
        could not follow (external, dangling or cyclic), in document order.
    """

    def __init__(self, doc: SpecDocument, reuse: Reuse | None = None) -> None:
        self.document = doc
        self.reuse = reuse
        self.version: str | None = doc.openapi_version
        data = doc.data if isinstance(doc.data, dict) else {}
        self._data = data
        # a reference's target depends on its text only (the data is read-only): followed
        # once per distinct ``$ref`` (Kubernetes: 8,685 parameters, 300 distinct references)
        self._derefs: dict[str, tuple[Any, str | None]] = {}
        self.global_security: Any = data.get("security")
        self.global_security_pointer: str | None = "/security" if "security" in data else None
        self.security_schemes: dict[str, SecurityScheme] = {}
        self.security_schemes_pointer: str | None = None
        self.servers: list[Server] = []
        self.operations: list[Operation] = []
        self.unresolved: list[UnresolvedRef] = []
        #: the root servers (3.x ``servers``; 2.0 ``schemes`` or ``host``), the first of
        #: :attr:`servers`
        self.root_servers: tuple[Server, ...] = ()
        #: one piece per path item and webhook that is an object, in document order: their
        #: operations, servers and unresolved references are those of the index, in order
        self.pieces: list[PathItemPiece] = []
        self._previous: _KeptPieces | None = None
        self._kept: _KeptPieces | None = None
        self._changed_refs: set[str] = set()
        if self.version is None:
            return
        if self.is_swagger2:
            self._index_swagger2_root()
        else:
            self._index_openapi3_root()
        self.root_servers = tuple(self.servers)
        if reuse is not None:
            self._start_reuse(reuse)
        self._index_paths("paths", webhook=False)
        if not self.is_swagger2:
            self._index_paths("webhooks", webhook=True)
        if reuse is not None and self._kept is not None:
            kept = self._kept
            used = {ref for pieces in kept.pieces.values() for piece in pieces.values()
                    for ref in piece.refs or ()}
            kept.refs = {ref: target for ref, target in kept.refs.items() if ref in used}
            reuse.keep("index.pieces", kept)

    # ------------------------------------------------------------------ properties
    @property
    def is_swagger2(self) -> bool:
        """True for a Swagger 2.0 document."""
        return self.version == "2.0"

    @property
    def api_operations(self) -> list[Operation]:
        """Operations under ``paths`` only (requests the API receives; no webhooks)."""
        return [op for op in self.operations if not op.webhook]

    @property
    def unresolved_api_operations(self) -> list[UnresolvedRef]:
        """Unresolved path items and operations under ``paths`` (no webhooks, no
        parameters): each hides one or more operations no rule has seen."""
        return [u for u in self.unresolved if u.kind != "parameter" and not u.webhook]

    def deref(self, node: Any) -> tuple[Any, str | None]:
        """Follow local ``$ref`` hops of ``node`` (see :func:`specs.pointer.deref`)."""
        ref = node.get("$ref") if isinstance(node, dict) else None
        if type(ref) is not str:
            return jp.deref(self._data, node)
        found = self._derefs.get(ref)
        if found is None:
            found = self._derefs[ref] = jp.deref(self._data, node)
        return found

    def context(self, name: str, value: Any) -> Any:
        """``value``, or the equal object the pass ``name`` used in the previous revision.

        A pass that keeps results on pieces (:meth:`piece_result`) names everything else it
        reads in one context value, built once per check; kept from one revision to the
        next, an unchanged context is the same object, so each piece compares it by
        identity.  Without ``reuse``, ``value`` itself.

        :param value: compared with ``==`` (tuples, frozensets and strings of what was read).
        """
        if self.reuse is None:
            return value
        kind = "index.context." + name
        kept = self.reuse.last(kind)
        if kept is not None and type(kept) is type(value) and kept == value:
            value = kept
        self.reuse.keep(kind, value)
        return value

    def piece_result(self, piece: PathItemPiece, name: str, context: Any,
                     compute: Callable[[PathItemPiece], T],
                     valid: Callable[[T], bool] | None = None) -> T:
        """``compute(piece)``, or what it gave for this very piece in ``context`` before
        (``context`` from :meth:`context`: the same object when nothing else changed).

        :param valid: when given, a kept value is taken only if ``valid(value)`` (which may
            then apply the value's effects: a pass whose result also depends on what it met
            before the piece checks that here).
        Taken results are counted in ``reuse.hits``, computed ones in ``reuse.misses``.
        """
        kept = piece.results.get(name)
        if kept is not None and kept[0] is context and (valid is None or valid(kept[1])):
            if self.reuse is not None:
                self.reuse.hits += 1
            return cast(T, kept[1])
        value = compute(piece)
        piece.results[name] = (context, value)
        if self.reuse is not None:
            self.reuse.misses += 1
        return value

    # ------------------------------------------------------------------ root level
    def _index_openapi3_root(self) -> None:
        components = self._data.get("components")
        if isinstance(components, dict) and "securitySchemes" in components:
            self.security_schemes_pointer = "/components/securitySchemes"
            self._index_schemes(components.get("securitySchemes"), "/components/securitySchemes")
        self._add_servers3(self._data.get("servers"), "/servers", "root")

    def _index_swagger2_root(self) -> None:
        if "securityDefinitions" in self._data:
            self.security_schemes_pointer = "/securityDefinitions"
            self._index_schemes(self._data.get("securityDefinitions"), "/securityDefinitions")
        self._add_servers2(self._data.get("schemes"), "/schemes", "root", host_fallback=True)

    def _index_schemes(self, schemes: Any, where: str) -> None:
        if not isinstance(schemes, dict):
            return
        for name, entry in schemes.items():
            pointer = jp.child(where, name)
            target, target_pointer = self.deref(entry)
            if isinstance(target, dict):
                self.security_schemes[name] = SecurityScheme(
                    name, target, target_pointer or pointer
                )
            else:
                self.security_schemes[name] = SecurityScheme(name, {}, pointer, resolved=False)

    def _add_servers3(self, servers: Any, where: str, level: ServerLevel) -> None:
        if not isinstance(servers, list):
            return
        for i, server in enumerate(servers):
            pointer = jp.child(where, i)
            target, target_pointer = self.deref(server)
            if not isinstance(target, dict):
                continue
            variables = target.get("variables")
            where_written = target_pointer or pointer
            self.servers.append(Server(
                target.get("url"),
                where_written,
                jp.child(where_written, "url"),
                level,
                variables if isinstance(variables, dict) else {},
            ))

    def _add_servers2(
        self, schemes: Any, where: str, level: ServerLevel, *, host_fallback: bool
    ) -> None:
        host = self._data.get("host")
        host = host if isinstance(host, str) else ""
        base = self._data.get("basePath")
        base = base if isinstance(base, str) else ""
        if isinstance(schemes, list):
            for i, scheme in enumerate(schemes):
                text = scheme if isinstance(scheme, str) else str(scheme)
                url = f"{text}://{host or '<host of the document>'}{base}"
                pointer = jp.child(where, i)
                self.servers.append(Server(url, pointer, pointer, level, {}, text, swagger=True))
        elif host_fallback and host:
            self.servers.append(
                Server(f"//{host}{base}", "/host", "/host", level, {}, None, swagger=True)
            )

    # ------------------------------------------------------------------ operations
    def _start_reuse(self, reuse: Reuse) -> None:
        """Find what the previous revision kept (``"index.pieces"``) and whether its pieces
        may be used: the same settings and global ``security`` object; a ``$ref`` text whose
        target changed makes the pieces that follow it be built again."""
        host = self._data.get("host")
        base = self._data.get("basePath")
        # what an operation reads beyond its path item: the global security (the same
        # object), the 2.0 host and basePath
        settings = (self.version, self.global_security_pointer,
                    host if isinstance(host, str) else "", base if isinstance(base, str) else "")
        kept = _KeptPieces(settings, self.global_security)
        previous = reuse.last("index.pieces")
        if (isinstance(previous, _KeptPieces) and previous.settings == settings
                and previous.global_security is self.global_security):
            self._previous = previous
            for ref, (found, pointer) in previous.refs.items():
                now = self.deref({"$ref": ref})
                if now[0] is not found or now[1] != pointer:
                    self._changed_refs.add(ref)
                kept.refs[ref] = now
        self._kept = kept

    def _index_paths(self, container: str, *, webhook: bool) -> None:
        paths = self._data.get(container)
        if not isinstance(paths, dict):
            return
        methods = (
            HTTP_METHODS_2 if self.is_swagger2
            else HTTP_METHODS_32 if self.version == "3.2"
            else HTTP_METHODS_3
        )
        kept = self._kept
        previous = self._previous.pieces.get(container) if self._previous is not None else None
        changed = self._changed_refs
        now: dict[str, PathItemPiece] = {}
        if kept is not None:
            kept.pieces[container] = now
        reused = 0
        pieces = self.pieces
        for path, item in paths.items():
            if previous is not None:
                piece = previous.get(path)
                if (piece is not None and piece.item is item
                        and (not changed or changed.isdisjoint(piece.refs or ()))):
                    now[path] = piece
                    pieces.append(piece)
                    self.operations += piece.operations
                    self.servers += piece.servers
                    self.unresolved += piece.unresolved
                    reused += 1
                    continue
            item_pointer = jp.child("/" + container, path)
            target, target_pointer = self.deref(item)
            if not isinstance(target, dict):
                self._unresolved("path-item", path, None, item_pointer, item, webhook)
                continue
            refs = (_item_refs(target, methods, self.version)
                    if kept is not None and target is item else None)
            piece = self._piece(path, target, target_pointer or item_pointer, methods,
                                webhook, refs)
            pieces.append(piece)
            if refs is not None and kept is not None:
                now[path] = piece
                for ref in refs:
                    if ref not in kept.refs:
                        kept.refs[ref] = self.deref({"$ref": ref})
        if self.reuse is not None:
            self.reuse.hits += reused
            self.reuse.misses += len(paths) - reused

    def _piece(self, path: str, target: dict[str, Any], item_pointer: str,
               methods: tuple[str, ...], webhook: bool, refs: tuple[str, ...] | None
               ) -> PathItemPiece:
        """Index the path item ``target`` (:meth:`_path_item`) as a piece of its own."""
        kept = self.operations, self.servers, self.unresolved
        self.operations, self.servers, self.unresolved = [], [], []
        try:
            self._path_item(path, target, item_pointer, methods, webhook)
            piece = PathItemPiece(target, refs, tuple(self.operations), tuple(self.servers),
                                  tuple(self.unresolved), webhook)
        finally:
            self.operations, self.servers, self.unresolved = kept
        self.operations += piece.operations
        self.servers += piece.servers
        self.unresolved += piece.unresolved
        return piece

    def _path_item(self, path: str, target: dict[str, Any], item_pointer: str,
                   methods: tuple[str, ...], webhook: bool) -> None:
        """Index the entries of one path item (or webhook) ``target`` written at
        ``item_pointer``: its servers, operations and unresolved references."""
        item_params = self._parameters(target.get("parameters"), item_pointer,
                                       path, None, webhook)
        if not self.is_swagger2:
            self._add_servers3(target.get("servers"), jp.child(item_pointer, "servers"),
                               "path")
        entries: list[tuple[str, Any, str]] = [
            (m, target[m], jp.child(item_pointer, m)) for m in methods if m in target
        ]
        extra = target.get("additionalOperations") if self.version == "3.2" else None
        if isinstance(extra, dict):
            entries += [
                (name, op, jp.child(item_pointer, "additionalOperations", name))
                for name, op in extra.items()
            ]
        for method, op, op_pointer in entries:
            if isinstance(op, dict) and "$ref" in op:
                # not allowed by the specification, but written: an operation elsewhere
                resolved, resolved_pointer = self.deref(op)
                if not isinstance(resolved, dict):
                    self._unresolved("operation", path, method, op_pointer, op, webhook)
                    continue
                op, op_pointer = resolved, resolved_pointer or op_pointer
            if not isinstance(op, dict):
                continue
            self._add_operation(path, method, op, op_pointer, item_params, webhook)

    def _unresolved(
        self,
        kind: Literal["path-item", "operation", "parameter"],
        path: str,
        method: str | None,
        pointer: str,
        node: Any,
        webhook: bool,
    ) -> None:
        """Record ``node`` when it is a ``$ref`` that could not be followed locally."""
        if not (isinstance(node, dict) and "$ref" in node):
            return
        ref = node["$ref"]
        self.unresolved.append(UnresolvedRef(
            kind, path, method, pointer, ref if isinstance(ref, str) else "",
            not jp.is_local_ref(ref) and isinstance(ref, str), webhook,
        ))

    def _add_operation(
        self,
        path: str,
        method: str,
        op: dict[str, Any],
        pointer: str,
        item_params: list[Parameter],
        webhook: bool,
    ) -> None:
        security: Any = None
        sec_pointer: str | None = None
        source: SecuritySource = "none"
        if "security" in op:
            security, sec_pointer, source = op["security"], jp.child(pointer, "security"), (
                "operation"
            )
        elif self.global_security_pointer is not None:
            security, sec_pointer, source = (
                self.global_security, self.global_security_pointer, "global"
            )
        own = self._parameters(op.get("parameters"), pointer, path, method, webhook)
        own_keys = {(p.name, p.location) for p in own}
        params = [p for p in item_params if (p.name, p.location) not in own_keys] + own
        if self.is_swagger2:
            self._add_servers2(op.get("schemes"), jp.child(pointer, "schemes"), "operation",
                               host_fallback=False)
        else:
            self._add_servers3(op.get("servers"), jp.child(pointer, "servers"), "operation")
        self.operations.append(Operation(
            path, method, pointer, op, security, sec_pointer, source, tuple(params), webhook,
        ))

    def _parameters(
        self, params: Any, owner: str, path: str, method: str | None, webhook: bool
    ) -> list[Parameter]:
        if not isinstance(params, list):
            return []
        found: list[Parameter] = []
        prefix = jp.child(owner, "parameters") + "/"
        for i, entry in enumerate(params):
            used_at = prefix + str(i)  # jp.child(owner, "parameters", i)
            target, target_pointer = self.deref(entry)
            if not isinstance(target, dict):
                self._unresolved("parameter", path, method, used_at, entry, webhook)
                continue
            name = target.get("name")
            location = target.get("in")
            found.append(Parameter(
                name if isinstance(name, str) else "",
                location if isinstance(location, str) else "",
                target,
                target_pointer or used_at,
                used_at,
            ))
        return found


def _item_refs(item: dict[str, Any], methods: tuple[str, ...], version: str | None
               ) -> tuple[str, ...] | None:
    """Every ``$ref`` string :meth:`SpecIndex._path_item` follows from the path item
    ``item``: its and its operations' parameter and server entries; ``None`` when an
    operation is itself a ``$ref`` (its target's entries are read too)."""
    refs: list[str] = []

    def entries(value: Any) -> None:
        if isinstance(value, list):
            for entry in value:
                if isinstance(entry, dict) and isinstance(entry.get("$ref"), str):
                    refs.append(entry["$ref"])

    entries(item.get("parameters"))
    entries(item.get("servers"))
    ops = [item[m] for m in methods if m in item]
    extra = item.get("additionalOperations") if version == "3.2" else None
    if isinstance(extra, dict):
        ops += extra.values()
    for op in ops:
        if not isinstance(op, dict):
            continue
        if "$ref" in op:
            return None
        entries(op.get("parameters"))
        entries(op.get("servers"))
    return tuple(dict.fromkeys(refs))

"""Faster ``jsonschema-path`` path resolution for one plain document (issue 10).

Every read of a ``SchemaPath`` (``"x" in path``, ``read_value()``, ``keys()`` …) asks
``SchemaAccessor.get_resolved(parts)`` (jsonschema-path 0.5.0) for the object at ``parts``,
following each ``$ref`` met on the way.  On Kubernetes' check that is 95k calls for 31k
distinct paths; a miss walks from the longest cached prefix through
``CachedPathResolver._resolve_with_prefix_cache``, which builds ``Resolved[LookupNode]``
generic aliases for ``typing.cast`` (hashing typing objects on every step) and resolves
every ``$ref`` again with ``referencing`` (``Resolver.lookup`` then ``Resource.pointer``:
17.6k lookups of 800 distinct references).  Together about half of the validation time.

This replacement keeps, per accessor, one dict of ``parts`` → ``Resolved`` and one of
``(ref, base URI, dynamic scope)`` → the ``Resolved`` that ``$ref`` chain ends in; a miss
walks from the longest known prefix with the library's own steps (``SchemaNode._get_subnode``,
``jsonschema_path.utils.is_ref``, ``Resolver.lookup``), exactly as
``_resolve_with_prefix_cache`` and ``SchemaNode._resolve_node`` do.  The answers are the same
objects' contents with equal resolvers, because for an unchanged document and an unchanged
``referencing.Registry`` a lookup is a pure function of that key.  So it applies only while
the registry is the one the accessor started with: the first lookup that returns another
registry (a crawl or a retrieval: a ``$id`` in the document, for instance) switches the
accessor back to the library's ``get_resolved`` for good, as does a root that is not a
plain ``dict``; ``parts`` that are not a hashable tuple go to the library for that call.
Exceptions (``KeyError``, ``Unresolvable`` …) propagate unchanged; the walk is a loop, not a
recursion per part.

Measured (``docs/benchmark.md``, issue 10; CPU medians of nine alternating in-process
runs): validation 0.42× on Kubernetes, 0.56× on Cloudflare, 0.69× on OpenAI; Kubernetes'
``Resolver.lookup`` calls 17,594 → 800.

One limit, shared by every shortcut here: a document whose ``$ref`` chains make the
validator reach Python's recursion limit is stopped wherever the stack runs out, and that
place already depends on how deep the caller's stack is (a chain of 600 schemas gives 119 to
124 issues with the library alone, called from 0 to 10 frames deeper); this walk uses a few
frames fewer than the library's, so it can move that place as well.  Below the limit (the
loader's nesting limit included) the issues are the same.

:func:`install` replaces the method only for the jsonschema-path release it was written
against (:data:`VERIFIED`) and when ``referencing.Resolver`` has the fields read here
(:func:`supported`): another release keeps the library's path until this is checked again
(``test_fast_backend.py`` then fails on ``installed()``); ``specs.validate`` installs it at
import; :func:`uninstall` restores the original.  ``tests/unit/specs/test_fast_backend.py``
compares the issues of every corpus document with and without it.
"""

from __future__ import annotations

from typing import Any

import attrs
import jsonschema_path
from jsonschema_path.accessors import SchemaAccessor
from jsonschema_path.nodes import SchemaNode
from jsonschema_path.utils import is_ref
from referencing._core import Resolved, Resolver

#: jsonschema-path releases whose ``get_resolved`` this replaces (read and compared)
VERIFIED = frozenset({"0.5.0"})
_original: Any = SchemaAccessor.__dict__.get("get_resolved")
_STATE = "_stagegate_walk"


class _RegistryChanged(Exception):
    """A lookup answered with another registry: the library's path takes over."""


class _Walk:
    """One accessor's resolved paths and ``$ref`` lookups, valid for ``registry`` only."""

    __slots__ = ("lookups", "paths", "registry")

    def __init__(self, registry: Any) -> None:
        self.registry = registry
        self.paths: dict[tuple[Any, ...], Any] = {}
        self.lookups: dict[tuple[Any, ...], Any] = {}


def _resolve(node: Any, resolver: Any, walk: _Walk) -> Any:
    """``SchemaNode._resolve_node`` with each ``$ref`` chain looked up once."""
    if not is_ref(node):
        return Resolved(node, resolver)  # type: ignore[call-arg]
    ref = node["$ref"]
    key = (ref, resolver._base_uri, resolver._previous)
    found = walk.lookups.get(key)
    if found is None:
        looked = resolver.lookup(ref)
        if looked.resolver._registry is not walk.registry:
            raise _RegistryChanged
        found = _resolve(looked.contents, looked.resolver, walk)
        walk.lookups[key] = found
    return found


def _get_resolved(self: Any, parts: Any) -> Any:
    walk = self.__dict__.get(_STATE)
    if walk is None:
        plain = type(self._node) is dict
        walk = _Walk(self._path_resolver.resolver._registry) if plain else False
        self.__dict__[_STATE] = walk
    if walk is False or type(parts) is not tuple:
        return _original(self, parts)
    paths = walk.paths
    try:
        resolved = paths.get(parts)
    except TypeError:  # an unhashable part: only the library knows what to do
        return _original(self, parts)
    if resolved is not None:
        return resolved
    try:
        return _walk(self, walk, parts)
    except _RegistryChanged:
        self.__dict__[_STATE] = False
        return _original(self, parts)


def _walk(self: Any, walk: _Walk, parts: tuple[Any, ...]) -> Any:
    """``_resolve_with_prefix_cache``: from the longest known prefix, one part at a time."""
    paths = walk.paths
    start = len(parts) - 1
    while start >= 0 and parts[:start] not in paths:
        start -= 1
    if start < 0:
        resolved = _resolve(self._node, self._path_resolver.resolver, walk)
        paths[()] = resolved
        start = 0
    else:
        resolved = paths[parts[:start]]
    get_subnode = SchemaNode._get_subnode
    for index in range(start, len(parts)):
        child = get_subnode(resolved.contents, parts[index])
        resolved = _resolve(child, resolved.resolver, walk)
        paths[parts[:index + 1]] = resolved
    return resolved


def supported() -> bool:
    """Whether the installed jsonschema-path and referencing have the shape patched here."""
    try:
        fields = {f.name for f in attrs.fields(Resolver)}  # type: ignore[arg-type]
    except (TypeError, attrs.exceptions.NotAnAttrsClassError):
        return False
    return (jsonschema_path.__version__ in VERIFIED
            and callable(_original)
            and {"_base_uri", "_registry", "_previous"} <= fields
            and callable(getattr(SchemaNode, "_resolve_node", None))
            and callable(getattr(SchemaNode, "_get_subnode", None)))


def installed() -> bool:
    """Whether the shortcut is in place."""
    return SchemaAccessor.__dict__.get("get_resolved") is _get_resolved


def uninstall() -> None:
    """Put jsonschema-path's own ``get_resolved`` back (tests compare with and without)."""
    if installed():
        SchemaAccessor.get_resolved = _original  # type: ignore[method-assign]


def install() -> None:
    """Use the memoised walk in every ``SchemaAccessor`` (once; not when unsupported)."""
    if supported() and not installed():
        SchemaAccessor.get_resolved = _get_resolved  # type: ignore[method-assign]

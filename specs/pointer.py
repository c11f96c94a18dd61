"""JSON Pointer helpers (RFC 6901) and local ``$ref`` resolution.

Pointers are plain strings: ``""`` is the whole document, ``"/paths/~1pets/get"`` is the
``get`` operation of path item ``/pets``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote

_MISSING = object()

#: the JSON containers, for ``isinstance(x, CONTAINERS)`` in hot loops (a ``dict | list``
#: written there builds a new union object on every call: three times the cost of the check)
CONTAINERS = (dict, list)


# The index, the reference scan and the locators call these tens of thousands of times per
# large document (issue 10): each takes a fast path when there is nothing to escape.

def escape(token: str | int) -> str:
    """Escape one reference token: ``~`` → ``~0``, ``/`` → ``~1`` (RFC 6901 §3)."""
    text = token if type(token) is str else str(token)
    if "~" in text or "/" in text:
        return text.replace("~", "~0").replace("/", "~1")
    return text


def unescape(token: str) -> str:
    """Undo :func:`escape` (RFC 6901 §4: ``~1`` first, then ``~0``)."""
    if "~" in token:
        return token.replace("~1", "/").replace("~0", "~")
    return token


def join(*tokens: str | int) -> str:
    """Build a pointer from unescaped tokens: ``join("paths", "/pets")`` → ``/paths/~1pets``."""
    if len(tokens) == 1:
        return "/" + escape(tokens[0])
    return "".join(["/" + escape(t) for t in tokens])


def child(pointer: str, *tokens: str | int) -> str:
    """Extend ``pointer`` by unescaped ``tokens``."""
    if len(tokens) == 1:
        return pointer + "/" + escape(tokens[0])
    return pointer + join(*tokens)


def split(pointer: str) -> list[str]:
    """Unescaped tokens of ``pointer``; ``""`` gives ``[]``.

    :raises ValueError: the pointer is neither empty nor starts with ``/``.
    """
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise ValueError(f"not a JSON pointer: {pointer!r}")
    tokens = pointer[1:].split("/")
    if "~" not in pointer:
        return tokens
    return [unescape(t) for t in tokens]


def from_parts(parts: Iterable[str | int]) -> str:
    """Pointer for a sequence of keys/indexes (e.g. a ``jsonschema`` error path)."""
    return join(*parts)


def resolve(data: Any, pointer: str, default: Any = None) -> Any:
    """Value at ``pointer`` inside ``data`` (no ``$ref`` following), or ``default``."""
    node = data
    try:
        tokens = split(pointer)
    except ValueError:
        return default
    for token in tokens:
        if isinstance(node, dict):
            node = node.get(token, _MISSING)
        elif isinstance(node, list) and token.isdigit():
            index = int(token)
            node = node[index] if index < len(node) else _MISSING
        else:
            return default
        if node is _MISSING:
            return default
    return node


def is_local_ref(ref: object) -> bool:
    """True for a same-document reference such as ``#/components/schemas/Pet``."""
    return isinstance(ref, str) and ref.startswith("#")


def decode_ref(ref: str) -> str:
    """The JSON pointer named by a same-document reference (``#/a%20b`` → ``/a b``)."""
    return unquote(ref[1:]) if "%" in ref else ref[1:]  # unquote's own answer without "%"


def deref(data: Any, node: Any, max_hops: int = 16) -> tuple[Any, str | None]:
    """Follow local ``$ref`` hops from ``node``.

    :returns: ``(target, pointer)`` where ``pointer`` is the last target's pointer, or
        ``(node, None)`` when ``node`` is not a reference.  An external or dangling
        reference, or a cycle longer than ``max_hops``, gives ``(None, pointer_or_None)``.
    """
    pointer = None
    for _ in range(max_hops):
        if not (isinstance(node, dict) and "$ref" in node):
            return node, pointer
        ref = node["$ref"]
        if not is_local_ref(ref):
            return None, None
        pointer = decode_ref(ref)
        node = resolve(data, pointer, default=None)
        if node is None:
            return None, pointer
    return None, pointer

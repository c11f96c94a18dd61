"""Strict JSON (RFC 8259) for untrusted input: one parser for documents, JOSE headers and
key sets.

Python's :func:`json.loads` silently keeps the last of duplicate member names and accepts
``NaN``/``Infinity``; both are ambiguities an attacker can use (RFC 8259 §4 and §6, RFC 7515
§4, RFC 8725bis §3.14).  :func:`loads` refuses them.
"""

from __future__ import annotations

import json
import re
from typing import Any

#: a sensible nesting limit for request bodies (objects and arrays); :func:`loads` uses it
#: only when asked (``max_depth=DEFAULT_MAX_DEPTH``)
DEFAULT_MAX_DEPTH = 64

_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')


class TooDeep(ValueError):
    """The text nests objects/arrays deeper than ``limit``."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"nested deeper than {limit} levels")
        self.limit = limit


class DuplicateMember(ValueError):
    """An object has the member ``name`` twice."""

    def __init__(self, name: str) -> None:
        super().__init__(f"duplicate member {name[:40]!r}")
        self.name = name


def pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object from its members in order; raises :class:`DuplicateMember` on a repeated name."""
    obj = dict(pairs)
    if len(obj) != len(pairs):  # rare: find the culprit only then
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                raise DuplicateMember(name)
            seen.add(name)
    return obj


def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value (RFC 8259 §6); quote it or use null")


#: the strict decoder (stateless between calls; shared like json's own default decoder);
#: its ``scan_once(text, index)`` reads one value: ``(value, end)``
DECODER = json.JSONDecoder(object_pairs_hook=pairs, parse_constant=_constant)


def nesting_depth(text: str | bytes, stop_above: int | None = None) -> int:
    """The deepest nesting of ``[``/``{`` in ``text`` outside strings (one linear scan, no
    recursion; a syntax error is left to the parser).  Stops early once ``stop_above`` is
    exceeded and returns that depth."""
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    depth = deepest = 0
    for match in _TOKENS.finditer(raw):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > deepest:
                deepest = depth
                if stop_above is not None and depth > stop_above:
                    return depth
        elif token in (b"]", b"}"):
            depth -= 1
    return deepest


def loads(text: str | bytes, max_depth: int | None = None) -> Any:
    """Parse JSON text, refusing duplicate member names, ``NaN``/``Infinity`` and nesting
    deeper than ``max_depth`` (checked before parsing, so the parser never recurses out
    of stack).

    :param text: JSON text (``bytes`` must be UTF-8).
    :param max_depth: deepest nesting of objects/arrays (``None``: the interpreter's
        recursion limit decides).
    :raises TooDeep: (a ``ValueError``) nested deeper than ``max_depth``.
    :raises DuplicateMember: (a ``ValueError``) a member name repeats in one object.
    :raises json.JSONDecodeError: (a ``ValueError``) a syntax error, with position.
    :raises ValueError: a constant such as ``NaN``, an integer over 4300 digits, or
        bytes that are not UTF-8 (:class:`UnicodeDecodeError`).
    :raises RecursionError: only with ``max_depth=None``, nesting deeper than the
        interpreter's recursion limit.
    """
    if max_depth is not None and nesting_depth(text, stop_above=max_depth) > max_depth:
        raise TooDeep(max_depth)
    # what json.loads does, with one decoder made once (json.loads builds a new decoder, and
    # its scanner, on every call that passes hooks)
    if isinstance(text, bytes | bytearray):
        text = text.decode(json.detect_encoding(text), "surrogatepass")
    elif text.startswith("\ufeff"):
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
    return DECODER.decode(text)

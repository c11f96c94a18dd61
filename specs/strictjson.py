"""Strict JSON (RFC 8259) for untrusted input: one parser for documents, JOSE headers and
key sets.

Python's :func:`json.loads` silently keeps the last of duplicate member names and accepts
``NaN``/``Infinity``; both are ambiguities an attacker can use (RFC 8259 §4 and §6, RFC 7515
§4, RFC 8725bis §3.14).  :func:`loads` refuses them.
"""

from __future__ import annotations

import json
from typing import Any


class DuplicateMember(ValueError):
    """An object has the member ``name`` twice."""

    def __init__(self, name: str) -> None:
        super().__init__(f"duplicate member {name[:40]!r}")
        self.name = name


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
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


def loads(text: str | bytes) -> Any:
    """Parse JSON text, refusing duplicate member names and ``NaN``/``Infinity``.

    :param text: JSON text (``bytes`` must be UTF-8).
    :raises DuplicateMember: (a ``ValueError``) a member name repeats in one object.
    :raises json.JSONDecodeError: (a ``ValueError``) a syntax error, with position.
    :raises ValueError: a constant such as ``NaN``, an integer over 4300 digits, or
        bytes that are not UTF-8 (:class:`UnicodeDecodeError`).
    :raises RecursionError: nesting deeper than the interpreter's recursion limit.
    """
    return json.loads(text, object_pairs_hook=_pairs, parse_constant=_constant)

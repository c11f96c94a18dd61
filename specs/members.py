"""Where the members of a JSON document sit in its text, and reading a revision as a
difference from the previous document (issue 10: a one-operation revision).

:func:`read` parses a JSON document like :func:`specs.strictjson.loads` and also records,
for the top-level object, each top-level object member and each member of ``components``,
the character offsets of every member's key and value (:class:`Members`).

:func:`reread` reads the next revision of that document: when the texts differ only inside
one recorded member's value that has no recorded members of its own (a path item, a schema
under ``definitions`` or ``components/schemas``, ``info``'s ``description`` …), only that
value is parsed, and the new data is the previous data with that member replaced — every
other subtree is **the same object** as in the previous data, so the checks after loading
can reuse what they computed for it (:class:`specs.memo.Reuse`).  The result is exactly what
parsing the whole new text gives: the texts are equal outside the member's value, which parses
on its own to exactly its span.  Anything else (a change that crosses members, adds or removes
one, touches ``openapi``/``swagger``, or a value that does not parse to its span) returns
``None``, and the caller parses the whole text.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any, AnyStr

from specs import strictjson

_WS = " \t\n\r"
_scanstring: Any = json.decoder.scanstring  # type: ignore[attr-defined]
#: reads one value at an index: ``(value, end)``, with the strict decoder's hooks
_SCAN: Any = strictjson.DECODER.scan_once  # type: ignore[attr-defined]
#: the members whose change could alter how the whole document is read
_WHOLE_DOCUMENT = frozenset({"openapi", "swagger", "jsonSchemaDialect"})
#: the comparison step of :func:`common_prefix` (characters or bytes)
_CHUNK = 1 << 15


class Irregular(ValueError):
    """The text is not the plain JSON object :func:`read` walks (any syntax error, a
    duplicate member …): the caller parses it with :func:`specs.strictjson.loads`, which
    says precisely what is wrong."""


@dataclass(slots=True)
class Members:
    """The members of one JSON object, in text order.

    :ivar keys: member names.
    :ivar keyed: offset (characters) of each member's key (its opening quote).
    :ivar lines: the number of ``"\n"`` before each member's key (its line, 0-based).
    :ivar starts: offset of each member's value.
    :ivar ends: offset just after each member's value.
    :ivar inner: the recorded members of members whose values are objects, by name.
    :ivar max_depth: the nesting limit the whole text was checked against (set by the
        loader on the top level's members; 0: not checked).
    """

    keys: list[str] = field(default_factory=list)
    keyed: list[int] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)
    inner: dict[str, Members] = field(default_factory=dict)
    max_depth: int = 0

    _index: dict[str, int] | None = field(default=None, repr=False, compare=False)

    def index(self, key: str) -> int | None:
        """The position of member ``key`` in :attr:`keys`, or ``None``."""
        if self._index is None:
            self._index = {k: i for i, k in enumerate(self.keys)}
        return self._index.get(key)

    def shifted(self, at: int, after: int, delta: int, newlines: int) -> Members:
        """These offsets for a text where ``delta`` characters and ``newlines`` line breaks
        were added at the change ``[at, after)`` (offsets of the old text): key and value
        offsets past ``at`` and ends at or past ``after`` move; members wholly before the
        change are shared."""
        if not self.ends or self.ends[-1] < after:
            return self
        return Members(
            self.keys,
            [k + delta if k > at else k for k in self.keyed],
            [n + newlines if k > at else n for k, n in zip(self.keyed, self.lines, strict=True)],
            [s + delta if s > at else s for s in self.starts],
            [e + delta if e >= after else e for e in self.ends],
            {name: inner.shifted(at, after, delta, newlines)
             for name, inner in self.inner.items()},
            self.max_depth,
            self._index,
        )


def _records_inner(path: tuple[str, ...]) -> bool:
    """Whether the members of the object at ``path`` are recorded: the top level, each
    top-level member, and each member of ``components``."""
    return len(path) < 2 or (len(path) == 2 and path[0] == "components")


def read(text: str) -> tuple[dict[str, Any], Members]:
    """Parse ``text`` (a JSON object) with :mod:`specs.strictjson`'s meaning and record where
    its members sit.

    :returns: ``(data, members)`` of the top-level object.
    :raises Irregular: the text is not a JSON object this walk reads (any syntax error,
        duplicate member, constant such as ``NaN``, nesting past the interpreter's recursion
        limit …); :func:`specs.strictjson.loads` then gives the precise error.
    """
    walk = _Walk(text)
    try:
        start = walk.skip(0)
        value, end, members = walk.value(start, ())
        if walk.skip(end) != len(text) or not isinstance(value, dict) or members is None:
            raise Irregular("not one JSON object")
    except (ValueError, IndexError, StopIteration, RecursionError) as exc:
        raise Irregular(str(exc)) from None
    return value, members


class _Walk:
    """:func:`read`'s walk: recorded objects member by member, other values at C speed."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.scan = _SCAN
        self.counted = (0, 0)  # (offset, "\n" before it): keys are met in text order

    def skip(self, i: int) -> int:
        text = self.text
        while i < len(text) and text[i] in _WS:
            i += 1
        return i

    def value(self, i: int, path: tuple[str, ...]) -> tuple[Any, int, Members | None]:
        """The value starting at ``i``: ``(value, end, members or None)``."""
        if self.text[i] != "{" or not _records_inner(path):
            value, end = self.scan(self.text, i)
            return value, end, None
        text, skip = self.text, self.skip
        members = Members()
        pairs: list[tuple[str, Any]] = []
        i = skip(i + 1)
        if text[i] == "}":
            return strictjson.pairs(pairs), i + 1, members
        while True:
            if text[i] != '"':
                raise Irregular("a member name must be a string")
            members.keyed.append(i)
            members.lines.append(self.newlines_before(i))
            key, i = _scanstring(text, i + 1)
            i = skip(i)
            if text[i] != ":":
                raise Irregular("':' expected")
            i = skip(i + 1)
            value, end, inner = self.value(i, (*path, key))
            members.keys.append(key)
            members.starts.append(i)
            members.ends.append(end)
            if inner is not None:
                members.inner[key] = inner
            pairs.append((key, value))
            i = skip(end)
            if text[i] == "}":
                return strictjson.pairs(pairs), i + 1, members
            if text[i] != ",":
                raise Irregular("',' or '}' expected")
            i = skip(i + 1)

    def newlines_before(self, offset: int) -> int:
        """The number of ``"\n"`` before ``offset`` (not before the last offset asked)."""
        last, count = self.counted
        count += self.text.count("\n", last, offset)
        self.counted = (offset, count)
        return count


def reread(old_text: str, old_data: dict[str, Any], old_members: Members, text: str,
           max_depth: int) -> tuple[dict[str, Any], Members, tuple[str, ...]] | None:
    """``text`` (the next revision of ``old_text``) read as a difference from it.

    :param old_data: what ``old_text`` parsed to (never changed by this function).
    :param old_members: :func:`read`'s members of ``old_text``.
    :param max_depth: the deepest nesting accepted (the document's top level is depth 1).
    :returns: ``(data, members, path)``: the new data sharing every subtree outside the
        re-read member with ``old_data``, the new text's members, and the path of the member
        that was re-read; ``None`` when the difference is not inside one recorded member's
        value (parse the whole text then).
    """
    if not 0 < old_members.max_depth <= max_depth:
        return None  # the unchanged parts were not checked against this limit
    prefix = common_prefix(old_text, text)
    if prefix == len(old_text) == len(text):
        return None
    suffix = common_suffix(old_text, text, len(old_text) - prefix, len(text) - prefix)
    at, after = prefix, len(old_text) - suffix  # the changed span of the old text
    delta = len(text) - len(old_text)
    members, index = old_members, -1
    path: tuple[str, ...] = ()
    while True:
        index = bisect_right(members.starts, at) - 1
        if index < 0 or after > members.ends[index]:
            return None
        key = members.keys[index]
        path = (*path, key)
        if path[0] in _WHOLE_DOCUMENT:
            return None
        if key not in members.inner:
            break
        members = members.inner[key]
    start, end = members.starts[index], members.ends[index] + delta
    try:
        value, stop = _SCAN(text, start)
    except (ValueError, StopIteration, RecursionError):
        return None
    if stop != end or _too_deep(value, max_depth, len(path) + 1):
        return None
    newlines = text.count("\n", at, after + delta) - old_text.count("\n", at, after)
    return (_replaced(old_data, path, value), old_members.shifted(at, after, delta, newlines),
            path)


def _replaced(data: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """``data`` with the member at ``path`` set to ``value``: new dicts along the path
    (member order kept), everything else shared."""
    copy = dict(data)
    node = copy
    for key in path[:-1]:
        node[key] = dict(node[key])
        node = node[key]
    node[path[-1]] = value
    return copy


def _too_deep(value: Any, max_depth: int, depth: int) -> bool:
    """Whether ``value``, at nesting ``depth`` (1 for the top level), nests past ``max_depth``."""
    stack = [(value, depth)]
    while stack:
        node, level = stack.pop()
        if not isinstance(node, dict | list):
            continue
        if level > max_depth:
            return True
        stack.extend((child, level + 1)
                     for child in (node.values() if isinstance(node, dict) else node))
    return False


def common_prefix(a: AnyStr, b: AnyStr) -> int:
    """The length of the longest common prefix of ``a`` and ``b`` (chunks compared in C,
    then the differing chunk halved)."""
    limit = min(len(a), len(b))
    i = 0
    while i < limit and a[i:i + _CHUNK] == b[i:i + _CHUNK]:
        i += _CHUNK
    if i >= limit:
        return limit
    low, high = i, min(i + _CHUNK, limit)  # a[:low] == b[:low]; they differ before high
    while high - low > 1:
        middle = (low + high) // 2
        if a[low:middle] == b[low:middle]:
            low = middle
        else:
            high = middle
    return low if a[low] != b[low] else high


def common_suffix(a: AnyStr, b: AnyStr, a_room: int, b_room: int) -> int:
    """The length of the longest common suffix of ``a`` and ``b``, at most ``min(a_room,
    b_room)`` characters (so it never overlaps the common prefix)."""
    limit = min(a_room, b_room)
    n = 0
    while n < limit:
        step = min(_CHUNK, limit - n)
        if a[len(a) - n - step:len(a) - n] != b[len(b) - n - step:len(b) - n]:
            break
        n += step
    else:
        return limit
    low, high = n, n + min(_CHUNK, limit - n)
    while high - low > 1:
        middle = (low + high) // 2
        if a[len(a) - middle:len(a) - low] == b[len(b) - middle:len(b) - low]:
            low = middle
        else:
            high = middle
    return low if a[len(a) - low - 1] != b[len(b) - low - 1] else high

"""The loaded document and where each part of it sits in the uploaded text."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from specs import pointer as jp
from specs.members import Members

Format = Literal["json", "yaml"]


@dataclass(frozen=True, slots=True)
class Position:
    """A place in the uploaded text: 1-based ``line`` and ``column`` (in characters)."""

    line: int
    column: int


@dataclass(eq=False)
class SpecDocument:
    """An uploaded OpenAPI document, parsed with JSON/YAML 1.2 meaning.

    :ivar raw: the exact uploaded bytes (kept for storage and the SHA-256).
    :ivar text: ``raw`` decoded as UTF-8 (BOM removed).
    :ivar format: ``"json"`` or ``"yaml"``, detected from the content.
    :ivar sha256: hex SHA-256 of ``raw``.
    :ivar data: the parsed top-level mapping (only ``dict``/``list``/``str``/``int``/``float``/
        ``bool``/``None``; every mapping key is a ``str``).  Treat as read-only: YAML aliases
        share objects.
    :ivar declared_version: the ``openapi``/``swagger`` value as written, or ``None``.
    :ivar openapi_version: ``"2.0"``, ``"3.0"``, ``"3.1"``, ``"3.2"``, or ``None`` when the
        document does not declare a version Stagegate can validate.
    :ivar members: JSON: where the top-level members, their members and ``components``'
        members sit in :attr:`text` (:class:`specs.members.Members`); ``None`` for YAML.
    """

    raw: bytes
    text: str
    format: Format
    sha256: str
    data: dict[str, Any]
    declared_version: str | None
    openapi_version: str | None
    members: Members | None = field(default=None, repr=False)
    # YAML: id(container) -> packed positions (line << 24 | column) in key/item order.
    _yaml_marks: dict[int, list[int]] | None = field(default=None, repr=False)
    # the last position computed (see _position_at)
    _cursor: _Cursor | None = field(default=None, repr=False)
    _lines: list[str] | None = field(default=None, repr=False)

    # ----------------------------------------------------------------- locating
    def locate(self, pointer: str) -> Position | None:
        """Line and column of the member or item named by ``pointer``.

        For an object member it is the position of its key; for an array item, of the item.
        ``""`` is line 1, column 1.  ``None`` when the pointer names nothing in the document.
        """
        return self.locate_many([pointer]).get(pointer)

    def locate_many(self, pointers: Iterable[str]) -> dict[str, Position | None]:
        """:meth:`locate` for many pointers at once (one pass over the text for JSON)."""
        wanted = {p for p in pointers if p is not None}
        if not wanted:
            return {}
        if self.format == "yaml":
            return {p: self._locate_yaml(p) for p in wanted}
        if self.members is not None:
            return _locate_members(self.text, wanted, self.members)
        return _locate_json(self.text, wanted, self._position_at)

    def locate_nearest(self, pointers: Iterable[str]) -> dict[str, Position | None]:
        """Like :meth:`locate_many`, but a pointer the text does not contain (e.g. a member
        the document lacks) takes the position of its closest existing ancestor.

        At most two passes over the text whatever the number of pointers.
        """
        located = self.locate_many(pointers)
        missing = [p for p, pos in located.items() if pos is None]
        if missing:
            chains = {p: _ancestors(p) for p in missing}
            located.update(self.locate_many(
                {a for chain in chains.values() for a in chain} - located.keys()))
            for p, chain in chains.items():
                located[p] = next((located[a] for a in chain if located.get(a)), None)
        return located

    def _locate_yaml(self, pointer: str) -> Position | None:
        try:
            tokens = jp.split(pointer)
        except ValueError:
            return None
        if not tokens:
            return Position(1, 1)
        marks = self._yaml_marks or {}
        node: Any = self.data
        packed = None
        for token in tokens:
            entries = marks.get(id(node))
            if isinstance(node, dict):
                if token not in node:
                    return None
                index = _index_of_key(node, token)
                node = node[token]
            elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
                index = int(token)
                node = node[index]
            else:
                return None
            if entries is None or index >= len(entries):
                return None
            packed = entries[index]
        assert packed is not None
        return Position(packed >> 24, packed & 0xFFFFFF)

    def _position_at(self, offset: int) -> Position:
        # Newlines counted from the last offset asked (the JSON locator asks in text order):
        # a few C-speed counts over the whole text in all, not a list of every newline.
        if self._cursor is None:
            self._cursor = _Cursor(self.text, 0, 0)
        return self._cursor.position_at(offset)

    # ----------------------------------------------------------------- excerpts
    @property
    def lines(self) -> list[str]:
        """The text split into lines (without line ends)."""
        if self._lines is None:
            self._lines = self.text.splitlines()
        return self._lines

    def excerpt(self, line: int, context: int = 3, width: int = 240) -> list[tuple[int, str]]:
        """Lines ``line - context`` … ``line + context`` as ``(number, text)`` pairs.

        Each line is cut to ``width`` characters so a minified document stays readable.
        """
        lines = self.lines
        first = max(1, line - context)
        last = min(len(lines), line + context)
        return [(n, lines[n - 1][:width]) for n in range(first, last + 1)]


def _ancestors(pointer: str) -> list[str]:
    """Ancestors of ``pointer``, closest first (``"/a/b"`` → ``["/a", ""]``)."""
    try:
        tokens = jp.split(pointer)
    except ValueError:
        return [""]
    return [jp.join(*tokens[:n]) for n in range(len(tokens) - 1, -1, -1)]


def _index_of_key(mapping: dict[str, Any], key: str) -> int:
    for i, k in enumerate(mapping):
        if k == key:
            return i
    return -1


_WS = " \t\r\n"


def _discard(pairs: object) -> None:
    """Build no object: a value is decoded only to find where it ends."""


#: skips a JSON value (its end index) about twice as fast as building it (issue 10)
_SKIPPER = json.JSONDecoder(object_pairs_hook=_discard)
_scanstring: Any = json.decoder.scanstring  # type: ignore[attr-defined]


def _targets(wanted: set[str]) -> dict[tuple[str, ...], str]:
    """The wanted pointers by their tokens (a malformed pointer is left out)."""
    targets: dict[tuple[str, ...], str] = {}
    for p in wanted:
        try:
            targets[tuple(jp.split(p))] = p
        except ValueError:
            continue
    return targets


def _prefixes(targets: Iterable[tuple[str, ...]]) -> set[tuple[str, ...]]:
    """Every proper prefix of every target: the paths a walk must enter."""
    return {tokens[:i] for tokens in targets for i in range(len(tokens))}


def _locate_json(text: str, wanted: set[str], position_at: Any) -> dict[str, Position | None]:
    """Walk the JSON text only along the wanted pointers; skip other values at C speed."""
    result: dict[str, Position | None] = dict.fromkeys(wanted)
    targets = _targets(wanted)
    prefixes = _prefixes(targets)
    if () in targets:
        result[targets[()]] = Position(1, 1)
    walker = _JsonWalk(text, targets, prefixes, position_at, result)
    # the text parsed once already; a failure here only loses locations
    with contextlib.suppress(ValueError, IndexError, RecursionError):
        walker.walk(walker.skip_ws(0), ())
    return result


def _locate_members(text: str, wanted: set[str], members: Members
                    ) -> dict[str, Position | None]:
    """:func:`_locate_json` with the loader's member offsets (:class:`specs.members.Members`):
    each pointer is found by walking only the deepest recorded member it lies in, counting
    lines from that member's key; a recorded object lacking the next token means the pointer
    names nothing.  The same positions as the walk from the start."""
    result: dict[str, Position | None] = dict.fromkeys(wanted)
    groups: dict[tuple[str, ...], tuple[Members, int, dict[tuple[str, ...], str]]] = {}
    for tokens, p in _targets(wanted).items():
        if not tokens:
            result[p] = Position(1, 1)
            continue
        found = _deepest_member(members, tokens)
        if found is not None:
            owner, index, depth = found
            groups.setdefault(tokens[:depth], (owner, index, {}))[2][tokens] = p
    for head, (owner, index, targets) in groups.items():
        cursor = _Cursor(text, owner.keyed[index], owner.lines[index])
        if head in targets:
            result[targets[head]] = cursor.position_at(owner.keyed[index])
        walker = _JsonWalk(text, targets, _prefixes(targets), cursor.position_at, result)
        # the text parsed once already; a failure here only loses locations
        with contextlib.suppress(ValueError, IndexError, RecursionError):
            walker.walk(owner.starts[index], head)
    return result


def _deepest_member(members: Members, tokens: tuple[str, ...]
                    ) -> tuple[Members, int, int] | None:
    """``(members, index, depth)`` of the deepest recorded member on the way to ``tokens``
    (``tokens[:depth]`` names it); ``None`` when a recorded object lacks a token on the way."""
    owner, depth = members, 0
    while True:
        index = owner.index(tokens[depth])
        if index is None:
            return None
        depth += 1
        inner = owner.inner.get(tokens[depth - 1])
        if inner is None or depth == len(tokens):
            return owner, index, depth
        owner = inner


class _Cursor:
    """Positions of offsets at or after ``offset`` (which has ``newlines`` ``"\n"`` before
    it), asked in text order: each counts the newlines from the last one asked."""

    def __init__(self, text: str, offset: int, newlines: int) -> None:
        self.text = text
        self.offset = offset
        self.newlines = newlines

    def position_at(self, offset: int) -> Position:
        """The line and column of ``offset``."""
        text = self.text
        if offset >= self.offset:
            line = self.newlines + text.count("\n", self.offset, offset)
        else:
            line = text.count("\n", 0, offset)
        self.offset, self.newlines = offset, line
        start = text.rfind("\n", 0, offset) + 1
        return Position(line + 1, offset - start + 1)


class _JsonWalk:
    """The walk of :func:`_locate_json` (a class, not a recursive closure: a closure holding
    itself is a reference cycle that would keep the document — ``position_at`` is its bound
    method — alive until the cyclic collector runs)."""

    def __init__(self, text: str, targets: dict[tuple[str, ...], str],
                 prefixes: set[tuple[str, ...]], position_at: Any,
                 result: dict[str, Position | None]) -> None:
        self.text = text
        self.n = len(text)
        self.targets = targets
        self.prefixes = prefixes
        self.position_at = position_at
        self.result = result

    def skip_ws(self, i: int) -> int:
        """The index of the first non-whitespace character at or after ``i``."""
        text, n = self.text, self.n
        while i < n and text[i] in _WS:
            i += 1
        return i

    def walk(self, i: int, path: tuple[str, ...]) -> int:
        """Value starts at ``i``; return the index just after it."""
        text, targets, result = self.text, self.targets, self.result
        skip_ws = self.skip_ws
        if path not in self.prefixes:
            _, end = _SKIPPER.raw_decode(text, i)
            return end
        ch = text[i]
        if ch == "{":
            i = skip_ws(i + 1)
            if text[i] == "}":
                return i + 1
            while True:
                key_start = i
                key, i = _scanstring(text, i + 1)
                member = path + (key,)
                if member in targets:
                    result[targets[member]] = self.position_at(key_start)
                i = skip_ws(i)
                i = skip_ws(i + 1)  # the ':'
                i = skip_ws(self.walk(i, member))
                if text[i] == "}":
                    return i + 1
                i = skip_ws(i + 1)  # the ','
        if ch == "[":
            i = skip_ws(i + 1)
            if text[i] == "]":
                return i + 1
            index = 0
            while True:
                item = path + (str(index),)
                if item in targets:
                    result[targets[item]] = self.position_at(i)
                i = skip_ws(self.walk(i, item))
                if text[i] == "]":
                    return i + 1
                i = skip_ws(i + 1)
                index += 1
        _, end = _SKIPPER.raw_decode(text, i)
        return end


def excerpt_lines(
    text: str, line: int, context: int = 3, width: int = 240
) -> list[tuple[int, str]]:
    """Lines around ``line`` of ``text`` as ``(number, text)`` pairs, each cut to ``width``.

    For showing a finding in context without parsing the document again.
    """
    lines = text.splitlines()
    first = max(1, line - context)
    last = min(len(lines), line + context)
    return [(n, lines[n - 1][:width]) for n in range(first, last + 1)]


#: the mark of characters left out of a cut line
ELLIPSIS = "…"


@dataclass(frozen=True, slots=True)
class ExcerptLine:
    """One line of an excerpt, cut to a window of characters when it is long.

    ``before`` + ``at`` + ``after`` are the characters shown (``at`` is the one character at
    the finding's column on the finding's line, else ``""`` and everything is in ``before``);
    ``start`` is the 0-based index in the full line of the first character shown;
    ``cut_before`` / ``cut_after`` say whether characters were left out on either side.
    Unpacks as ``(number, shown)`` like :func:`excerpt_lines`' pairs, ``shown`` with ``…``
    where characters were left out.
    """

    number: int
    before: str
    at: str = ""
    after: str = ""
    start: int = 0
    cut_before: bool = False
    cut_after: bool = False

    @property
    def text(self) -> str:
        """The characters shown, without ellipses."""
        return self.before + self.at + self.after

    @property
    def shown(self) -> str:
        """The characters shown with ``…`` where the line was cut."""
        return ((ELLIPSIS if self.cut_before else "") + self.text
                + (ELLIPSIS if self.cut_after else ""))

    @property
    def marker(self) -> int | None:
        """0-based offset in :attr:`shown` of the character at the column (``None``: no
        column on this line)."""
        if not self.at:
            return None
        return len(self.before) + (1 if self.cut_before else 0)

    def __iter__(self) -> Iterator[int | str]:
        yield self.number
        yield self.shown


def excerpt_window(
    text: str | list[str], line: int, column: int | None = None, *, context: int = 3,
    width: int = 240,
) -> list[ExcerptLine]:
    """Lines ``line - context`` … ``line + context`` of ``text`` around a finding at
    ``line``:``column`` (1-based; ``column`` in characters).

    A line longer than ``width`` characters is cut to a window of ``width`` characters: around
    ``column`` when it is given (half of ``width`` either side, e.g. ±120 for 240 — so a
    finding at ``line 1:190914`` of a minified 4 MB JSON shows the text at that column, not
    the start of line 1), else its start.  Every line of the excerpt is cut at the same
    place, so columns stay aligned.  The character at ``column`` of ``line`` is split out
    (:attr:`ExcerptLine.at`) for a marker; a column past the end of the line marks nothing.

    :param text: the document, or its lines already split (``str.splitlines``), which a
        caller showing many findings of one big document splits once.
    :returns: ``[]`` when ``line`` is not in the text.
    """
    lines = text.splitlines() if isinstance(text, str) else text
    if line < 1 or line > len(lines):
        return []
    width = max(2, width)
    col = column - 1 if column is not None and column >= 1 else None
    start = 0
    if col is not None and len(lines[line - 1]) > width:
        start = max(0, min(col - width // 2, len(lines[line - 1]) - width))
    out = []
    for number in range(max(1, line - context), min(len(lines), line + context) + 1):
        full = lines[number - 1]
        begin = start if start < len(full) else max(0, len(full) - width)
        end = begin + width
        shown = full[begin:end]
        before, at, after = shown, "", ""
        if number == line and col is not None and begin <= col < min(end, len(full)):
            offset = col - begin
            before, at, after = shown[:offset], shown[offset], shown[offset + 1:]
        out.append(ExcerptLine(number=number, before=before, at=at, after=after, start=begin,
                               cut_before=begin > 0, cut_after=end < len(full)))
    return out

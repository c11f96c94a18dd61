"""Parse an nginx configuration bundle into one directive tree, never reading the server's disk.

A bundle is a mapping ``{relative path: bytes}`` (one ``nginx.conf`` or a set of includes).
Every file is written to a fresh temporary directory and parsed *on its own* with crossplane
(``single=True``: crossplane never follows an ``include``).  ``include`` directives are then
resolved here, against the bundle's names only (globs with :func:`fnmatch.fnmatchcase`,
relative to the entry file's directory like nginx's conf prefix), and the included files'
directives are spliced in place, each keeping its own file and line.  An include that names a
path outside the bundle (absolute, ``..``, or a file the bundle lacks) becomes a
:class:`ConfProblem`, never a read.

Source: crossplane 0.5.8 (``crossplane.parse(path, single=…, catch_errors=True)``); nginx
``include`` (https://nginx.org/en/docs/ngx_core_module.html#include).
"""

from __future__ import annotations

import posixpath
import re
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Literal

import crossplane  # no stubs or py.typed (0.5.8): see [tool.mypy] overrides

#: the largest bundle accepted (files, total bytes): configuration, not data
MAX_FILES = 200
MAX_BYTES = 1024 * 1024
#: deepest block nesting accepted (real configurations stay below 10)
MAX_DEPTH = 32
_SAFE_NAME = re.compile(r"[A-Za-z0-9._@+-]+")
_GLOB = re.compile(r"[*?\[]")


@dataclass(slots=True)
class Directive:
    """One nginx directive.

    :ivar name: directive name (``proxy_pass``; ``if`` for an if-block).
    :ivar args: its arguments, unquoted (crossplane's ``args``).
    :ivar file: bundle path of the file it is written in.
    :ivar line: 1-based line in ``file``.
    :ivar block: child directives for a block directive, else ``None``; includes are already
        spliced in.
    """

    name: str
    args: list[str]
    file: str
    line: int
    block: list[Directive] | None = None
    _index: dict[str, list[Directive]] | None = field(default=None, repr=False, compare=False)

    def children(self, name: str | None = None) -> Iterator[Directive]:
        """Direct children (optionally only those named ``name``; indexed on first use, so
        do not change :attr:`block` afterwards)."""
        if name is None:
            yield from self.block or ()
            return
        if self._index is None:
            index: dict[str, list[Directive]] = {}
            for child in self.block or ():
                index.setdefault(child.name, []).append(child)
            self._index = index
        yield from self._index.get(name, ())

    def first(self, name: str) -> Directive | None:
        """The first direct child named ``name``, or ``None``."""
        return next(self.children(name), None)


@dataclass(frozen=True, slots=True)
class ConfProblem:
    """Something wrong with the bundle itself.

    :ivar kind: ``parse`` (a file did not parse, an unsafe name, an include cycle, no entry)
        or ``outside`` (an include that points outside the bundle).
    :ivar message: for people, naming the file and what to do.
    :ivar file: the bundle path it concerns, or ``None``.
    :ivar line: 1-based line, or ``None``.
    """

    kind: Literal["parse", "outside"]
    message: str
    file: str | None = None
    line: int | None = None


@dataclass(slots=True)
class ParsedBundle:
    """The parsed tree of a bundle.

    :ivar root: a synthetic ``main`` block directive holding the entry file's top level.
    :ivar files: the bundle paths that were parsed (reachable from the entry).
    :ivar problems: parse and include problems, in file order.
    """

    root: Directive
    files: list[str] = field(default_factory=list)
    problems: list[ConfProblem] = field(default_factory=list)


def normalize_name(name: str) -> str | None:
    """The bundle path ``name`` in canonical form (``a/b.conf``), or ``None`` when it is not a
    safe relative path (absolute, ``..``, empty segments, odd characters)."""
    if not name or name.startswith(("/", "\\")) or "\\" in name:
        return None
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if not parts or any(p == ".." or not _SAFE_NAME.fullmatch(p) for p in parts):
        return None
    return "/".join(parts)


def parse_bundle(files: Mapping[str, bytes], entry: str) -> ParsedBundle:
    """Parse ``files`` starting at ``entry`` (see the module docstring).

    Never raises for bad input: everything wrong becomes a :class:`ConfProblem`.
    """
    root = Directive("main", [], entry, 1, [])
    result = ParsedBundle(root)
    names: dict[str, bytes] = {}
    total = 0
    for raw_name, data in files.items():
        name = normalize_name(raw_name)
        if name is None:
            result.problems.append(ConfProblem(
                "parse", f"bundle file name {raw_name!r} is not a safe relative path "
                "(no absolute paths, `..` or unusual characters); it was not checked.",
                raw_name))
            continue
        names[name] = bytes(data)
        total += len(data)
    if len(names) > MAX_FILES or total > MAX_BYTES:
        result.problems.append(ConfProblem(
            "parse", f"the bundle is too large ({len(names)} files, {total} bytes; at most "
            f"{MAX_FILES} files and {MAX_BYTES} bytes); nothing was checked."))
        return result
    entry_name = normalize_name(entry)
    if entry_name is None or entry_name not in names:
        result.problems.append(ConfProblem(
            "parse", f"the entry file {entry!r} is not in the bundle (files: "
            f"{', '.join(sorted(names)) or 'none'}); nothing was checked.", entry))
        return result
    root.file = entry_name
    with tempfile.TemporaryDirectory(prefix="stagegate-nginx-") as tmp:
        parsed = _parse_files(Path(tmp), names, entry_name, result.problems)
    base = posixpath.dirname(entry_name)
    root.block = _build(parsed, entry_name, names, base, (entry_name,), result)
    return result


def _parse_files(tmp: Path, names: Mapping[str, bytes], entry: str,
                 problems: list[ConfProblem]) -> dict[str, list[dict[str, Any]]]:
    """crossplane's payload per bundle file (``single=True``; the entry is parsed in the main
    context, included files without context checks since their context is the include's)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for name, data in names.items():
        path = tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    for name in names:
        path = tmp / name
        try:
            payload: dict[str, Any] = crossplane.parse(
                str(path), catch_errors=True, single=True, comments=False,
                check_ctx=(name == entry), check_args=True)
        except RecursionError:
            problems.append(ConfProblem("parse", f"{name} nests blocks too deeply to parse "
                                        f"(at most {MAX_DEPTH} levels are accepted).", name))
            out[name] = []
            continue
        for config in payload.get("config", []):
            for error in config.get("errors", []):
                text = str(error.get("error", "parse error")).replace(str(tmp) + "/", "")
                problems.append(ConfProblem("parse", f"{name} does not parse: {text}", name,
                                            error.get("line")))
            out[name] = list(config.get("parsed", []))
    return out


def _build(parsed: Mapping[str, list[dict[str, Any]]], name: str, names: Mapping[str, bytes],
           base: str, stack: tuple[str, ...], result: ParsedBundle,
           depth: int = 0) -> list[Directive]:
    if name not in result.files:
        result.files.append(name)
    return _convert(parsed.get(name, []), name, parsed, names, base, stack, result, depth)


def _convert(items: list[dict[str, Any]], name: str, parsed: Mapping[str, list[dict[str, Any]]],
             names: Mapping[str, bytes], base: str, stack: tuple[str, ...],
             result: ParsedBundle, depth: int) -> list[Directive]:
    out: list[Directive] = []
    if depth > MAX_DEPTH:
        line = int(items[0].get("line", 0)) if items else None
        result.problems.append(ConfProblem(
            "parse", f"{name} nests blocks more than {MAX_DEPTH} levels deep; the deeper "
            "levels were not checked.", name, line))
        return out
    for item in items:
        directive = Directive(str(item["directive"]), [str(a) for a in item.get("args", [])],
                              name, int(item.get("line", 0)))
        if directive.name == "include" and directive.args:
            out.extend(_include(directive, parsed, names, base, stack, result, depth))
            continue
        if "block" in item:
            directive.block = _convert(list(item["block"]), name, parsed, names, base, stack,
                                       result, depth + 1)
        out.append(directive)
    return out


def _include(directive: Directive, parsed: Mapping[str, list[dict[str, Any]]],
             names: Mapping[str, bytes], base: str, stack: tuple[str, ...],
             result: ParsedBundle, depth: int) -> list[Directive]:
    pattern = directive.args[0]
    where = f"{directive.file}:{directive.line}"
    joined = posixpath.normpath(posixpath.join(base, pattern)) if base else \
        posixpath.normpath(pattern)
    if pattern.startswith("/") or joined.startswith("../") or joined == "..":
        result.problems.append(ConfProblem(
            "outside", f"`include {pattern}` at {where} points outside the bundle; Stagegate "
            "never reads the server's own files, so whatever it holds was not checked.",
            directive.file, directive.line))
        return []
    if _GLOB.search(joined):
        matches = sorted(n for n in names if fnmatchcase(n, joined)
                         and n.count("/") == joined.count("/"))
    else:
        matches = [joined] if joined in names else []
        if not matches:
            result.problems.append(ConfProblem(
                "outside", f"`include {pattern}` at {where} names {joined!r}, which is not "
                "in the bundle (nginx would refuse to start, or read a file Stagegate never "
                "saw).", directive.file, directive.line))
    out: list[Directive] = []
    for match in matches:
        if match in stack:
            result.problems.append(ConfProblem(
                "parse", f"`include {pattern}` at {where} includes {match} again (an include "
                "cycle: " + " -> ".join((*stack, match)) + ").", directive.file,
                directive.line))
            continue
        out.extend(_build(parsed, match, names, base, (*stack, match), result, depth))
    return out


def walk(directives: list[Directive] | None) -> Iterator[Directive]:
    """Every directive in ``directives`` and, depth first, in their blocks."""
    for directive in directives or ():
        yield directive
        yield from walk(directive.block)

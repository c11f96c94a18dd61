"""Read uploaded bytes as an OpenAPI document, safely.

JSON or YAML is detected from the content, never from a file name or MIME type.  YAML is read
with YAML 1.2 (core schema) meaning: mapping keys are always strings (``200:`` is ``"200"``),
no base-60 numbers (``9:30`` stays a string), no implicit timestamps, no ``0x_`` surprises.
Parsing uses libyaml (C) for speed and its start marks for positions.

Limits, each with a clear :class:`~specs.errors.SpecLoadError`: size in bytes, nesting depth,
and an **alias expansion budget** on the number of nodes that aliases add once expanded, so a
billion-laughs bomb is refused in milliseconds with little memory while a real document with
dozens of aliases passes (YAML 1.2 §3.2.2.2 anchors and aliases; CVE-2003-1564 class).
"""

from __future__ import annotations

import codecs
import hashlib
import json
import re
from dataclasses import dataclass, replace
from typing import Any

import yaml
from yaml.parser import Parser as _PyParser
from yaml.reader import Reader as _Reader
from yaml.scanner import Scanner as _Scanner

from specs import strictjson
from specs.document import Format, SpecDocument
from specs.errors import SpecLoadError
from specs.members import Irregular, Members, read, reread
from specs.pointer import CONTAINERS
from specs.wording import file_size

_CParser: Any
try:  # libyaml is the fast path; the pure-Python parser gives the same results, slower.
    import yaml.cyaml

    _CParser = getattr(yaml.cyaml, "CParser", None)
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    _CParser = None

MIB = 1024 * 1024

VERSIONS = {"2.0": "2.0", "3.0": "3.0", "3.1": "3.1", "3.2": "3.2"}


@dataclass(frozen=True, slots=True)
class LoadLimits:
    """Limits applied while reading a document.

    :ivar max_bytes: largest accepted upload, bytes (default 25 MiB).
    :ivar max_depth: deepest accepted nesting of mappings/sequences (default 256).
    :ivar max_alias_expansion: nodes that YAML aliases may add when expanded (default 100 000).
    """

    max_bytes: int = 25 * MIB
    max_depth: int = 256
    max_alias_expansion: int = 100_000


#: how a server's administrator raises the size limit (the CLI says ``--max-bytes``)
RAISE_LIMIT = "ask an administrator to raise STAGEGATE_SPEC_MAX_BYTES"


def too_large(size: int | None, max_bytes: int, how_to_raise: str = RAISE_LIMIT
              ) -> SpecLoadError:
    """The ``too_large`` load error of a ``size``-byte document (``None``: a stream read no
    further than the limit) over ``max_bytes`` — the one wording of every entrypoint;
    ``how_to_raise`` names the entrypoint's own setting."""
    what = f"The document is {_bytes(size)}; the limit is" if size is not None else \
        "The document is larger than the limit of"
    return SpecLoadError("too_large", f"{what} {_bytes(max_bytes)}. Split it or {how_to_raise}.")


def _bytes(size: int) -> str:
    """``"3,015 bytes (2.9 KiB)"``; ``"100 bytes"`` below a KiB."""
    return f"{size:,} bytes" + (f" ({file_size(size)})" if size >= 1024 else "")


def load_document(raw: bytes, limits: LoadLimits | None = None, *,
                  previous: SpecDocument | None = None) -> SpecDocument:
    """Parse ``raw`` into a :class:`~specs.document.SpecDocument`.

    :param raw: the uploaded bytes, unchanged.
    :param limits: size/depth/alias limits; defaults to :class:`LoadLimits()`.
    :param previous: the previous revision of the same document, if known: a JSON revision
        that differs from it inside one member (a path item, a schema …) is read as that
        difference (:func:`specs.members.reread`): only that member is parsed and every other
        subtree of the data is ``previous.data``'s own object.  The result equals a full
        read's.
    :returns: the document with format, SHA-256, data and detected OpenAPI version.
    :raises SpecLoadError: empty, too large, not UTF-8, a syntax error (with line and column),
        too deep, an alias bomb, duplicate keys, a non-string key, an unsupported tag, or a top
        level that is not a mapping.
    """
    limits = limits or LoadLimits()
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise TypeError("load_document expects bytes")
    raw = bytes(raw)
    if len(raw) > limits.max_bytes:
        raise too_large(len(raw), limits.max_bytes)
    text = _decode(raw)
    if not text.strip():
        raise SpecLoadError("empty", "The document is empty. Upload an OpenAPI document.")
    sha256 = hashlib.sha256(raw).hexdigest()
    fmt: Format = "json" if text.lstrip()[:1] in ("{", "[") else "yaml"
    marks: dict[int, list[int]] | None = None
    members: Members | None = None
    if fmt == "json" and previous is not None and previous.members is not None:
        revised = reread(previous.text, previous.data, previous.members, text, limits.max_depth)
        if revised is not None:
            data, members, _ = revised
            return replace(previous, raw=raw, text=text, sha256=sha256, data=data,
                           members=members, _cursor=None, _lines=None)
    if fmt == "json":
        try:
            data, members = _load_json(text, limits)
        except SpecLoadError as json_error:
            if json_error.code != "syntax" or _looks_like_json(text):
                raise
            # Not JSON, but maybe YAML in flow style such as ``{openapi: 3.1.0, …}``.
            try:
                data, marks = _YamlBuilder(text, limits).build()
            except SpecLoadError:
                raise json_error from None
            fmt = "yaml"
    else:
        data, marks = _YamlBuilder(text, limits).build()
    if not isinstance(data, dict):
        kind = "an array" if isinstance(data, list) else f"a single {type(data).__name__} value"
        raise SpecLoadError(
            "not_a_mapping",
            f"The document is {kind}, not an OpenAPI object. The top level must be a mapping "
            "with an 'openapi' (or 'swagger') field.",
            1,
            1,
        )
    declared, version = _detect_version(data)
    return SpecDocument(
        raw=raw,
        text=text,
        format=fmt,
        sha256=sha256,
        data=data,
        declared_version=declared,
        openapi_version=version,
        members=members,
        _yaml_marks=marks,
    )


def _decode(raw: bytes) -> str:
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8):]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SpecLoadError(
            "encoding",
            f"The document is not UTF-8 text (invalid byte at offset {exc.start}). "
            "OpenAPI documents must be UTF-8 JSON or YAML.",
            line,
        ) from None
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise SpecLoadError(
            "encoding", "The document contains NUL bytes; it looks binary, not JSON or YAML.", line
        )
    return text


def _looks_like_json(text: str) -> bool:
    """True when the first member or item is JSON-quoted (``{"…`` / ``[…``): the author meant
    JSON, so a JSON syntax error is the right message, not a YAML reading."""
    body = text.lstrip()[1:].lstrip()
    return body[:1] in ('"', "}", "]", "") or text.lstrip()[:1] == "["


def _detect_version(data: dict[str, Any]) -> tuple[str | None, str | None]:
    """``(declared, major.minor)`` from ``openapi``/``swagger``; the minor is ``None`` if the
    value is not a string of a version Stagegate validates."""
    for field in ("openapi", "swagger"):
        if field in data:
            value = data[field]
            if not isinstance(value, str):
                return (None if value is None else str(value)), None
            match = re.fullmatch(r"(\d+)\.(\d+)(?:\.\d+)?(?:-[0-9A-Za-z.-]+)?", value.strip())
            if field == "swagger":
                return value, "2.0" if value.strip() == "2.0" else None
            if match and match.group(1) == "3":
                return value, VERSIONS.get(f"{match.group(1)}.{match.group(2)}")
            return value, None
    return None, None


# ------------------------------------------------------------------------------------ JSON
def _load_json(text: str, limits: LoadLimits) -> tuple[Any, Members | None]:
    """The data of a JSON text, and where the members of an object sit (``None`` for other
    values); raises :class:`SpecLoadError` as the strict parser words it."""
    try:
        data, members = read(text)
    except Irregular:
        data, members = _load_strict_json(text, limits), None
    _check_depth(data, limits.max_depth)
    if members is not None:
        members.max_depth = limits.max_depth
    return data, members


def _load_strict_json(text: str, limits: LoadLimits) -> Any:
    try:
        return strictjson.loads(text)
    except strictjson.DuplicateMember as exc:
        raise SpecLoadError(
            "duplicate_key",
            f"The key {exc.name!r} appears twice in one object; JSON object keys must be unique "
            "(RFC 8259 §4). Remove one of them.",
        ) from None
    except RecursionError:
        raise SpecLoadError(
            "too_deep", f"The document nests deeper than {limits.max_depth} levels."
        ) from None
    except json.JSONDecodeError as exc:
        raise SpecLoadError(
            "syntax", f"Invalid JSON: {exc.msg}.", exc.lineno, exc.colno
        ) from None
    except ValueError as exc:  # e.g. an integer literal longer than 4300 digits
        raise SpecLoadError("syntax", f"Invalid JSON value: {exc}.") from None


def _check_depth(data: Any, max_depth: int) -> None:
    """Iterative walk over containers only; raises ``too_deep`` past ``max_depth``."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            raise SpecLoadError(
                "too_deep",
                f"The document nests deeper than {max_depth} levels; no real OpenAPI document "
                "needs that. Flatten it with $ref components.",
            )
        children = node.values() if isinstance(node, dict) else node
        for child in children:
            if isinstance(child, CONTAINERS):
                stack.append((child, depth + 1))


# ------------------------------------------------------------------------------------ YAML
# YAML 1.2 core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution).
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_INT10 = re.compile(r"^[-+]?[0-9]+$")
_INT8 = re.compile(r"^0o[0-7]+$")
_INT16 = re.compile(r"^0x[0-9a-fA-F]+$")
_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")
_INF = re.compile(r"^[-+]?\.(?:inf|Inf|INF)$")
_NAN = re.compile(r"^\.(?:nan|NaN|NAN)$")

_TAG = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT_T, _BOOL_T, _NULL_T = (_TAG + t for t in ("str", "int", "float", "bool", "null"))
_MAP, _SEQ = _TAG + "map", _TAG + "seq"


class _Yaml12Resolver(yaml.resolver.BaseResolver):
    """Resolve plain scalars with the YAML 1.2 core schema, nothing else."""

    def resolve(self, kind: type, value: str, implicit: tuple[bool, bool]) -> str:
        if kind is yaml.ScalarNode and implicit[0]:
            if _NULL.match(value):
                return _NULL_T
            if _BOOL.match(value):
                return _BOOL_T
            if _INT10.match(value) or _INT8.match(value) or _INT16.match(value):
                return _INT
            if _FLOAT.match(value) or _INF.match(value) or _NAN.match(value):
                return _FLOAT_T
            return _STR
        if kind is yaml.ScalarNode:
            return _STR
        if kind is yaml.SequenceNode:
            return _SEQ
        return _MAP


if _CParser is not None:

    class _Composer(_CParser, _Yaml12Resolver):  # type: ignore[misc]
        def __init__(self, stream: str) -> None:
            _CParser.__init__(self, stream)
            _Yaml12Resolver.__init__(self)

else:  # pragma: no cover

    class _Composer(  # type: ignore[no-redef]
        _Reader, _Scanner, _PyParser, yaml.composer.Composer, _Yaml12Resolver
    ):
        def __init__(self, stream: str) -> None:
            _Reader.__init__(self, stream)
            _Scanner.__init__(self)
            _PyParser.__init__(self)
            yaml.composer.Composer.__init__(self)
            _Yaml12Resolver.__init__(self)


def _char_at(text: str, line: int, column: int) -> str:
    """The character at 0-based ``line``/``column`` of ``text``, or ``""``."""
    start = 0
    for _ in range(line):
        start = text.find("\n", start) + 1
        if start == 0:
            return ""
    return text[start + column: start + column + 1]


def _pack(mark: Any) -> int:
    return int(((mark.line + 1) << 24) | min(mark.column + 1, 0xFFFFFF))


class _YamlBuilder:
    """Turn the libyaml node graph into plain JSON-compatible values.

    Records each member's/item's position, counts the nodes aliases add (expansion budget),
    refuses recursion through aliases, duplicate keys, non-scalar keys and unknown tags.
    """

    def __init__(self, text: str, limits: LoadLimits) -> None:
        self.text = text
        self.limits = limits
        self.marks: dict[int, list[int]] = {}
        self.built: dict[int, Any] = {}  # id(node) -> value (aliases share the value)
        self.sizes: dict[int, int] = {}  # id(node) -> nodes in its expanded subtree
        self.in_progress: set[int] = set()
        self.expanded = 0

    def build(self) -> tuple[Any, dict[int, list[int]]]:
        composer = _Composer(self.text)
        try:
            node = composer.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            problem = exc.problem or "syntax error"
            hint = ""
            if "nesting depth" in problem:
                raise SpecLoadError(
                    "too_deep", f"The document nests too deeply ({problem}).",
                    mark.line + 1 if mark else None, mark.column + 1 if mark else None,
                ) from None
            if mark is not None and _char_at(self.text, mark.line, mark.column) == "\t":
                hint = " YAML does not allow tabs for indentation; use spaces."
            context = ""
            if exc.context and exc.context_mark is not None:
                context = f" ({exc.context} started at line {exc.context_mark.line + 1})"
            raise SpecLoadError(
                "syntax",
                f"Invalid YAML: {problem}{context}.{hint}",
                mark.line + 1 if mark else None,
                mark.column + 1 if mark else None,
            ) from None
        except yaml.YAMLError as exc:
            raise SpecLoadError("syntax", f"Invalid YAML: {exc}.") from None
        finally:
            dispose = getattr(composer, "dispose", None)
            if dispose:
                dispose()
        if node is None:
            raise SpecLoadError("empty", "The document is empty. Upload an OpenAPI document.")
        return self._value(node, 1), self.marks

    def _fail(self, code: str, message: str, node: Any) -> SpecLoadError:
        mark = node.start_mark
        return SpecLoadError(code, message, mark.line + 1, mark.column + 1)

    def _value(self, node: Any, depth: int) -> Any:
        key = id(node)
        if key in self.built:  # an alias: the same node again
            self.expanded += self.sizes[key]
            if self.expanded > self.limits.max_alias_expansion:
                raise self._fail(
                    "alias_budget",
                    "YAML aliases expand this document beyond "
                    f"{self.limits.max_alias_expansion:,} extra nodes (an alias bomb?). "
                    "Refer to shared definitions with $ref instead of YAML aliases.",
                    node,
                )
            return self.built[key]
        if key in self.in_progress:
            raise self._fail(
                "alias_budget", "A YAML alias refers to a node that contains it (a cycle).", node
            )
        if depth > self.limits.max_depth and not isinstance(node, yaml.ScalarNode):
            raise self._fail(
                "too_deep",
                f"The document nests deeper than {self.limits.max_depth} levels; no real OpenAPI "
                "document needs that. Flatten it with $ref components.",
                node,
            )
        if isinstance(node, yaml.ScalarNode):
            value = self._scalar(node)
            size = 1
        elif isinstance(node, yaml.SequenceNode):
            if node.tag != _SEQ:
                raise self._unsupported(node)
            self.in_progress.add(key)
            value = []
            positions: list[int] = []
            size = 1
            for item in node.value:
                value.append(self._value(item, depth + 1))
                positions.append(_pack(item.start_mark))
                size += self.sizes[id(item)]
            self.marks[id(value)] = positions
            self.in_progress.discard(key)
        else:
            if node.tag != _MAP:
                raise self._unsupported(node)
            self.in_progress.add(key)
            value = {}
            positions = []
            size = 1
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    raise self._fail(
                        "syntax",
                        "Mapping keys must be plain strings, not a list or mapping.",
                        key_node,
                    )
                name = key_node.value
                if name in value:
                    raise self._fail(
                        "duplicate_key",
                        f"The key {name!r} appears twice in the same mapping (YAML 1.2 §3.2.1.1 "
                        "requires unique keys). Remove one of them.",
                        key_node,
                    )
                value[name] = self._value(value_node, depth + 1)
                positions.append(_pack(key_node.start_mark))
                size += self.sizes[id(value_node)]
            self.marks[id(value)] = positions
            self.in_progress.discard(key)
        self.built[key] = value
        self.sizes[key] = size
        return value

    def _unsupported(self, node: Any) -> SpecLoadError:
        return self._fail(
            "unsupported_tag",
            f"The YAML tag {node.tag!r} is not supported; OpenAPI documents use plain JSON "
            "values only.",
            node,
        )

    def _scalar(self, node: Any) -> Any:
        tag, text = node.tag, node.value
        if tag == _STR:
            return text
        if tag == _NULL_T and _NULL.match(text):
            return None
        if tag == _BOOL_T and _BOOL.match(text):
            return text[0] in "tT"
        try:
            if tag == _INT:
                if _INT16.match(text):
                    return int(text[2:], 16)
                if _INT8.match(text):
                    return int(text[2:], 8)
                if _INT10.match(text):
                    return int(text)
            if tag == _FLOAT_T:
                if _INF.match(text):
                    return float("-inf") if text.startswith("-") else float("inf")
                if _NAN.match(text):
                    return float("nan")
                if _FLOAT.match(text) or _INT10.match(text):
                    return float(text)
        except ValueError:  # e.g. an integer longer than 4300 digits
            raise self._fail(
                "syntax", f"The number {text[:40]!r}… is too long to read.", node
            ) from None
        raise self._unsupported(node) if not tag.startswith(_TAG) or tag not in (
            _INT, _FLOAT_T, _BOOL_T, _NULL_T) else self._fail(
            "syntax", f"{text[:40]!r} is not a valid {tag.rsplit(':', 1)[-1]}.", node)

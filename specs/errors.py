"""Errors raised while reading an uploaded document."""

from __future__ import annotations


class SpecLoadError(Exception):
    """The bytes could not be read as an OpenAPI document at all.

    Raised by :func:`specs.load_document` before any validation, e.g. too large, not UTF-8,
    a YAML/JSON syntax error, an alias bomb, nesting too deep, or a top level that is not a
    mapping.  Nothing is stored for such an upload; the caller shows ``message``.

    :ivar code: stable machine-readable reason: ``too_large``, ``empty``, ``encoding``,
        ``syntax``, ``alias_budget``, ``too_deep``, ``duplicate_key``, ``not_a_mapping``,
        ``unsupported_tag``.
    :ivar message: one sentence for a person, naming the problem and how to fix it.
    :ivar line: 1-based line in the uploaded text, or ``None`` when unknown.
    :ivar column: 1-based column, or ``None``.
    """

    def __init__(
        self, code: str, message: str, line: int | None = None, column: int | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.line = line
        self.column = column

    @property
    def error(self) -> str:
        """The error code of the answer: ``too_large`` over the size limit, else
        ``spec_unreadable`` (REST, a failed ``spec.check`` job and ``stagegate check --format
        json`` say the same)."""
        return "too_large" if self.code == "too_large" else "spec_unreadable"

    def error_body(self) -> dict[str, object]:
        """``{"error", "message", "details"}`` with :meth:`to_dict` as ``details``: REST's
        answer to the upload of these bytes, also printed by ``stagegate check --format
        json``."""
        return {"error": self.error, "message": self.message, "details": self.to_dict()}

    def to_dict(self) -> dict[str, object]:
        """Plain-JSON form: ``{"code", "message", "line", "column"}``."""
        return {"code": self.code, "message": self.message, "line": self.line,
                "column": self.column}

"""The result of evaluating one rule at one place: :class:`Finding` and its :class:`Status`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from policies.rules import Severity


class Status(StrEnum):
    """Outcome of a rule at one place.

    ``fail``, ``error`` (the rule could not be evaluated) and ``missing-evidence`` all block a
    gate (fail closed); ``pass``, ``not-applicable`` and ``waived`` do not.
    """

    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"
    MISSING_EVIDENCE = "missing-evidence"
    NOT_APPLICABLE = "not-applicable"
    WAIVED = "waived"

    @property
    def blocks(self) -> bool:
        """True for the statuses a gate treats as a failure."""
        return self in _BLOCKING


_BLOCKING = frozenset({Status.FAIL, Status.ERROR, Status.MISSING_EVIDENCE})


@dataclass(frozen=True, slots=True)
class Finding:
    """One rule outcome at one place in the evidence.

    :ivar rule_id: the rule's id (``TRN-HTTPS-ONLY``).
    :ivar severity: severity of this finding (normally the rule's default; an allowed-with-
        warning value gives a lower one).
    :ivar status: see :class:`Status`.
    :ivar message: what was found, for a person, naming the offending value.
    :ivar pointer: JSON pointer (RFC 6901) into the document, or ``None``.
    :ivar line: 1-based line of ``pointer`` in the uploaded text, or ``None``.
    :ivar column: 1-based column, or ``None``.
    :ivar file: the file of a multi-file evidence (an nginx configuration bundle: the path
        inside the bundle, ``conf.d/api.conf``) that ``line``/``column`` refer to, or ``None``
        for single-document evidence (the spec) and findings without a place.
    """

    rule_id: str
    severity: Severity
    status: Status
    message: str
    pointer: str | None = None
    line: int | None = None
    column: int | None = None
    file: str | None = None

    @property
    def identity(self) -> str:
        """The stable key of this finding: what (``rule_id``) and where (``pointer``), e.g.
        ``TRN-HTTPS-ONLY#/servers/0/url`` (``SPEC-VALID#`` for one about the whole evidence).

        Line, column, message, severity and status are left out: they change when the
        document is edited around the finding, or when it is fixed.  Two revisions' findings
        with the same identity are the same issue (see :func:`compare`).
        """
        return f"{self.rule_id}#{self.pointer or ''}"

    def with_location(self, line: int | None, column: int | None) -> Finding:
        """A copy with ``line`` and ``column`` set."""
        return replace(self, line=line, column=column)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form: ``rule_id, severity, status, message, pointer, line, column``, plus
        ``file`` only when it is set (so stored findings without one keep their old shape)."""
        data: dict[str, Any] = {
            "rule_id": self.rule_id,
            "severity": str(self.severity),
            "status": str(self.status),
            "message": self.message,
            "pointer": self.pointer,
            "line": self.line,
            "column": self.column,
        }
        if self.file is not None:
            data["file"] = self.file
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Finding:
        """Rebuild a finding stored with :meth:`to_dict`.

        :raises ValueError: a member is missing or has the wrong type or value.
        """
        try:
            rule_id, message = data["rule_id"], data["message"]
            severity, status = Severity(data["severity"]), Status(data["status"])
        except KeyError as exc:
            raise ValueError(f"finding is missing {exc.args[0]!r}") from None
        if not isinstance(rule_id, str) or not isinstance(message, str):
            raise ValueError("finding rule_id and message must be strings")
        pointer, line, column = data.get("pointer"), data.get("line"), data.get("column")
        if pointer is not None and not isinstance(pointer, str):
            raise ValueError("finding pointer must be a string or null")
        file = data.get("file")
        if file is not None and not isinstance(file, str):
            raise ValueError("finding file must be a string or null")
        for name, value in (("line", line), ("column", column)):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                raise ValueError(f"finding {name} must be an integer or null")
        return cls(rule_id, severity, status, message, pointer, line, column, file)


def sort_key(finding: Finding) -> tuple[Any, ...]:
    """Order findings most severe first, then by rule id, file, line, column and message."""
    return (
        -finding.severity.rank,
        finding.rule_id,
        finding.file or "",
        finding.line if finding.line is not None else 1 << 30,
        finding.column or 0,
        finding.message,
    )


@dataclass(frozen=True, slots=True)
class FindingChanges:
    """What changed between two evaluations, by :attr:`Finding.identity` of blocking findings.

    :ivar new: blocking now, not before.
    :ivar fixed: blocking before, not now (passing or gone).
    :ivar unchanged: blocking in both.
    """

    new: tuple[Finding, ...]
    fixed: tuple[Finding, ...]
    unchanged: tuple[Finding, ...]


def compare(before: Iterable[Finding], after: Iterable[Finding]) -> FindingChanges:
    """Classify blocking findings of ``after`` against ``before`` as new, fixed or unchanged
    (matched by :attr:`Finding.identity`; each list in :func:`sort_key` order)."""
    old = {f.identity: f for f in before if f.status.blocks}
    now = {f.identity: f for f in after if f.status.blocks}
    return FindingChanges(
        new=tuple(sorted((f for k, f in now.items() if k not in old), key=sort_key)),
        fixed=tuple(sorted((f for k, f in old.items() if k not in now), key=sort_key)),
        unchanged=tuple(sorted((f for k, f in now.items() if k in old), key=sort_key)),
    )

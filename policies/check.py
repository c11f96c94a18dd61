"""Check an uploaded OpenAPI document against every spec rule: :func:`check_spec`."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from policies.findings import Finding, sort_key
from policies.spec_rules import build_index, declared_profile, evaluate_spec_rules
from specs import LoadLimits, SpecDocument, ValidationIssue, load_document, validate_document
from specs.index import SpecIndex
from specs.memo import SectionMemo


@dataclass(frozen=True, slots=True)
class SpecCheck:
    """The result of :func:`check_spec`.

    :ivar document: the loaded document (bytes, format, version, data, locations).
    :ivar issues: the validator's issues, located.
    :ivar findings: every spec rule's findings, located, sorted by :func:`sort_findings`.
    :ivar profile: the declared ``x-token-encryption`` mapping of the bearer scheme, or
        ``None`` (see :func:`policies.spec_rules.declared_profile`).
    """

    document: SpecDocument
    issues: tuple[ValidationIssue, ...]
    findings: tuple[Finding, ...]
    profile: dict[str, Any] | None = None


#: ``progress(step)`` with step ``"load"``, ``"validate"`` or ``"rules"`` (the step starting)
StepCallback = Callable[[str], None]


def check_spec(raw: bytes, limits: LoadLimits | None = None, *,
               progress: StepCallback | None = None, memo: SectionMemo | None = None
               ) -> SpecCheck:
    """Load, validate and evaluate every spec rule on ``raw``.

    :param raw: the uploaded bytes (JSON or YAML, detected from the content).
    :param limits: load limits (size, depth, alias expansion); defaults apply when ``None``.
    :param progress: called with ``"load"``, ``"validate"``, ``"rules"`` as each step starts
        (a background job reports them; the result is the same without it).
    :param memo: what the previous check of the document's API version left
        (:class:`specs.memo.SectionMemo`): a JSON revision is read as a difference from the
        previous document, and each pass looks up what it computed for the parts that did not
        change; the memo then holds this check.  The result is the same without it: should
        reusing fail, the memo is emptied and the document checked cold.
    :raises SpecLoadError: only when the bytes are not a readable document at all.
    """
    step = progress or _no_progress
    step("load")
    doc = load_document(raw, limits, previous=memo.document if memo is not None else None)
    if memo is None:
        return _checked(doc, None, step)
    try:
        check = _checked(doc, memo, step)
    except Exception:  # noqa: BLE001 - a defect in reusing costs time, never the answer
        memo.forget()
        return _checked(doc, None, step)
    memo.document = doc
    memo.parts.settle()
    return check


def _checked(doc: SpecDocument, memo: SectionMemo | None, step: StepCallback) -> SpecCheck:
    """:func:`check_spec` after loading: validate, index, evaluate, locate."""
    step("validate")
    issues = validate_document(doc, memo)
    step("rules")
    built = build_index(doc, reuse=memo.parts if memo is not None else None)
    findings = locate_findings(doc, evaluate_spec_rules(doc, issues, built))
    profile = declared_profile(built) if isinstance(built, SpecIndex) else None
    return SpecCheck(doc, tuple(issues), tuple(sort_findings(findings)), profile)


def _no_progress(step: str) -> None:
    """The default :data:`StepCallback`: report nothing."""


def locate_findings(doc: SpecDocument, findings: Sequence[Finding]) -> list[Finding]:
    """Fill line and column of every finding that has a pointer and no line yet.

    A pointer that names nothing (e.g. a member the document lacks) takes its closest
    existing ancestor's position (:meth:`SpecDocument.locate_nearest`).
    """
    located = doc.locate_nearest(
        {f.pointer for f in findings if f.pointer is not None and f.line is None})
    result = []
    for finding in findings:
        position = located.get(finding.pointer) if finding.pointer is not None else None
        if position is not None and finding.line is None:
            finding = finding.with_location(position.line, position.column)
        result.append(finding)
    return result


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Most severe first, then by rule id, line, column and message."""
    return sorted(findings, key=sort_key)

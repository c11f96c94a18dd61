"""Shape domain objects for the templates: board columns, the gate panel, finding excerpts.

Pure functions of models and :class:`policies.gate.GateDecision` values; no request, no
database writes.  Kept apart from the views so the views stay a few lines each.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from lifecycle import stages
from specs.document import excerpt_lines

#: stage id -> label shown to people
STAGE_LABELS: dict[str, str] = {s: s.capitalize() for s in stages.STAGES}

#: finding statuses that never block and are folded away under "pass or do not apply"
QUIET_STATUSES = frozenset({"pass", "not-applicable", "waived"})

#: lines of context shown above and below an offending line
EXCERPT_CONTEXT = 3

_SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3}


@dataclass(frozen=True)
class FindingView:
    """One finding with its rule's words and the document lines around it.

    ``excerpt`` is ``[(line_number, text), …]`` (empty when the finding has no line).
    """

    rule_id: str
    title: str
    severity: str
    status: str
    message: str
    pointer: str | None
    line: int | None
    column: int | None
    remediation: str
    sources: Sequence[Any]
    excerpt: list[tuple[int, str]] = field(default_factory=list)


@dataclass(frozen=True)
class GatePanel:
    """What the gate into ``target`` says about the version's latest revision.

    ``target`` is ``None`` for a retired version; ``no_spec`` when nothing was uploaded.
    """

    target: str | None
    no_spec: bool = False
    passed: bool = False
    revision: Any = None
    pack: str = ""
    pack_sha256: str = ""
    blocking: list[FindingView] = field(default_factory=list)
    warnings: list[FindingView] = field(default_factory=list)
    passing: list[FindingView] = field(default_factory=list)


@dataclass(frozen=True)
class Card:
    """A board card: the version and its compliance badge (``pass``, ``blocked``, ``none``,
    ``final``) for the gate into ``next_stage``."""

    version: Any
    badge: str
    blocking: int = 0
    next_stage: str | None = None

    @property
    def next_label(self) -> str:
        return STAGE_LABELS.get(self.next_stage or "", "")


@dataclass(frozen=True)
class Column:
    """A board column: one stage and its cards."""

    stage: str
    label: str
    cards: list[Card]


@dataclass(frozen=True)
class TimelineStep:
    """One of the five stages for a version: ``state`` is ``done``, ``current`` or ``todo``."""

    stage: str
    label: str
    state: str


def _value(x: Any) -> Any:
    """Plain value of a StrEnum member (``Severity.HIGH`` -> ``"high"``); others unchanged."""
    return getattr(x, "value", x)


def _finding_key(f: Any) -> tuple[Any, ...]:
    return (f.rule_id, _value(f.status), f.pointer, f.line, f.column, f.message)


def finding_view(f: Any, get_rule: Callable[[str], Any], text: str | None) -> FindingView:
    """A :class:`FindingView` for finding ``f``; ``text`` is the decoded document or ``None``.

    :param get_rule: ``policies.rules.get_rule`` (may raise ``KeyError`` for an unknown id,
        which shows the id alone rather than failing the page).
    """
    try:
        rule = get_rule(f.rule_id)
    except (KeyError, LookupError):
        rule = None
    excerpt = excerpt_lines(text, f.line, context=EXCERPT_CONTEXT) if text and f.line else []
    return FindingView(
        rule_id=f.rule_id,
        title=rule.title if rule else "",
        severity=str(_value(f.severity)),
        status=str(_value(f.status)),
        message=f.message,
        pointer=f.pointer,
        line=f.line,
        column=f.column,
        remediation=rule.remediation if rule else "",
        sources=tuple(rule.sources) if rule else (),
        excerpt=excerpt,
    )


def document_text(revision: Any) -> str | None:
    """The stored bytes of ``revision`` as text (UTF-8, undecodable bytes replaced)."""
    if revision is None:
        return None
    return bytes(revision.raw).decode("utf-8", errors="replace")


def _order(views: Iterable[FindingView]) -> list[FindingView]:
    return sorted(views, key=lambda v: (_SEVERITY_ORDER.get(v.severity, 9), v.line or 0, v.rule_id))


def gate_panel(version: Any, decision: Any, get_rule: Callable[[str], Any]) -> GatePanel:
    """Build the gate panel for ``version`` from ``decision`` (``GateDecision`` or ``None``).

    Blocking findings come first (severity, then line); failures the pack lets through are
    ``warnings``; passing / not-applicable / waived rules are listed once per rule.
    """
    target = stages.next_stage(version.stage)
    if target is None:
        return GatePanel(target=None)
    revision = version.current_revision
    if decision is None or revision is None:
        return GatePanel(target=target, no_spec=True)
    text = document_text(revision)
    blocking_keys = {_finding_key(f) for f in decision.blocking}
    blocking, warnings, passing, seen = [], [], [], set()
    for f in decision.findings:
        status = str(_value(f.status))
        if _finding_key(f) in blocking_keys:
            blocking.append(finding_view(f, get_rule, text))
        elif status in QUIET_STATUSES:
            if f.rule_id not in seen:
                seen.add(f.rule_id)
                passing.append(finding_view(f, get_rule, None))
        else:
            warnings.append(finding_view(f, get_rule, text))
    # A blocking finding missing from decision.findings must still be shown.
    shown = {_finding_key(f) for f in decision.findings}
    blocking += [finding_view(f, get_rule, text) for f in decision.blocking
                 if _finding_key(f) not in shown]
    return GatePanel(
        target=target,
        passed=bool(decision.passed),
        revision=revision,
        pack=str(decision.pack),
        pack_sha256=str(getattr(decision, "pack_sha256", "") or ""),
        blocking=_order(blocking),
        warnings=_order(warnings),
        passing=sorted(passing, key=lambda v: v.rule_id),
    )


def card(version: Any, decision: Any) -> Card:
    """The board card of ``version`` given the gate decision for its next stage."""
    target = stages.next_stage(version.stage)
    if target is None:
        return Card(version, "final")
    if decision is None or version.current_revision is None:
        return Card(version, "none", next_stage=target)
    if decision.passed:
        return Card(version, "pass", next_stage=target)
    return Card(version, "blocked", blocking=len(decision.blocking), next_stage=target)


def board_columns(cards: Iterable[Card]) -> list[Column]:
    """Cards grouped into one column per stage, in lifecycle order (empty columns kept)."""
    by_stage: dict[str, list[Card]] = {s: [] for s in stages.STAGES}
    for c in cards:
        by_stage.setdefault(c.version.stage, []).append(c)
    return [Column(s, STAGE_LABELS[s], by_stage[s]) for s in stages.STAGES]


def timeline(stage: str) -> list[TimelineStep]:
    """The five stages with ``done`` / ``current`` / ``todo`` relative to ``stage``."""
    here = stages.index(stage)
    return [
        TimelineStep(s, STAGE_LABELS[s], "done" if i < here else "current" if i == here else "todo")
        for i, s in enumerate(stages.STAGES)
    ]

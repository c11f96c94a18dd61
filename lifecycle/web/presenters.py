"""Shape domain objects for the templates: board columns, the gate panel, finding excerpts,
and the encryption-evidence area (managed keys, issuer JWKS, sample-token analyses).

Pure functions of models and :class:`policies.gate.GateDecision` values; no request, no
database writes.  Kept apart from the views so the views stay a few lines each.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from lifecycle.catalog import stages
from policies.findings import Finding
from policies.rules import for_document
from specs.document import ExcerptLine, excerpt_window
from specs.wording import plural

#: stage id -> label shown to people
STAGE_LABELS: dict[str, str] = {s: s.capitalize() for s in stages.STAGES}

#: finding statuses that never block and are folded away under "pass or do not apply"
QUIET_STATUSES = frozenset({"pass", "not-applicable", "waived"})

#: lines of context shown above and below an offending line
EXCERPT_CONTEXT = 3
#: characters of a long line shown (a window around the finding's column: ±120)
EXCERPT_WIDTH = 240

_SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3}


@dataclass(frozen=True)
class FindingView:
    """One finding with its rule's words and the document lines around it.

    ``excerpt`` is the document lines around ``line`` (:class:`specs.document.ExcerptLine`:
    a long line is cut to a window around ``column``, the character at the column split out
    for a marker; empty when the finding has no line).
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
    excerpt: list[ExcerptLine] = field(default_factory=list)
    #: the file of a configuration bundle (gateway findings) that ``line`` refers to, else
    #: ``None`` (``line`` is in the spec document)
    file: str | None = None
    #: for missing token/JWKS evidence: the id of the version-page form that supplies it,
    #: and the link text (else ``None``)
    supply_anchor: str | None = None
    supply_label: str | None = None
    #: the evidence kind the rule reads (``spec``, ``token``, ``jwks``, …; ``""`` if unknown)
    evidence: str = ""


#: evidence kind → what the reader must supply, said once for a group of missing findings
EVIDENCE_NAMES: dict[str, str] = {
    "spec": "OpenAPI document",
    "token": "token",
    "jwks": "JWKS",
    "gateway": "gateway configuration",
}


def _and(items: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def what_blocks(failing_rules: int, missing: Iterable[str], findings: int = 0) -> str:
    """What blocks a gate in a few words: ``"missing token and JWKS evidence, 3 failing
    rules"`` — each missing kind of evidence named once (however many rules wait for it),
    failing rules counted once each (however many places they fail at).

    :param missing: evidence kinds (``spec``, ``token``, ``jwks``, ``gateway``).
    :param findings: the blocking findings in all, said only when neither of the others is
        known (``"4 findings"``).
    """
    order = list(EVIDENCE_NAMES)
    kinds = sorted(set(missing), key=lambda k: (order.index(k) if k in order else len(order), k))
    names = [EVIDENCE_NAMES.get(k, k) for k in kinds]
    parts = []
    if names:
        parts.append(f"missing {_and(names)} evidence")
    if failing_rules:
        parts.append(plural(failing_rules, "failing rule"))
    if not parts and findings:
        parts.append(plural(findings, "finding"))
    return ", ".join(parts)


@dataclass(frozen=True)
class MissingEvidence:
    """Blocking ``missing-evidence`` findings of one evidence ``kind``, shown as one item.

    ``message`` is the first finding's message (they say the same thing); ``rule_ids`` are
    the waiting rules, sorted; ``severity`` is the most severe of them.
    """

    kind: str
    name: str
    message: str
    severity: str
    rule_ids: list[str]
    supply_anchor: str | None = None
    supply_label: str | None = None


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
    #: blocking ``missing-evidence`` findings grouped by evidence kind (not in ``failing``)
    missing: list[MissingEvidence] = field(default_factory=list)

    @property
    def failing(self) -> list[FindingView]:
        """Blocking findings other than missing evidence, listed one by one."""
        return [f for f in self.blocking if f.status != "missing-evidence"]

    @property
    def what_blocks(self) -> str:
        """``"missing token and JWKS evidence, 3 failing rules"`` (see :func:`what_blocks`)."""
        return what_blocks(len({f.rule_id for f in self.failing}),
                           [m.kind for m in self.missing], len(self.blocking))

    @property
    def summary(self) -> str:
        """One sentence for a refused promotion, e.g. ``"The Deployment gate blocks this
        version: 2 failing rules and missing token evidence (31 rules)."``"""
        parts = []
        failing_rules = len({f.rule_id for f in self.failing})
        if failing_rules:
            parts.append(plural(failing_rules, "failing rule"))
        for group in self.missing:
            parts.append(f"missing {group.name} evidence ({plural(len(group.rule_ids), 'rule')})")
        gate = f"The {STAGE_LABELS.get(self.target or '', '')} gate blocks this version"
        if not parts:
            return gate + "."
        return f"{gate}: {_and(parts)}."


@dataclass(frozen=True)
class Column:
    """A board column: one stage, the cards of this page in it (attention first) and how
    many versions the stage holds in all (``count``, from the filtered counts)."""

    stage: str
    label: str
    cards: list[Any]
    count: int = 0


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


def finding_view(f: Any, get_rule: Callable[[str], Any],
                 text: str | list[str] | None) -> FindingView:
    """A :class:`FindingView` for finding ``f``; ``text`` is the decoded document (or its
    lines, split once by a caller showing many findings), or ``None``.

    :param get_rule: ``policies.rules.get_rule`` (may raise ``KeyError`` for an unknown id,
        which shows the id alone rather than failing the page).
    """
    try:
        rule = get_rule(f.rule_id)
    except (KeyError, LookupError):
        rule = None
    where = getattr(f, "file", None)  # a gateway bundle's file: not a line of the spec text
    excerpt = excerpt_window(text, f.line, getattr(f, "column", None), context=EXCERPT_CONTEXT,
                             width=EXCERPT_WIDTH) \
        if text and f.line and where is None else []
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
        file=where,
        evidence=str(_value(rule.evidence)) if rule else "",
        **_supply(rule, str(_value(f.status))),
    )


def group_missing(views: Iterable[FindingView]) -> list[MissingEvidence]:
    """Group ``missing-evidence`` views by evidence kind (order: first appearance, which is
    severity order when ``views`` is ordered)."""
    groups: dict[str, list[FindingView]] = {}
    for v in views:
        if v.status == "missing-evidence":
            groups.setdefault(v.evidence, []).append(v)
    result = []
    for kind, members in groups.items():
        first = members[0]
        result.append(MissingEvidence(
            kind=kind,
            name=EVIDENCE_NAMES.get(kind, kind or "required"),
            message=first.message,
            severity=min((m.severity for m in members),
                         key=lambda s: _SEVERITY_ORDER.get(s, 9)),
            rule_ids=sorted({m.rule_id for m in members}),
            supply_anchor=first.supply_anchor,
            supply_label=first.supply_label,
        ))
    return result


#: evidence kind → (id of the version-page form that supplies it, link text)
SUPPLY_FORMS: dict[str, tuple[str, str]] = {
    "spec": ("upload-form", "Upload the OpenAPI document"),
    "token": ("token-form", "Paste a sample access token"),
    "jwks": ("jwks-form", "Paste the issuer's signing JWKS"),
    "gateway": ("gateway", "Go to the Gateway panel"),
}


def _supply(rule: Any, status: str) -> dict[str, str]:
    """``supply_anchor``/``supply_label`` of a ``missing-evidence`` token, JWKS or gateway
    finding."""
    if rule is None or status != "missing-evidence":
        return {}
    found = SUPPLY_FORMS.get(str(_value(rule.evidence)))
    return {"supply_anchor": found[0], "supply_label": found[1]} if found else {}


def document_text(revision: Any) -> str | None:
    """The stored bytes of ``revision`` as text (UTF-8, undecodable bytes replaced)."""
    if revision is None:
        return None
    return bytes(revision.raw).decode("utf-8", errors="replace")


def _cited_for(get_rule: Callable[[str], Any],
               openapi_version: str | None) -> Callable[[str], Any]:
    """``get_rule`` whose rules cite the specification of a document of ``openapi_version``
    (a Swagger 2.0 document's findings cite Swagger 2.0: :func:`policies.rules.for_document`)."""
    return lambda rule_id: for_document(get_rule(rule_id), openapi_version)


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
    document = document_text(revision)
    text = document.splitlines() if document else None  # split once for every finding
    get_rule = _cited_for(get_rule, revision.openapi_version)
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
    blocking = _order(blocking)
    return GatePanel(
        target=target,
        passed=bool(decision.passed),
        revision=revision,
        pack=str(decision.pack),
        pack_sha256=str(getattr(decision, "pack_sha256", "") or ""),
        blocking=blocking,
        missing=group_missing(blocking),
        warnings=_order(warnings),
        passing=sorted(passing, key=lambda v: v.rule_id),
    )


#: findings of one rule shown before the rest of the group is folded (``<details>``)
FOLD_AFTER = 3
#: severities a finding filter may choose, most severe first
SEVERITIES = ("critical", "high", "medium", "low")


@dataclass(frozen=True)
class FindingGroup:
    """The findings of one rule (in page order): shown once with the rule's words and a
    count, the first :data:`FOLD_AFTER` open and the rest folded."""

    rule_id: str
    title: str
    severity: str
    findings: list[FindingView]

    @property
    def count(self) -> int:
        return len(self.findings)

    @property
    def shown(self) -> list[FindingView]:
        return self.findings if self.count <= FOLD_AFTER + 1 else self.findings[:FOLD_AFTER]

    @property
    def folded(self) -> list[FindingView]:
        return [] if self.count <= FOLD_AFTER + 1 else self.findings[FOLD_AFTER:]

    @property
    def first(self) -> FindingView:
        return self.findings[0]


@dataclass(frozen=True)
class FindingList:
    """The gate panel's findings grouped by rule and filtered by the page's ``severity`` /
    ``rule`` query parameters (values not offered are ignored, never an error).

    ``blocking`` / ``warnings``: groups of failing findings (missing evidence is grouped by
    kind in :attr:`GatePanel.missing`); ``missing``: those groups the filter keeps;
    ``rules``: ``(rule_id, title, count)`` of every failing rule, for the filter's choices;
    ``hidden``: findings the filter leaves out.
    """

    blocking: list[FindingGroup]
    warnings: list[FindingGroup]
    missing: list[MissingEvidence]
    rules: list[tuple[str, str, int]]
    severity: str | None = None
    rule: str | None = None
    hidden: int = 0

    @property
    def filtered(self) -> bool:
        return bool(self.severity or self.rule)

    @property
    def offer_filter(self) -> bool:
        """Whether the page offers the filter (more than a handful of findings, or a filter
        is on)."""
        total = sum(g.count for g in (*self.blocking, *self.warnings)) + self.hidden
        return self.filtered or total > FOLD_AFTER * 2 or len(self.rules) > FOLD_AFTER


def group_by_rule(views: Iterable[FindingView]) -> list[FindingGroup]:
    """Findings grouped by rule, groups in the order of their first finding (``views`` come
    severity first, then by line)."""
    groups: dict[str, list[FindingView]] = {}
    for v in views:
        groups.setdefault(v.rule_id, []).append(v)
    return [FindingGroup(rule_id=rule, title=members[0].title, severity=members[0].severity,
                         findings=members) for rule, members in groups.items()]


def finding_list(gate: GatePanel, severity: str | None = None,
                 rule: str | None = None) -> FindingList:
    """Group ``gate``'s failing findings and warnings by rule and keep those matching
    ``severity`` (one of :data:`SEVERITIES`) and ``rule`` (a rule id among them); unknown
    values are ignored."""
    everything = [*gate.failing, *gate.warnings]
    counts: dict[str, int] = {}
    titles: dict[str, str] = {}
    for v in everything:
        counts[v.rule_id] = counts.get(v.rule_id, 0) + 1
        titles.setdefault(v.rule_id, v.title)
    severity = severity if severity in SEVERITIES else None
    rule = rule if rule in counts else None

    def keep(v: FindingView) -> bool:
        return (severity is None or v.severity == severity) and (rule is None
                                                                 or v.rule_id == rule)

    blocking = [v for v in gate.failing if keep(v)]
    warnings = [v for v in gate.warnings if keep(v)]
    missing = [m for m in gate.missing
               if (severity is None or m.severity == severity) and rule is None]
    return FindingList(
        blocking=group_by_rule(blocking), warnings=group_by_rule(warnings), missing=missing,
        rules=sorted((r, titles[r], n) for r, n in counts.items()),
        severity=severity, rule=rule,
        hidden=len(everything) - len(blocking) - len(warnings),
    )


def board_columns(cards: Iterable[Any], counts: dict[str, int]) -> list[Column]:
    """Cards (:class:`lifecycle.review.board.CardRow`, in page order) grouped into one
    column per stage, in lifecycle order (empty columns kept), with the stage's ``count``."""
    by_stage: dict[str, list[Any]] = {s: [] for s in stages.STAGES}
    for c in cards:
        by_stage.setdefault(c.stage, []).append(c)
    return [Column(s, STAGE_LABELS[s], by_stage[s], counts.get(s, 0)) for s in stages.STAGES]


def timeline(stage: str) -> list[TimelineStep]:
    """The five stages with ``done`` / ``current`` / ``todo`` relative to ``stage``."""
    here = stages.index(stage)
    return [
        TimelineStep(s, STAGE_LABELS[s], "done" if i < here else "current" if i == here else "todo")
        for i, s in enumerate(stages.STAGES)
    ]


# ------------------------------------------------------------------------------ evidence
#: claims whose integer values are NumericDates (shown with their UTC time as well)
_DATE_CLAIMS = frozenset({"exp", "iat", "nbf"})
#: longest header/claim value shown in full (longer ones are cut with "…")
MAX_VALUE_CHARS = 240
#: the redaction marker of :func:`policies.tokens.claims.redact`
REDACTED = "[redacted]"
_PROFILE_CLAIMS = frozenset({"sub", "client_id", "scope"})


@dataclass(frozen=True)
class KeyRow:
    """A managed encryption key as listed (public facts only; never key material).

    ``status`` is ``current``, ``grace`` (decrypts until ``grace_until``) or ``retired``,
    as of the moment the row was built.
    """

    kid: str
    alg: str
    key_type: str
    status: str
    created_at: Any
    grace_until: Any = None
    retired_at: Any = None

    @property
    def kid_short(self) -> str:
        return self.kid[:12]


def key_rows(keys: Iterable[Any], now: Any) -> list[KeyRow]:
    """:class:`KeyRow` for each :class:`~lifecycle.evidence.models.ManagedKey`, in the given order.

    :param now: aware UTC datetime the status is judged at.
    """
    rows = []
    for k in keys:
        kind = f"{k.kty} {k.size}" if k.size else f"{k.kty} {k.crv or ''}".strip()
        rows.append(KeyRow(kid=k.kid, alg=k.alg, key_type=kind, status=k.status_at(now),
                           created_at=k.created_at, grace_until=k.grace_until,
                           retired_at=k.retired_at))
    return rows


@dataclass(frozen=True)
class JwksKeyRow:
    """One key of a submitted issuer JWKS (from its stored :class:`KeySummary` dict)."""

    index: int
    kid: str | None
    key_type: str
    use: str | None
    alg: str | None
    key_ops: str | None


def jwks_key_rows(summaries: Iterable[dict[str, Any]]) -> list[JwksKeyRow]:
    """Rows of the issuer JWKS key table from ``JwksEvidence.keys``."""
    rows = []
    for s in summaries:
        kty = str(s.get("kty") or "?")
        extra = s.get("size") or s.get("crv") or ""
        ops = s.get("key_ops")
        rows.append(JwksKeyRow(index=int(s.get("index") or 0), kid=s.get("kid"),
                               key_type=f"{kty} {extra}".strip(), use=s.get("use"),
                               alg=s.get("alg"),
                               key_ops=", ".join(map(str, ops)) if ops else None))
    return rows


def split_findings(findings: Iterable[Any], get_rule: Callable[[str], Any]
                   ) -> tuple[list[FindingView], list[FindingView]]:
    """``(failing, quiet)``: findings that block or warn (by severity), and those that pass,
    do not apply or are waived (once per rule, by id)."""
    failing, quiet, seen = [], [], set()
    for f in findings:
        if str(_value(f.status)) in QUIET_STATUSES:
            if f.rule_id not in seen:
                seen.add(f.rule_id)
                quiet.append(finding_view(f, get_rule, None))
        else:
            failing.append(finding_view(f, get_rule, None))
    return _order(failing), sorted(quiet, key=lambda v: v.rule_id)


@dataclass(frozen=True)
class MemberRow:
    """A decoded header member or a claim of an analysed token.

    ``value`` is display text (JSON for non-strings); ``redacted`` when the stored analysis
    keeps only the name; ``absent`` when a failing rule concerns a member the token lacks;
    ``rules`` are the failing rule ids that point at it; ``note`` is e.g. the UTC time of a
    NumericDate.
    """

    name: str
    value: str
    redacted: bool = False
    absent: bool = False
    rules: tuple[str, ...] = ()
    note: str = ""


def _display(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False,
                                                            separators=(", ", ": "))
    return text if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS - 1] + "…"


def _numeric_date(value: Any) -> str:
    if not isinstance(value, int) or isinstance(value, bool):
        return ""
    try:
        return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return ""


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _rules_by_member(failing: Iterable[FindingView]) -> dict[tuple[str, str], list[str]]:
    """``{(layer, member): [rule ids]}`` from finding pointers ``/outer/alg``,
    ``/inner/typ``, ``/claims/exp``; CLM-PROFILE names its claims in the message."""
    out: dict[tuple[str, str], list[str]] = {}

    def add(layer: str, member: str, rule_id: str) -> None:
        ids = out.setdefault((layer, member), [])
        if rule_id not in ids:
            ids.append(rule_id)

    for f in failing:
        parts = (f.pointer or "").split("/")
        if len(parts) >= 3 and parts[0] == "" and parts[1] in ("outer", "inner", "claims"):
            add(parts[1], _unescape(parts[2]), f.rule_id)
        elif f.rule_id == "CLM-PROFILE":
            for name in re.findall(r"`([^`]+)`", f.message):
                if name in _PROFILE_CLAIMS:
                    add("claims", name, f.rule_id)
    return out


def _member_rows(layer: str, data: dict[str, Any] | None,
                 rules: dict[tuple[str, str], list[str]]) -> list[MemberRow]:
    data = data if isinstance(data, dict) else {}
    rows = []
    for name, value in data.items():
        redacted = layer == "claims" and value == REDACTED
        rows.append(MemberRow(
            name=str(name), value="" if redacted else _display(value), redacted=redacted,
            rules=tuple(rules.get((layer, str(name)), ())),
            note=_numeric_date(value) if layer == "claims" and name in _DATE_CLAIMS else "",
        ))
    for (where, name), ids in rules.items():
        if where == layer and name not in data:
            rows.append(MemberRow(name=name, value="", absent=True, rules=tuple(ids)))
    return rows


@dataclass(frozen=True)
class TokenAnalysisView:
    """A stored sample-token analysis for the page (the token itself is never kept).

    ``outer``/``inner``: decoded JWE / JWS protected headers; ``claims``: the redacted
    claims set; ``failing``: every finding that blocks or warns; ``not_evaluated``: token
    rules an earlier failure stopped the check before.
    """

    id: int
    passed: bool
    fingerprint: str
    analysed_at: Any
    submitted_by: str
    decryption_kid: str | None
    outer: list[MemberRow]
    inner: list[MemberRow]
    claims: list[MemberRow]
    claims_read: bool
    lifetime: int | None
    failing: list[FindingView]
    passing: list[FindingView]
    not_evaluated: tuple[str, ...]

    @property
    def fingerprint_short(self) -> str:
        return self.fingerprint[:16]

    @property
    def failing_rule_count(self) -> int:
        """How many distinct rules fail or warn."""
        return len({f.rule_id for f in self.failing})

    @property
    def lifetime_text(self) -> str:
        """``"300 s (5 min)"``, or ``""`` when unknown."""
        if self.lifetime is None:
            return ""
        minutes = self.lifetime / 60
        return f"{self.lifetime} s ({minutes:g} min)" if abs(self.lifetime) >= 60 \
            else f"{self.lifetime} s"


def token_analysis_view(record: Any, get_rule: Callable[[str], Any]) -> TokenAnalysisView:
    """The :class:`TokenAnalysisView` of a :class:`~lifecycle.evidence.models.TokenEvidence`."""
    failing, passing = split_findings([Finding.from_dict(d) for d in record.findings or []],
                                      get_rule)
    rules = _rules_by_member(failing)
    return TokenAnalysisView(
        id=record.id, passed=bool(record.passed), fingerprint=record.fingerprint,
        analysed_at=record.created_at, submitted_by=record.submitted_by,
        decryption_kid=record.decryption_kid,
        outer=_member_rows("outer", record.outer_header, rules),
        inner=_member_rows("inner", record.inner_header, rules),
        claims=_member_rows("claims", record.claims, rules),
        claims_read=record.claims is not None,
        lifetime=record.lifetime, failing=failing, passing=passing,
        not_evaluated=tuple(record.not_evaluated or ()),
    )


@dataclass(frozen=True)
class Notice:
    """A one-line outcome shown in an evidence panel (``panel``: ``keys``, ``jwks`` or
    ``tokens``; ``kind``: ``success``, ``info`` or ``error``).  Never holds a token."""

    panel: str
    kind: str
    text: str

    def to_dict(self) -> dict[str, str]:
        return {"panel": self.panel, "kind": self.kind, "text": self.text}


@dataclass(frozen=True)
class EvidencePanel:
    """Everything the "Encryption evidence" area of the version page shows.

    :ivar keys: managed keys, newest first; ``has_current`` when one is current.
    :ivar declared_alg: the spec's ``x-token-encryption.alg`` (what "Generate" uses).
    :ivar jwks_url: absolute URL of the version's public encryption JWKS.
    :ivar jwks: the newest issuer JWKS record (or ``None``) and its key rows.
    :ivar key_failing / key_passing: KEY findings of the issuer JWKS (missing-evidence when
        none was supplied).
    :ivar analyses: every token analysis, newest first; ``selected`` is the one shown.
    :ivar forms: the four forms by name (``generate``, ``rotate``, ``jwks``, ``token``).
    :ivar notices: outcome of the last action by panel.
    """

    version: Any
    keys: list[KeyRow]
    has_current: bool
    declared_alg: str | None
    jwks_url: str
    max_grace_days: float
    read_only: bool
    jwks: Any
    jwks_keys: list[JwksKeyRow]
    key_failing: list[FindingView]
    key_passing: list[FindingView]
    analyses: list[Any]
    selected: TokenAnalysisView | None
    forms: dict[str, Any]
    notices: dict[str, Notice]


# ------------------------------------------------------------------------------ gateway
#: proofs listed on the Gateway panel (the selected one in full, the others as rows)
MAX_LISTED_PROOFS = 6


def config_finding_views(findings: Iterable[Any], files: dict[str, bytes],
                         get_rule: Callable[[str], Any]) -> tuple[list[FindingView],
                                                                  list[FindingView]]:
    """``(failing, quiet)`` views of a gateway configuration's static findings, the failing
    ones with the configuration lines around their ``file``:``line`` (``files``: bundle path →
    bytes, as stored)."""
    failing, quiet = split_findings(findings, get_rule)
    shown = []
    for view in failing:
        text = files.get(view.file or "")
        if text is not None and view.line:
            lines = excerpt_window(text.decode("utf-8", errors="replace"), view.line,
                                   view.column, context=EXCERPT_CONTEXT, width=EXCERPT_WIDTH)
            view = replace(view, excerpt=lines)
        shown.append(view)
    return shown, quiet


@dataclass(frozen=True)
class ProofCaseRow:
    """One attack case of a proof as the table shows it (``observed``: the HTTP status, or
    how the request was refused without one)."""

    id: str
    title: str
    rule: str
    expected: str
    observed: str
    reached_upstream: bool
    authorization_upstream: bool
    passed: bool
    note: str


@dataclass(frozen=True)
class ProofView:
    """A stored gateway proof for the page: when, which nginx, which configuration (SHA-256,
    whether it is the current one), the verdict and the attack table."""

    id: int
    finished_at: Any
    nginx: str
    sha256: str
    current: bool
    passed: bool
    error: str | None
    cases: list[ProofCaseRow]
    log_leaks: list[str]
    created_by: str

    @property
    def sha_short(self) -> str:
        return self.sha256[:12]

    @property
    def passed_count(self) -> int:
        return sum(1 for c in self.cases if c.passed)


def nginx_label(nginx_version: str) -> str:
    """``nginx/1.22.1`` from the ``nginx -V`` text (its first line)."""
    first = (nginx_version or "").splitlines()[0] if nginx_version else ""
    return first.removeprefix("nginx version: ").strip() or "nginx (version unknown)"


def proof_view(proof: Any, current_sha: str | None) -> ProofView:
    """The :class:`ProofView` of a :class:`~lifecycle.gateway.models.GatewayProof`."""
    rows = []
    for c in proof.cases or []:
        status = c.get("observed_status")
        observed = str(status) if isinstance(status, int) else "no HTTP answer"
        rows.append(ProofCaseRow(
            id=str(c.get("id", "")), title=str(c.get("title", "")), rule=str(c.get("rule", "")),
            expected=str(c.get("expected", "")), observed=observed,
            reached_upstream=bool(c.get("reached_upstream")),
            authorization_upstream=bool(c.get("authorization_upstream")),
            passed=bool(c.get("passed")), note=str(c.get("note") or "")))
    return ProofView(id=proof.id, finished_at=proof.finished_at,
                     nginx=nginx_label(proof.nginx_version), sha256=proof.config_sha256,
                     current=current_sha is not None and proof.config_sha256 == current_sha,
                     passed=bool(proof.passed), error=proof.error, cases=rows,
                     log_leaks=list(proof.log_leaks or []), created_by=proof.created_by)


@dataclass(frozen=True)
class GatewayPanel:
    """Everything the Gateway panel of the version page shows.

    :ivar settings: the stored settings row (or ``None``); ``settings_items`` as
        ``(label, value)`` for the read-only list.
    :ivar config: the current configuration (or ``None``); ``download_url`` its download.
    :ivar failing / passing: its static findings (failing ones with configuration lines).
    :ivar proof_finding: ``GW-PROOF`` as the gate sees it (``None`` without a configuration).
    :ivar proven: enforced and proven (the board's badge).
    :ivar proofs: the newest proofs; ``selected`` the one shown with its table.
    :ivar needs_for_generate / needs_for_proof: what to add before the button can work
        (empty: offer it).
    :ivar job: a running or finished proof job of this version (:class:`ProofJobView`).
    """

    version: Any
    settings: Any
    settings_items: list[tuple[str, str]]
    config: Any
    download_url: str | None
    failing: list[FindingView]
    passing: list[FindingView]
    proof_finding: FindingView | None
    proven: bool
    proofs: list[ProofView]
    selected: ProofView | None
    needs_for_generate: list[str]
    needs_for_proof: list[str]
    read_only: bool
    forms: dict[str, Any]
    notices: dict[str, Notice]
    job: Any = None

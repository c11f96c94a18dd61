"""Collecting the findings of one token check, in the order the checks ran."""

from __future__ import annotations

from policies.findings import Finding, Status
from policies.rules import Severity, get_rule

#: ``pass``/``not-applicable`` findings already made, by (rule id, status, message): a
#: :class:`Finding` is immutable, and most of a token's findings are the same passes every
#: time, so each is built once (the gateway validator checks every first-seen token).
_GOOD_FINDINGS: dict[tuple[str, Status, str], Finding] = {}
#: at most this many kept (a message may carry a value of the token; then it is rebuilt)
_GOOD_FINDINGS_MAX = 2048


def _good_finding(rule_id: str, status: Status, message: str) -> Finding:
    key = (rule_id, status, message)
    found = _GOOD_FINDINGS.get(key)
    if found is None:
        found = Finding(rule_id, get_rule(rule_id).severity, status, message)
        if len(_GOOD_FINDINGS) >= _GOOD_FINDINGS_MAX:
            _GOOD_FINDINGS.clear()
        _GOOD_FINDINGS[key] = found
    return found


class Outcome:
    """Findings per rule: every failure, else one ``pass`` (or ``not-applicable``).

    A failure marked ``fatal`` stops the check before the next step that would act on the
    token (cryptography, then claims).
    """

    def __init__(self) -> None:
        self._order: list[str] = []
        self._bad: dict[str, list[Finding]] = {}
        self._good: dict[str, tuple[Status, list[str]]] = {}
        self.fatal = False

    def _touch(self, rule_id: str) -> None:
        if rule_id not in self._bad:
            self._order.append(rule_id)
            self._bad[rule_id] = []

    def fail(self, rule_id: str, message: str, *, pointer: str | None = None,
             severity: Severity | None = None, fatal: bool = True,
             status: Status = Status.FAIL) -> None:
        """Record a failure (or another blocking ``status``) of ``rule_id``."""
        self._touch(rule_id)
        sev = severity or get_rule(rule_id).severity
        self._bad[rule_id].append(Finding(rule_id, sev, status, message, pointer))
        self.fatal = self.fatal or fatal

    def ok(self, rule_id: str, message: str, *, status: Status = Status.PASS) -> None:
        """Record that ``rule_id`` held here (shown only when it failed nowhere)."""
        if rule_id not in self._bad:
            self._order.append(rule_id)
            self._bad[rule_id] = []
        current = self._good.get(rule_id)
        if current is None or (current[0] is Status.NOT_APPLICABLE and status is Status.PASS):
            self._good[rule_id] = (status, [message])
        elif current[0] is status:
            current[1].append(message)

    def failed(self, rule_id: str) -> bool:
        """True when ``rule_id`` has a recorded failure."""
        return bool(self._bad.get(rule_id))

    def blocking(self) -> bool:
        """True when a finding so far blocks at a severity above ``low``."""
        return any(f.status.blocks and f.severity.rank > Severity.LOW.rank
                   for items in self._bad.values() for f in items)

    @property
    def evaluated(self) -> list[str]:
        """Rule ids seen so far, in order."""
        return list(self._order)

    def findings(self) -> list[Finding]:
        """Every failure, and one pass/not-applicable for each rule that did not fail."""
        out: list[Finding] = []
        for rule_id in self._order:
            if self._bad[rule_id]:
                out += self._bad[rule_id]
            elif rule_id in self._good:
                status, messages = self._good[rule_id]
                out.append(_good_finding(rule_id, status, " ".join(messages)))
        return out

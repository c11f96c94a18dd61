"""Rule types and the registry: :class:`Rule`, :class:`Severity`, :class:`Evidence`,
:class:`Source`, :func:`register` / :func:`get_rule` / :func:`all_rules`.

The catalog modules (:mod:`policies.rules` for the spec rules, :mod:`policies.token_rules`
for token and key rules) register their rules here; import :mod:`policies.rules` to have
all of them (it imports :mod:`policies.token_rules`, never the reverse).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    """How bad a failed rule is: ``critical`` > ``high`` > ``medium`` > ``low``."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        """4 for critical … 1 for low; compare ranks, never the strings."""
        return _RANKS[self]


_RANKS = {Severity.CRITICAL: 4, Severity.HIGH: 3, Severity.MEDIUM: 2, Severity.LOW: 1}


class Evidence(StrEnum):
    """The kind of evidence a rule reads (DESIGN.md "Evidence")."""

    SPEC = "spec"  # the uploaded OpenAPI / Swagger document
    TOKEN = "token"  # analysis of sample access tokens (never the raw token)
    JWKS = "jwks"  # issuer signing keys and API encryption keys (public parts)
    GATEWAY = "gateway"  # gateway configuration (nginx, Kong, Envoy)


@dataclass(frozen=True, slots=True)
class Source:
    """A reference that explains why a rule exists: ``label`` and a ``url``."""

    label: str
    url: str


@dataclass(frozen=True, slots=True)
class Rule:
    """One policy rule.

    :ivar id: stable id, ``AREA-NAME`` in capitals (``TRN-HTTPS-ONLY``).
    :ivar title: short name for lists.
    :ivar severity: default severity of a failure (a pack may override it per stage).
    :ivar evidence: the evidence kind the rule reads.
    :ivar description: one sentence: what the rule checks.
    :ivar remediation: how to fix a failure (may contain a YAML snippet).
    :ivar sources: standards and guides the rule rests on.
    """

    id: str
    title: str
    severity: Severity
    evidence: Evidence
    description: str
    remediation: str
    sources: tuple[Source, ...]

    @property
    def help_uri(self) -> str | None:
        """The first source's URL (SARIF ``helpUri``), or ``None``."""
        return self.sources[0].url if self.sources else None


class UnknownRule(KeyError):
    """No rule with this id is in the catalog."""

    def __init__(self, rule_id: str) -> None:
        super().__init__(rule_id)
        self.rule_id = rule_id

    def __str__(self) -> str:
        return f"unknown rule id {self.rule_id!r}"


_CATALOG: dict[str, Rule] = {}


def register(rule: Rule) -> Rule:
    """Add ``rule`` to the catalog.

    :raises ValueError: a rule with the same id is already registered.
    """
    if rule.id in _CATALOG:
        raise ValueError(f"rule {rule.id!r} is already registered")
    _CATALOG[rule.id] = rule
    return rule


def get_rule(rule_id: str) -> Rule:
    """The rule with id ``rule_id``.

    :raises UnknownRule: (a ``KeyError``) no such rule.
    """
    try:
        return _CATALOG[rule_id]
    except KeyError:
        raise UnknownRule(rule_id) from None


def has_rule(rule_id: str) -> bool:
    """True when ``rule_id`` is in the catalog."""
    return rule_id in _CATALOG


def all_rules() -> list[Rule]:
    """Every rule in the catalog, sorted by id."""
    return [_CATALOG[k] for k in sorted(_CATALOG)]


# --------------------------------------------------------------------------- sources
def _rfc(number: int, section: str | None = None) -> Source:
    if section is None:
        return Source(f"RFC {number}", f"https://www.rfc-editor.org/rfc/rfc{number}")
    return Source(
        f"RFC {number} §{section}",
        f"https://www.rfc-editor.org/rfc/rfc{number}#section-{section}",
    )



"""Policy packs: per target stage, which rules apply and what blocks the promotion.

A pack is a YAML file (the built-in ones are in ``policies/packs/``)::

    name: default
    description: ...
    stages:
      testing:                       # the stage an API version is promoted INTO
        apply:
          evidence: [spec]           # every rule that reads this evidence kind
          rules: [TRN-HTTPS-ONLY]    # and/or rules by id
        require: [SPEC-VALID]        # must pass whatever their severity
        block_on: high               # a failed rule of this severity or worse blocks; null: none
        severity_overrides: {TRN-BEARER-HEADER: critical}
        approvals: 1                 # approvals by someone other than the requester (0-10);
                                     # default 1 for deployment, 0 for the other stages

Every gated stage (``development``, ``testing``, ``deployment``, ``retirement``) must be
listed; ``design`` is the initial stage and has no gate.  :func:`load_pack` validates the file
and raises :class:`PackError` with a message naming the offending key.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from policies.findings import Finding
from policies.rules import Evidence, Rule, Severity, all_rules, get_rule, has_rule

#: lifecycle stage ids in order (DESIGN.md "Stages and transitions")
STAGES: tuple[str, ...] = ("design", "development", "testing", "deployment", "retirement")
#: the stage a version starts in; never a promotion target
INITIAL_STAGE = "design"
#: stages entered through a gate, each needing a policy in every pack
GATED_STAGES: tuple[str, ...] = STAGES[1:]

#: directory of the built-in packs
PACKS_DIR = Path(__file__).resolve().parent / "packs"

_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_PACK_KEYS = frozenset({"name", "description", "stages"})
_STAGE_KEYS = frozenset({"description", "apply", "require", "block_on", "severity_overrides",
                         "approvals"})
#: stages whose promotion needs approvals unless the pack says otherwise (four eyes)
DEFAULT_APPROVALS: Mapping[str, int] = MappingProxyType({"deployment": 1})
#: most approvals a stage may ask for
MAX_APPROVALS = 10
_APPLY_KEYS = frozenset({"rules", "evidence"})


class PackError(Exception):
    """A policy pack could not be found or is not valid.

    :ivar message: one sentence naming the pack, the key and the problem.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class StagePolicy:
    """The gate of one target stage.

    :ivar stage: the stage id entered through this gate.
    :ivar rules: rule ids applied explicitly.
    :ivar evidence: evidence kinds whose rules all apply.
    :ivar require: rule ids that must pass whatever their severity (always applied).
    :ivar block_on: lowest blocking severity, or ``None`` (only ``require`` blocks).
    :ivar severity_overrides: rule id → severity used by this gate instead of the finding's.
    :ivar description: text for people.
    :ivar approvals: how many people other than the requester must approve a promotion into
        this stage before it happens (0: none; four-eyes approval, ``lifecycle.approvals``).
    """

    stage: str
    rules: frozenset[str] = frozenset()
    evidence: frozenset[Evidence] = frozenset()
    require: frozenset[str] = frozenset()
    block_on: Severity | None = None
    severity_overrides: Mapping[str, Severity] = field(
        default_factory=lambda: MappingProxyType({})
    )
    description: str = ""
    approvals: int = 0

    def applies(self, rule_id: str) -> bool:
        """True when findings of ``rule_id`` count for this gate."""
        if rule_id in self.rules or rule_id in self.require:
            return True
        return has_rule(rule_id) and get_rule(rule_id).evidence in self.evidence

    def applied_rules(self) -> list[Rule]:
        """The catalog rules this gate evaluates, sorted by id."""
        return [rule for rule in all_rules() if self.applies(rule.id)]

    def severity_of(self, finding: Finding) -> Severity:
        """The severity this gate uses for ``finding`` (override, else the finding's own)."""
        return self.severity_overrides.get(finding.rule_id, finding.severity)


@dataclass(frozen=True, slots=True)
class PolicyPack:
    """A loaded, validated policy pack.

    :ivar name: the pack's ``name``.
    :ivar sha256: hex SHA-256 of the YAML file's bytes (recorded with every gate decision).
    :ivar stages: target stage id → :class:`StagePolicy`, one per gated stage.
    :ivar description: text for people.
    :ivar source: the file the pack was read from.
    """

    name: str
    sha256: str
    stages: Mapping[str, StagePolicy]
    description: str = ""
    source: str = ""

    def stage(self, target: str) -> StagePolicy:
        """The gate of ``target``.

        :raises KeyError: ``target`` is not a gated stage.
        """
        return self.stages[target]


def builtin_packs() -> list[str]:
    """Names of the packs shipped in ``policies/packs/``."""
    return sorted(p.stem for p in PACKS_DIR.glob("*.yaml"))


def load_pack(name_or_path: str | Path) -> PolicyPack:
    """Load and validate a policy pack.

    :param name_or_path: a built-in pack name (``"default"``) or the path of a YAML file.
    :raises PackError: the pack does not exist, is not readable YAML, or is not valid
        (unknown keys, stage ids, rule ids, evidence kinds or severities; a gated stage
        missing).
    """
    path = _pack_path(name_or_path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PackError(f"policy pack {str(name_or_path)!r} could not be read: "
                        f"{exc.strerror or exc}") from None
    return _parse_cached(raw, str(path))


@functools.lru_cache(maxsize=32)
def _parse_cached(raw: bytes, source: str) -> PolicyPack:
    # Reading a small file is cheap and notices edits; parsing and validating it once per
    # content is enough (the board evaluates one gate per card).
    return parse_pack(raw, source=source)


def _pack_path(name_or_path: str | Path) -> Path:
    if isinstance(name_or_path, str) and _NAME.fullmatch(name_or_path):
        path = PACKS_DIR / f"{name_or_path}.yaml"
        if not path.is_file():
            raise PackError(f"there is no built-in policy pack named {name_or_path!r}; "
                            f"built-in packs: {', '.join(builtin_packs())}")
        return path
    return Path(name_or_path)


def parse_pack(raw: bytes, source: str = "<pack>") -> PolicyPack:
    """Validate the YAML bytes of a pack (see :func:`load_pack`).

    :raises PackError: as :func:`load_pack`.
    """
    where = f"policy pack {source}"
    try:
        data = yaml.safe_load(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise PackError(f"{where} is not UTF-8 text") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise PackError(f"{where} is not valid YAML{at}: "
                        f"{getattr(exc, 'problem', None) or exc}") from None
    if not isinstance(data, dict):
        raise PackError(f"{where} must be a mapping with `name` and `stages`")
    _no_unknown_keys(data, _PACK_KEYS, where)
    name = data.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise PackError(f"{where}: `name` must be a lower-case slug such as 'default', "
                        f"not {name!r}")
    stages = data.get("stages")
    if not isinstance(stages, dict):
        raise PackError(f"{where}: `stages` must be a mapping of target stage → gate")
    parsed: dict[str, StagePolicy] = {}
    for stage, spec in stages.items():
        if stage == INITIAL_STAGE:
            raise PackError(f"{where}: `design` is the initial stage and has no gate; remove it")
        if stage not in GATED_STAGES:
            raise PackError(f"{where}: unknown stage {stage!r}; stages are "
                            f"{', '.join(GATED_STAGES)}")
        parsed[stage] = _parse_stage(stage, spec, f"{where}: stage {stage!r}")
    missing = [s for s in GATED_STAGES if s not in parsed]
    if missing:
        raise PackError(f"{where}: no gate for stage(s) {', '.join(missing)}; every gated stage "
                        "must be listed (use `block_on: null` for an open gate)")
    description = data.get("description") or ""
    if not isinstance(description, str):
        raise PackError(f"{where}: `description` must be text")
    return PolicyPack(
        name=name,
        sha256=hashlib.sha256(raw).hexdigest(),
        stages=MappingProxyType({s: parsed[s] for s in GATED_STAGES}),
        description=description.strip(),
        source=source,
    )


def _parse_stage(stage: str, spec: Any, where: str) -> StagePolicy:
    if spec is None:
        spec = {}
    if not isinstance(spec, dict):
        raise PackError(f"{where} must be a mapping")
    _no_unknown_keys(spec, _STAGE_KEYS, where)
    apply = spec.get("apply") or {}
    if not isinstance(apply, dict):
        raise PackError(f"{where}: `apply` must be a mapping with `rules` and/or `evidence`")
    _no_unknown_keys(apply, _APPLY_KEYS, f"{where}: apply")
    rules = _rule_ids(apply.get("rules"), f"{where}: apply.rules")
    evidence = frozenset(
        _enum(Evidence, value, f"{where}: apply.evidence", "evidence kind")
        for value in _string_list(apply.get("evidence"), f"{where}: apply.evidence")
    )
    require = _rule_ids(spec.get("require"), f"{where}: require")
    block_on = spec.get("block_on")
    severity = None if block_on is None else _enum(
        Severity, block_on, f"{where}: block_on", "severity")
    overrides_raw = spec.get("severity_overrides") or {}
    if not isinstance(overrides_raw, dict):
        raise PackError(f"{where}: `severity_overrides` must map rule ids to severities")
    overrides = {
        rule_id: _enum(Severity, value, f"{where}: severity_overrides.{rule_id}", "severity")
        for rule_id, value in overrides_raw.items()
        if _known_rule(rule_id, f"{where}: severity_overrides")
    }
    description = spec.get("description") or ""
    if not isinstance(description, str):
        raise PackError(f"{where}: `description` must be text")
    approvals = spec.get("approvals", DEFAULT_APPROVALS.get(stage, 0))
    if not isinstance(approvals, int) or isinstance(approvals, bool) or \
            not 0 <= approvals <= MAX_APPROVALS:
        raise PackError(f"{where}: `approvals` must be a whole number from 0 to "
                        f"{MAX_APPROVALS}, not {approvals!r}")
    return StagePolicy(stage, rules, evidence, require, severity,
                       MappingProxyType(overrides), description.strip(), approvals)


def _no_unknown_keys(mapping: Mapping[Any, Any], allowed: frozenset[str], where: str) -> None:
    unknown = [str(k) for k in mapping if k not in allowed]
    if unknown:
        raise PackError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; allowed: "
                        f"{', '.join(sorted(allowed))}")


def _string_list(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PackError(f"{where} must be a list of strings")
    return value


def _known_rule(rule_id: Any, where: str) -> bool:
    if not isinstance(rule_id, str) or not has_rule(rule_id):
        known = ", ".join(r.id for r in all_rules())
        raise PackError(f"{where}: unknown rule id {rule_id!r}; known rules: {known}")
    return True


def _rule_ids(value: Any, where: str) -> frozenset[str]:
    ids = _string_list(value, where)
    for rule_id in ids:
        _known_rule(rule_id, where)
    return frozenset(ids)


def _enum(kind: type[Any], value: Any, where: str, label: str) -> Any:
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(str(m) for m in kind)
        raise PackError(f"{where}: {value!r} is not a {label}; use one of {allowed}") from None

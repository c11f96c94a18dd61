"""The lifecycle stages of an API version and the pure rules for moving between them.

Nothing here touches the database: :func:`plan` takes the current stage, the wanted stage and
the reason, and either returns the :class:`Move` to make or raises :class:`InvalidTransition`.
The rules (DESIGN.md "Stages and transitions"):

- **promotion**: exactly one stage forward; gated by the target stage's policy gate;
- **demotion**: to any earlier stage, never out of ``retirement``; a reason is mandatory;
  not gated;
- **retirement** from ``deployment``: the next stage, so a gated promotion (sunset policy);
  from ``design``/``development``/``testing``: "abandoned", reason mandatory, not gated;
- ``retirement`` is terminal.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from lifecycle.core.errors import InvalidTransition

DESIGN = "design"
DEVELOPMENT = "development"
TESTING = "testing"
DEPLOYMENT = "deployment"
RETIREMENT = "retirement"

#: stage ids in lifecycle order
STAGES: tuple[str, ...] = (DESIGN, DEVELOPMENT, TESTING, DEPLOYMENT, RETIREMENT)

#: the stage a new version starts in
INITIAL_STAGE = DESIGN

#: longest accepted reason, characters
MAX_REASON = 2000


class Kind(StrEnum):
    """What a transition is, as recorded on :class:`lifecycle.catalog.models.Transition`."""

    PROMOTION = "promotion"
    DEMOTION = "demotion"
    RETIREMENT = "retirement"


@dataclass(frozen=True, slots=True)
class Move:
    """An allowed move: ``gated`` says whether the target stage's gate must pass first."""

    from_stage: str
    to_stage: str
    kind: Kind
    gated: bool
    reason: str | None


def index(stage: str) -> int:
    """Position of ``stage`` in :data:`STAGES` (``design`` is 0).

    :raises ValueError: not a stage id.
    """
    return STAGES.index(stage)


def next_stage(stage: str) -> str | None:
    """The stage after ``stage``, or ``None`` for ``retirement`` (terminal)."""
    i = index(stage)
    return STAGES[i + 1] if i + 1 < len(STAGES) else None


def previous_stages(stage: str) -> tuple[str, ...]:
    """Stages a version in ``stage`` may be demoted to (none from ``retirement``)."""
    if stage == RETIREMENT:
        return ()
    return STAGES[: index(stage)]


def plan(from_stage: str, to_stage: str, reason: str | None = None) -> Move:
    """Decide how a version in ``from_stage`` may move to ``to_stage``.

    :param reason: free text; surrounding blanks are removed and an empty reason counts as
        none.  Mandatory for demotions and for abandoning (retirement before deployment).
    :returns: the :class:`Move`; the caller still has to pass the gate when ``gated``.
    :raises InvalidTransition: unknown stage, same stage, a skip forward, a move out of
        ``retirement``, a missing or too long reason.
    """
    reason = (reason or "").strip() or None
    if to_stage not in STAGES:
        raise InvalidTransition(
            f"Unknown stage {to_stage!r}; expected one of {', '.join(STAGES)}.",
            from_stage, to_stage,
        )
    if reason is not None and len(reason) > MAX_REASON:
        raise InvalidTransition(
            f"The reason is too long (at most {MAX_REASON} characters).", from_stage, to_stage
        )
    if from_stage == RETIREMENT:
        raise InvalidTransition(
            "The version is retired; retirement is terminal.", from_stage, to_stage
        )
    if to_stage == from_stage:
        raise InvalidTransition(f"The version is already in {to_stage}.", from_stage, to_stage)

    step = index(to_stage) - index(from_stage)
    if to_stage == RETIREMENT:
        if from_stage == DEPLOYMENT:
            return Move(from_stage, to_stage, Kind.RETIREMENT, gated=True, reason=reason)
        if reason is None:
            raise InvalidTransition(
                f"Retiring a version from {from_stage} abandons it; give a reason.",
                from_stage, to_stage,
            )
        return Move(from_stage, to_stage, Kind.RETIREMENT, gated=False, reason=reason)
    if step == 1:
        return Move(from_stage, to_stage, Kind.PROMOTION, gated=True, reason=reason)
    if step > 1:
        raise InvalidTransition(
            f"Promotion goes one stage at a time: from {from_stage} the next stage is "
            f"{next_stage(from_stage)}, not {to_stage}.",
            from_stage, to_stage,
        )
    if reason is None:
        raise InvalidTransition(
            f"Demoting from {from_stage} to {to_stage} needs a reason.", from_stage, to_stage
        )
    return Move(from_stage, to_stage, Kind.DEMOTION, gated=False, reason=reason)

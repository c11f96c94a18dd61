"""The board's read: one page of version cards from the stored summaries, filtered and
ordered in SQL, and the count per stage.

Two queries whatever the number of versions — one while nothing shown has changed
(:mod:`lifecycle.review.board_cache`): the counts per stage (one ``GROUP BY``) and the
page (``LIMIT``/``OFFSET`` over versions ⋈ APIs ⋈ teams ⋈ summaries with an ``EXISTS`` for a
pending promotion request).  No revision, finding or evidence row is loaded: a card shows the
API's name, title and team, the version, its stage and the summary's verdict.

Attention order (what needs someone first), then API name, then version id:

0. ``blocked`` — a spec is uploaded and the gate into the next stage blocks;
1. ``approval`` — a promotion request waits for approvals;
2. ``expiring`` — the verdict changes by the clock within :data:`EXPIRING_SOON`
   (a waiver expiring, token evidence ageing out);
3. everything else (ready, no spec yet, in production, retired, not yet summarised).

Lives in ``review`` (not ``gates``) because it reads promotion requests.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from lifecycle.accounts.models import Team
from lifecycle.catalog import services as catalog
from lifecycle.catalog import stages
from lifecycle.catalog.models import Api, ApiVersion
from lifecycle.core.errors import ValidationFailed
from lifecycle.core.extensions import db
from lifecycle.gates.models import VersionSummary
from lifecycle.review import board_cache
from lifecycle.review.models import PromotionRequest

#: a verdict changing by the clock within this long counts as "expiring"
EXPIRING_SOON = timedelta(days=7)
#: default and largest page sizes (cards / list items)
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
#: longest accepted cursor (ASCII digits)
MAX_CURSOR_DIGITS = 9

ATTENTION_LABELS = ("blocked", "approval", "expiring", None)


@dataclass(frozen=True, slots=True)
class CardRow:
    """What one board card shows (plain values; nothing lazy-loads).

    ``badge``: ``pass``, ``blocked``, ``none`` (no spec), ``production``, ``final``
    (retired) or ``pending`` (no summary yet); ``attention``: ``blocked``, ``approval``,
    ``expiring`` or ``None``; ``proven``: the gateway is *enforced and proven* (the summary's
    ``proven_until`` is after the board's ``now``; never for a retired version);
    ``awaiting_approval``: a promotion request is pending (also when the card is blocked,
    which sorts first); ``failing_rules``: distinct rules that fail; ``missing_evidence``: the
    evidence kinds whose absence blocks (sorted).
    """

    api: str
    title: str
    team: str | None
    version: str
    stage: str
    badge: str
    next_stage: str | None
    blocking: int
    blocking_failed: int
    blocking_missing: int
    valid_until: datetime | None
    attention: str | None
    proven: bool = False
    awaiting_approval: bool = False
    failing_rules: int = 0
    missing_evidence: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class BoardPage:
    """A page of cards, the counts per stage (filtered by the name query, not the stage
    filter), ``total`` matching versions, and the ``offset`` of the next page (``None``: last
    page) and of the previous one (``None``: first page)."""

    cards: list[CardRow]
    counts: dict[str, int]
    total: int
    offset: int
    limit: int
    next_offset: int | None
    prev_offset: int | None


def parse_paging(limit: str | None, cursor: str | None) -> tuple[int, int]:
    """``(limit, offset)`` from query parameters: ``limit`` 1–:data:`MAX_LIMIT` (default
    :data:`DEFAULT_LIMIT`), ``cursor`` ASCII digits (an offset from an earlier ``next``
    link; default 0).

    :raises ValidationFailed: a limit or cursor that is not such a number.
    """
    errors = {}
    size = DEFAULT_LIMIT
    offset = 0
    if limit not in (None, ""):
        text = str(limit)
        if text.isascii() and text.isdigit() and len(text) <= 3 and 1 <= int(text) <= MAX_LIMIT:
            size = int(text)
        else:
            errors["limit"] = f"Use a whole number from 1 to {MAX_LIMIT}."
    if cursor not in (None, ""):
        text = str(cursor)
        if text.isascii() and text.isdigit() and len(text) <= MAX_CURSOR_DIGITS:
            offset = int(text)
        else:
            errors["cursor"] = "Use the cursor of a next link (ASCII digits)."
    if errors:
        raise ValidationFailed(errors)
    return size, offset


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _matching(query: str | None) -> list[sa.ColumnElement[bool]]:
    if not query or not query.strip():
        return []
    pattern = "%" + _escape_like(query.strip().lower()) + "%"
    return [sa.or_(sa.func.lower(Api.name).like(pattern, escape="\\"),
                   sa.func.lower(Api.title).like(pattern, escape="\\"),
                   sa.func.lower(ApiVersion.version).like(pattern, escape="\\"))]


def stage_counts(query: str | None = None) -> dict[str, int]:
    """Versions per stage (every stage listed, 0 when empty) matching ``query`` (one
    ``GROUP BY``)."""
    stmt = (sa.select(ApiVersion.stage, sa.func.count())
            .join(Api, Api.id == ApiVersion.api_id)
            .where(*_matching(query))
            .group_by(ApiVersion.stage))
    counts = dict.fromkeys(stages.STAGES, 0)
    for stage, count in db.session.execute(stmt):
        counts[stage] = int(count)
    return counts


def board_page(*, query: str | None = None, stage: str | None = None,
               limit: int = DEFAULT_LIMIT, offset: int = 0,
               now: datetime) -> BoardPage:
    """One page of the board, attention first (see the module docstring).

    :param query: case-insensitive substring of the API name, title or version string.
    :param stage: only versions in this stage.
    :param limit: cards per page (1–:data:`MAX_LIMIT`).
    :param offset: cards skipped (from a cursor).
    :param now: the time "expiring soon" is judged from.
    :raises ValidationFailed: unknown stage.
    """
    if stage and stage not in stages.STAGES:
        raise ValidationFailed({"stage": f"Unknown stage; use one of {', '.join(stages.STAGES)}."})
    limit = max(1, min(MAX_LIMIT, limit))
    return board_cache.cached(("page", query, stage, limit, offset), now,
                              lambda: _board_page(query, stage, limit, offset, now))


def _board_page(query: str | None, stage: str | None, limit: int, offset: int,
                now: datetime) -> BoardPage:
    counts = stage_counts(query)
    total = counts.get(stage, 0) if stage else sum(counts.values())
    pending = (sa.select(PromotionRequest.id)
               .where(PromotionRequest.version_id == ApiVersion.id,
                      PromotionRequest.state == "pending")
               .exists())
    active = ApiVersion.stage.notin_((stages.DEPLOYMENT, stages.RETIREMENT))
    attention = sa.case(
        (sa.and_(active, VersionSummary.revision_id.is_not(None),
                 VersionSummary.passed.is_(False)), 0),
        (pending, 1),
        (sa.and_(VersionSummary.valid_until.is_not(None),
                 VersionSummary.valid_until <= now + EXPIRING_SOON,
                 ApiVersion.stage != stages.RETIREMENT), 2),
        else_=3,
    ).label("attention")
    stmt = (sa.select(Api.name, Api.title, Team.name, ApiVersion.version, ApiVersion.stage,
                      VersionSummary.version_id, VersionSummary.passed,
                      VersionSummary.revision_id, VersionSummary.blocking,
                      VersionSummary.blocking_failed, VersionSummary.blocking_missing,
                      VersionSummary.valid_until, attention, VersionSummary.proven_until,
                      pending.label("awaiting"), VersionSummary.failing_rules,
                      VersionSummary.missing_evidence)
            .join(Api, Api.id == ApiVersion.api_id)
            .outerjoin(Team, Team.id == Api.team_id)
            .outerjoin(VersionSummary, VersionSummary.version_id == ApiVersion.id)
            .where(*_matching(query))
            .order_by(attention, Api.name, ApiVersion.id)
            .limit(limit).offset(offset))
    if stage:
        stmt = stmt.where(ApiVersion.stage == stage)
    cards = [_card(row, now) for row in db.session.execute(stmt)]
    return BoardPage(
        cards=cards, counts=counts, total=total, offset=offset, limit=limit,
        next_offset=offset + limit if offset + limit < total else None,
        prev_offset=max(0, offset - limit) if offset > 0 else None,
    )


def _card(row: sa.Row, now: datetime) -> CardRow:  # type: ignore[type-arg]
    (name, title, team, version, stage, summarised, passed, revision_id, blocking, failed,
     missing, valid_until, attention, proven_until, awaiting, failing_rules,
     missing_kinds) = row
    target = stages.next_stage(stage)
    if target is None:
        badge = "final"
    elif stage == stages.DEPLOYMENT:
        badge = "production"
    elif summarised is None:
        badge = "pending"
    elif revision_id is None:
        badge = "none"
    else:
        badge = "pass" if passed else "blocked"
    return CardRow(api=name, title=title, team=team, version=version, stage=stage,
                   badge=badge, next_stage=target, blocking=int(blocking or 0),
                   blocking_failed=int(failed or 0), blocking_missing=int(missing or 0),
                   valid_until=valid_until, attention=ATTENTION_LABELS[int(attention)],
                   proven=proven_until is not None and target is not None
                   and proven_until > now,
                   awaiting_approval=bool(awaiting), failing_rules=int(failing_rules or 0),
                   missing_evidence=tuple((missing_kinds or "").split()))


@dataclass(frozen=True, slots=True)
class ApiChoice:
    """An API the board's New-version form offers (``team_id``: what the team check reads)."""

    name: str
    title: str
    team_id: int | None


def api_choices(team_ids: Iterable[int] | None, limit: int, now: datetime) -> list[ApiChoice]:
    """The New-version form's APIs by name (of ``team_ids``; ``None``: every API), at most
    ``limit`` — read through the board's cache like the cards (an API created, renamed or
    moved to another team changes the generation)."""
    teams = None if team_ids is None else tuple(sorted(team_ids))
    return board_cache.cached(
        ("api-choices", teams, limit), now,
        lambda: [ApiChoice(row.name, row.title, row.team_id)
                 for row in catalog.api_choices(teams, limit=limit)])

"""What waits for whom: the pending promotion requests an approver may decide (four eyes:
not their own, not decided by them yet) and the requests a person made.

One query per list (requests ⋈ versions ⋈ APIs ⋈ stored summaries, newest first, bounded by
``limit``) and one ``COUNT`` for the navigation's number; nothing is evaluated per row: the
gate status shown is the version's stored summary (:mod:`lifecycle.gates.summary`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from lifecycle.catalog.models import Api, ApiVersion
from lifecycle.core.extensions import db
from lifecycle.gates.models import VersionSummary
from lifecycle.review.models import Approval, PromotionRequest

#: most rows listed per list (the page says when there are more)
MAX_LISTED = 100


@dataclass(frozen=True, slots=True)
class InboxRow:
    """One promotion request as the inbox lists it (plain values).

    ``stage`` is the version's stage now (the request is stale when it left ``from_stage``);
    ``gate_passed`` is the stored verdict of the version's next gate (``None``: not yet
    summarised); ``failing_rules`` / ``missing_evidence`` say what blocks it.
    """

    id: int
    api: str
    title: str
    version: str
    stage: str
    from_stage: str
    to_stage: str
    requested_by: str
    reason: str | None
    created_at: datetime
    state: str
    closed_at: datetime | None
    required_approvals: int
    approvals: int
    gate_passed: bool | None
    failing_rules: int
    missing_evidence: tuple[str, ...]


def _is(column: sa.ColumnElement[str] | Any, person: str) -> sa.ColumnElement[bool]:
    """``column`` names ``person`` (emails compared trimmed and case-insensitively)."""
    return sa.func.lower(sa.func.trim(column)) == person.strip().lower()


def _awaiting_criteria(approver: str) -> list[sa.ColumnElement[bool]]:
    """Pending requests ``approver`` may decide: not requested by them (four eyes) and not
    decided by them already (an approval or a rejection)."""
    decided = (sa.select(Approval.id)
               .where(Approval.request_id == PromotionRequest.id,
                      _is(Approval.approver, approver))
               .exists())
    return [PromotionRequest.state == "pending",
            ~_is(PromotionRequest.requested_by, approver), ~decided]


def awaiting_count(approver: str) -> int:
    """How many pending requests ``approver`` (an email) may decide (one ``COUNT``)."""
    stmt = sa.select(sa.func.count(PromotionRequest.id)).where(*_awaiting_criteria(approver))
    return int(db.session.execute(stmt).scalar_one())


def _rows(criteria: list[sa.ColumnElement[bool]], limit: int) -> list[InboxRow]:
    given = (sa.select(sa.func.count(Approval.id))
             .where(Approval.request_id == PromotionRequest.id, Approval.decision == "approve")
             .scalar_subquery())
    stmt = (sa.select(PromotionRequest.id, Api.name, Api.title, ApiVersion.version,
                      ApiVersion.stage, PromotionRequest.from_stage, PromotionRequest.to_stage,
                      PromotionRequest.requested_by, PromotionRequest.reason,
                      PromotionRequest.created_at, PromotionRequest.state,
                      PromotionRequest.closed_at, PromotionRequest.required_approvals, given,
                      VersionSummary.passed, VersionSummary.failing_rules,
                      VersionSummary.missing_evidence)
            .join(ApiVersion, ApiVersion.id == PromotionRequest.version_id)
            .join(Api, Api.id == ApiVersion.api_id)
            .outerjoin(VersionSummary, VersionSummary.version_id == ApiVersion.id)
            .where(*criteria)
            .order_by(PromotionRequest.created_at.desc(), PromotionRequest.id.desc())
            .limit(max(1, min(MAX_LISTED, limit))))
    return [InboxRow(id=r[0], api=r[1], title=r[2], version=r[3], stage=r[4], from_stage=r[5],
                     to_stage=r[6], requested_by=r[7], reason=r[8], created_at=r[9],
                     state=r[10], closed_at=r[11], required_approvals=int(r[12]),
                     approvals=int(r[13] or 0), gate_passed=r[14],
                     failing_rules=int(r[15] or 0),
                     missing_evidence=tuple((r[16] or "").split()))
            for r in db.session.execute(stmt)]


def awaiting(approver: str, limit: int = MAX_LISTED) -> list[InboxRow]:
    """The pending requests ``approver`` may decide, newest first (at most ``limit``,
    capped at :data:`MAX_LISTED`)."""
    return _rows(_awaiting_criteria(approver), limit)


def requested_by(person: str, limit: int = MAX_LISTED) -> list[InboxRow]:
    """The requests ``person`` made (every state), newest first (at most ``limit``)."""
    return _rows([_is(PromotionRequest.requested_by, person)], limit)

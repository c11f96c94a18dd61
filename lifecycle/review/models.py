"""Review models: promotion requests and the approvers' decisions (four eyes)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lifecycle.catalog.models import ApiVersion, CheckRun, Transition
from lifecycle.catalog.stages import STAGES
from lifecycle.core.db import AppendOnly, UTCDateTime, utcnow
from lifecycle.core.db import in_ as _in
from lifecycle.core.extensions import db

#: states of a :class:`PromotionRequest`
REQUEST_STATES: tuple[str, ...] = ("pending", "approved", "rejected", "superseded", "blocked")
#: what an :class:`Approval` decided
APPROVAL_DECISIONS: tuple[str, ...] = ("approve", "reject")


class PromotionRequest(db.Model):  # type: ignore[name-defined,misc]
    """A request to move a version into a stage that needs approvals
    (:mod:`lifecycle.review.approvals`).

    ``state``: ``pending`` (waiting for approvals; at most one per version), ``approved``
    (the approvals were reached and the transition happened: ``transition_id``),
    ``rejected``, ``superseded`` (a newer request, or the version moved meanwhile) or
    ``blocked`` (the approvals were reached but the gate failed at that moment).
    ``check_run_id`` is the gate evaluated when it was requested; ``required_approvals`` the
    pack's count at that time.
    """

    __tablename__ = "promotion_request"
    __table_args__ = (
        sa.CheckConstraint(_in("state", REQUEST_STATES), name="state"),
        sa.CheckConstraint(_in("from_stage", STAGES), name="from_stage"),
        sa.CheckConstraint(_in("to_stage", STAGES), name="to_stage"),
        sa.CheckConstraint("required_approvals >= 1", name="required_positive"),
        sa.Index("uq_promotion_request_one_pending", "version_id", unique=True,
                 sqlite_where=sa.text("state = 'pending'"),
                 postgresql_where=sa.text("state = 'pending'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(sa.ForeignKey("api_version.id"), index=True)
    from_stage: Mapped[str] = mapped_column(sa.String(20))
    to_stage: Mapped[str] = mapped_column(sa.String(20))
    reason: Mapped[str | None] = mapped_column(sa.Text)
    requested_by: Mapped[str] = mapped_column(sa.String(320))
    state: Mapped[str] = mapped_column(sa.String(12), default="pending")
    required_approvals: Mapped[int] = mapped_column(default=1)
    check_run_id: Mapped[int] = mapped_column(sa.ForeignKey("check_run.id"))
    transition_id: Mapped[int | None] = mapped_column(sa.ForeignKey("transition.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    api_version: Mapped[ApiVersion] = relationship()
    check_run: Mapped[CheckRun] = relationship(foreign_keys=[check_run_id])
    transition: Mapped[Transition | None] = relationship()
    decisions: Mapped[list[Approval]] = relationship(
        back_populates="request", order_by="Approval.id"
    )

    @property
    def approvals(self) -> list[Approval]:
        """The approvals given (not the rejections), oldest first."""
        return [d for d in self.decisions if d.decision == "approve"]

    def __repr__(self) -> str:
        return f"<PromotionRequest {self.id} {self.to_stage} {self.state}>"


class Approval(AppendOnly, db.Model):  # type: ignore[name-defined,misc]
    """One approver's decision on a :class:`PromotionRequest` (append-only): ``approve`` or
    ``reject``, with a comment.  One decision per approver and request."""

    __tablename__ = "approval"
    __table_args__ = (
        sa.UniqueConstraint("request_id", "approver", name="uq_approval_request_id_approver"),
        sa.CheckConstraint(_in("decision", APPROVAL_DECISIONS), name="decision"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(sa.ForeignKey("promotion_request.id"), index=True)
    approver: Mapped[str] = mapped_column(sa.String(320))
    decision: Mapped[str] = mapped_column(sa.String(8))
    comment: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    request: Mapped[PromotionRequest] = relationship(back_populates="decisions")


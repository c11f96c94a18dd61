"""The :class:`Job` row: one piece of long work, its state, progress and result."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from lifecycle.core.db import UTCDateTime
from lifecycle.core.extensions import db


class JobState(StrEnum):
    """``queued`` → ``running`` → ``succeeded`` | ``failed``."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def done(self) -> bool:
        """True once the job will not change any more."""
        return self in (JobState.SUCCEEDED, JobState.FAILED)


class Job(db.Model):  # type: ignore[name-defined,misc]
    """One piece of long work (a large upload's check, a gateway proof, a log ingestion).

    The row is written in the same transaction as the change that asked for the work, so a
    rolled-back request leaves no job; the work itself runs later in a worker (procrastinate
    on PostgreSQL) or a background thread (embedded mode).

    :ivar id: random hex id (it appears in URLs).
    :ivar kind: the task name (``spec.check``), see :func:`lifecycle.jobs.task`.
    :ivar subject: what the job is about, e.g. ``payments@1.0.0`` (for listings and locks).
    :ivar payload: the task's JSON arguments (ids and options; never secrets).
    :ivar input: bytes the task reads once (an uploaded document); cleared when done.
    :ivar progress: 0–100 percent; ``message`` says what is happening.
    :ivar result: the task's JSON result (e.g. the revision it made and its URL).
    :ivar error: ``{"code", "message"}`` of a failed job.
    """

    __tablename__ = "job"
    __table_args__ = (
        sa.CheckConstraint("state IN ('queued', 'running', 'succeeded', 'failed')",
                           name="state"),
        sa.CheckConstraint("progress BETWEEN 0 AND 100", name="progress_range"),
    )

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(64))
    subject: Mapped[str] = mapped_column(sa.String(200), index=True)
    state: Mapped[str] = mapped_column(sa.String(12), default=JobState.QUEUED.value)
    progress: Mapped[int] = mapped_column(sa.Integer, default=0)
    message: Mapped[str] = mapped_column(sa.String(200), default="Waiting for a worker")
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    input: Mapped[bytes | None] = mapped_column(sa.LargeBinary, deferred=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    error: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    created_by: Mapped[str] = mapped_column(sa.String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)

    @property
    def job_state(self) -> JobState:
        """:attr:`state` as a :class:`JobState`."""
        return JobState(self.state)

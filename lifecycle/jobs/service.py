"""Submitting, running and reading jobs; the task registry.

A feature that has long work registers a task (``@task("spec.check")``), a request submits a
job (``submit(...)``: a :class:`~lifecycle.jobs.models.Job` row plus a deferral, both in the
request's transaction) and answers at once; a worker runs :func:`run_job`.  The task reports
progress through its :class:`JobContext` and returns a JSON result, or raises
:class:`JobFailed` with a message for the user.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa

from lifecycle.core.extensions import db
from lifecycle.jobs.models import Job, JobState

log = logging.getLogger(__name__)

#: ``(job context) -> JSON result``
TaskFunction = Callable[["JobContext"], dict[str, Any]]
Clock = Callable[[], datetime]

_TASKS: dict[str, TaskFunction] = {}

#: ``(now) -> None``: work a periodic tick runs (each in its own transaction)
PeriodicFunction = Callable[[datetime], Any]
_PERIODIC: dict[str, PeriodicFunction] = {}


def task(name: str) -> Callable[[TaskFunction], TaskFunction]:
    """Register ``fn`` as the task ``name`` (``area.verb``, e.g. ``spec.check``).

    :raises ValueError: the name is taken by another function.
    """

    def register(fn: TaskFunction) -> TaskFunction:
        if _TASKS.get(name, fn) is not fn:
            raise ValueError(f"task {name!r} is already registered")
        _TASKS[name] = fn
        return fn

    return register


def periodic(name: str) -> Callable[[PeriodicFunction], PeriodicFunction]:
    """Register ``fn(now)`` to run on every periodic tick (procrastinate's periodic task on
    PostgreSQL, every minute; the embedded thread's tick on SQLite, ``JOBS_TICK_SECONDS``).
    It must be idempotent and commit its own work.

    :raises ValueError: the name is taken by another function.
    """

    def register(fn: PeriodicFunction) -> PeriodicFunction:
        if _PERIODIC.get(name, fn) is not fn:
            raise ValueError(f"periodic task {name!r} is already registered")
        _PERIODIC[name] = fn
        return fn

    return register


def run_periodic(clock: Clock) -> dict[str, bool]:
    """Run every registered periodic function once (inside an app context); one failing is
    logged and rolled back and does not stop the others.

    :returns: ``{name: succeeded}``.
    """
    outcome: dict[str, bool] = {}
    for name, fn in sorted(_PERIODIC.items()):
        try:
            fn(clock())
            db.session.commit()
            outcome[name] = True
        except Exception:
            db.session.rollback()
            log.exception("periodic task %s failed", name)
            outcome[name] = False
    return outcome


class JobFailed(Exception):
    """Raised by a task to fail its job with a message for the user (``code``: machine
    readable, e.g. ``spec_unreadable``)."""

    def __init__(self, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details


class Backend(Protocol):
    """Where deferred jobs go: procrastinate (PostgreSQL) or the embedded thread."""

    def defer(self, job: Job) -> None:
        """Arrange for ``job`` to run once the current transaction commits (and never when
        it rolls back)."""


@dataclass
class JobContext:
    """What a running task sees: its job's ``payload``, ``input`` bytes and ``actor``, the
    ``clock``, and :meth:`progress`."""

    job_id: str
    kind: str
    subject: str
    payload: dict[str, Any]
    input: bytes | None
    actor: str
    clock: Clock
    _last: int = field(default=-1, repr=False)

    def progress(self, percent: int, message: str) -> None:
        """Record progress (0–100 percent) in a short transaction of its own, so pages
        polling the job see it while the task's own work is still uncommitted."""
        percent = max(0, min(100, int(percent)))
        if percent == self._last:
            return
        self._last = percent
        with db.engine.begin() as connection:
            connection.execute(sa.update(Job).where(Job.id == self.job_id)
                               .values(progress=percent, message=message[:200]))


def submit(kind: str, *, subject: str, actor: str, now: datetime, backend: Backend,
           payload: dict[str, Any] | None = None, data: bytes | None = None) -> Job:
    """Add a job for task ``kind`` to the current transaction (the caller commits).

    :param subject: what it is about (``payments@1.0.0``).
    :param actor: who asked (an email, ``cli`` or ``system``).
    :param payload: JSON arguments (ids, options; never secrets).
    :param data: bytes the task reads once (an uploaded document).
    :raises KeyError: no task ``kind`` is registered.
    """
    if kind not in _TASKS:
        raise KeyError(f"no task {kind!r}")
    job = Job(id=secrets.token_hex(16), kind=kind, subject=subject[:200],
              state=JobState.QUEUED.value, progress=0, message="Waiting for a worker",
              payload=dict(payload or {}), input=data, created_by=actor[:320],
              created_at=now, attempts=0)
    db.session.add(job)
    db.session.flush()
    backend.defer(job)
    return job


def get_job(job_id: str) -> Job | None:
    """The job ``job_id`` (at most 32 hex characters), or ``None``."""
    if not job_id or len(job_id) > 32:
        return None
    return db.session.get(Job, job_id)


def run_job(job_id: str, clock: Clock) -> JobState | None:
    """Run job ``job_id`` inside an app context (a worker's or the embedded thread's).

    Claims the job (``queued`` → ``running``; a job left ``running`` by a crashed worker is
    run again: tasks are idempotent), runs its task, stores the result or the error.
    Never raises for a task's failure: an unexpected exception fails the job with a generic
    message and is logged with its traceback (never shown).

    :returns: the final state, or ``None`` when there is no such job or it was already done.
    """
    claimed = db.session.execute(
        sa.update(Job)
        .where(Job.id == job_id, Job.state.in_((JobState.QUEUED.value, JobState.RUNNING.value)))
        .values(state=JobState.RUNNING.value, started_at=clock(), attempts=Job.attempts + 1,
                message="Running")
        .execution_options(synchronize_session=False))
    db.session.commit()
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return None
    job = db.session.get(Job, job_id)
    assert job is not None
    context = JobContext(job_id=job.id, kind=job.kind, subject=job.subject,
                         payload=dict(job.payload), input=job.input, actor=job.created_by,
                         clock=clock)
    fn = _TASKS.get(job.kind)
    try:
        if fn is None:
            raise JobFailed("unknown_task", f"This server has no task {job.kind!r}.")
        result = fn(context)
    except JobFailed as exc:
        db.session.rollback()
        return _finish(job_id, clock, JobState.FAILED,
                       error={"code": exc.code, "message": exc.message, "details": exc.details})
    except Exception:
        db.session.rollback()
        log.exception("job %s (%s) stopped on an unexpected error", job_id, job.kind)
        return _finish(job_id, clock, JobState.FAILED,
                       error={"code": "internal_error",
                              "message": "The job stopped on an unexpected error; the server "
                                         "log has the details.", "details": None})
    db.session.commit()
    return _finish(job_id, clock, JobState.SUCCEEDED, result=result)


def _finish(job_id: str, clock: Clock, state: JobState, *, result: dict[str, Any] | None = None,
            error: dict[str, Any] | None = None) -> JobState:
    message = "Done" if state is JobState.SUCCEEDED else "Failed"
    db.session.execute(
        sa.update(Job).where(Job.id == job_id)
        .values(state=state.value, finished_at=clock(), result=result, error=error,
                input=None, message=message,
                progress=100 if state is JobState.SUCCEEDED else Job.progress)
        .execution_options(synchronize_session=False))
    db.session.commit()
    return state


def unfinished_job_ids() -> list[str]:
    """Ids of jobs still queued or running, oldest first (the embedded runner picks them up
    again after a restart)."""
    return list(db.session.execute(
        sa.select(Job.id).where(Job.state.in_((JobState.QUEUED.value, JobState.RUNNING.value)))
        .order_by(Job.created_at)).scalars())

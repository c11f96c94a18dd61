"""Long work as jobs: a large upload's check, a gateway proof, a log ingestion.

::

    from lifecycle import jobs

    @jobs.task("spec.check")
    def check(ctx: jobs.JobContext) -> dict: ...          # progress: ctx.progress(40, "…")

    job = jobs.submit("spec.check", subject="payments@1.0.0", actor=email, now=now,
                      data=raw)                             # in the request's transaction
    db.session.commit()                                     # the job exists and will run

On PostgreSQL the job runs in ``stagegate worker`` (procrastinate); on SQLite in a
background thread of the serving process.  Either way a job that was never committed never
runs.  ``GET /api/v1/jobs/{id}`` and the job fragment show state, progress and the result.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Flask, current_app

from lifecycle.jobs import service
from lifecycle.jobs.backends import ProcrastinateBackend, ThreadBackend, serve_worker
from lifecycle.jobs.models import Job, JobState
from lifecycle.jobs.service import (
    JobContext,
    JobFailed,
    get_job,
    periodic,
    run_job,
    run_periodic,
    task,
)

__all__ = ["Job", "JobContext", "JobFailed", "JobState", "backend", "get_job", "init_app",
           "periodic", "run_job", "run_periodic", "serve_worker", "submit", "task"]

_EXTENSION = "stagegate.jobs"


def init_app(app: Flask) -> None:
    """Choose the backend: ``JOBS_BACKEND`` (``procrastinate`` or ``thread``), by default
    procrastinate on PostgreSQL and the thread otherwise."""
    choice = app.config.get("JOBS_BACKEND")
    if choice is None:
        uri = str(app.config.get("SQLALCHEMY_DATABASE_URI", ""))
        choice = "procrastinate" if uri.startswith("postgresql") else "thread"
    if choice not in ("procrastinate", "thread"):
        raise ValueError(f"JOBS_BACKEND must be procrastinate or thread, not {choice!r}")
    tick = float(app.config.get("JOBS_TICK_SECONDS", 60) or 0)
    app.extensions[_EXTENSION] = (ProcrastinateBackend() if choice == "procrastinate"
                                  else ThreadBackend(app, tick))
    if choice == "thread" and tick > 0:
        app.before_request(_start_embedded)


def _start_embedded() -> None:
    """Start the embedded thread (and its periodic tick) with the first request served."""
    found = current_app.extensions.get(_EXTENSION)
    if isinstance(found, ThreadBackend):
        found.start()


def backend() -> ProcrastinateBackend | ThreadBackend:
    """The current app's backend."""
    return current_app.extensions[_EXTENSION]  # type: ignore[no-any-return]


def submit(kind: str, *, subject: str, actor: str, now: datetime,
           payload: dict[str, Any] | None = None, data: bytes | None = None) -> Job:
    """:func:`lifecycle.jobs.service.submit` with the current app's backend."""
    return service.submit(kind, subject=subject, actor=actor, now=now, backend=backend(),
                          payload=payload, data=data)

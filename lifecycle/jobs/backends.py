"""Where jobs run: procrastinate on PostgreSQL (scaled mode), a background thread on SQLite
(embedded mode).  Both defer inside the caller's transaction and run the same
:func:`lifecycle.jobs.service.run_job`.

- :class:`ProcrastinateBackend` writes procrastinate's job row through the request's own
  database connection (``Task.configure(connection=…)``), so a rolled-back transition leaves
  no job; ``stagegate worker`` runs them (scale-notes: the worker needs the async connector).
- :class:`ThreadBackend` queues the job id when the session commits (nothing on rollback)
  and one daemon thread per app runs them in order; jobs left unfinished by a previous
  process are picked up when the thread starts.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import procrastinate
from flask import Flask
from sqlalchemy import event
from sqlalchemy.orm import Session

from lifecycle.core.db import utcnow
from lifecycle.core.extensions import db
from lifecycle.jobs.models import Job
from lifecycle.jobs.service import run_job, run_periodic, unfinished_job_ids

log = logging.getLogger(__name__)

#: procrastinate's queue for Stagegate's jobs
QUEUE = "stagegate"
_PENDING = "stagegate.jobs.pending"


# ---------------------------------------------------------------------------- procrastinate
#: The procrastinate app.  Its connector is only used by ``stagegate worker`` (replaced with
#: the async connector there); the web side always defers on the request's own connection.
procrastinate_app = procrastinate.App(connector=procrastinate.SyncPsycopgConnector())

#: the Flask app whose context the worker runs jobs in (set by :func:`serve_worker`)
_worker_flask_app: Flask | None = None


@procrastinate_app.task(name="stagegate.run_job", queue=QUEUE, pass_context=False)
def run_job_task(job_id: str) -> None:
    """procrastinate's entry: run Stagegate job ``job_id`` in the worker's app context."""
    flask_app = _worker_flask_app
    if flask_app is None:
        raise RuntimeError("the worker has no Flask app; start it with `stagegate worker`")
    with flask_app.app_context():
        try:
            run_job(job_id, _clock(flask_app))
        finally:
            db.session.remove()


@procrastinate_app.periodic(cron="* * * * *", periodic_id="stagegate.tick")
@procrastinate_app.task(name="stagegate.tick", queue=QUEUE, pass_context=False,
                        queueing_lock="stagegate.tick")
def tick_task(timestamp: int) -> None:
    """procrastinate's periodic entry (every minute, deferred by ``stagegate worker``): run
    the registered periodic functions (:func:`lifecycle.jobs.service.periodic`)."""
    flask_app = _worker_flask_app
    if flask_app is None:
        raise RuntimeError("the worker has no Flask app; start it with `stagegate worker`")
    with flask_app.app_context():
        try:
            run_periodic(_clock(flask_app))
        finally:
            db.session.remove()


class ProcrastinateBackend:
    """Defers jobs as procrastinate rows in the request's transaction (PostgreSQL only)."""

    def defer(self, job: Job) -> None:
        """Insert procrastinate's job row on the session's own connection; one job per
        subject runs at a time (procrastinate ``lock``)."""
        driver_connection = db.session.connection().connection.driver_connection
        run_job_task.configure(connection=driver_connection, lock=job.subject).defer(
            job_id=job.id)


def serve_worker(flask_app: Flask, *, conninfo: str, concurrency: int = 1,
                 wait: bool = True) -> None:
    """Run the procrastinate worker for Stagegate's queue until interrupted (``stagegate
    worker``); with ``wait=False`` it stops when the queue is empty (tests).

    :param conninfo: a libpq connection string for the same database as the app's.
    """
    global _worker_flask_app
    _worker_flask_app = flask_app
    # replace (not with_connector): the periodic tick's deferrer defers through its task's
    # own app, which must hold the async connector while the worker runs
    with procrastinate_app.replace_connector(
            procrastinate.PsycopgConnector(conninfo=conninfo)) as worker_app:
        worker_app.run_worker(queues=[QUEUE], concurrency=concurrency, wait=wait,
                              install_signal_handlers=wait, listen_notify=wait)


# ---------------------------------------------------------------------------- embedded thread
class ThreadBackend:
    """Runs jobs in one background thread of this process (SQLite, ``make run``)."""

    def __init__(self, flask_app: Flask, tick_seconds: float = 0) -> None:
        self._app = flask_app
        self._tick = tick_seconds
        self._queue: queue.Queue[str] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def defer(self, job: Job) -> None:
        """Queue ``job`` once the current session commits."""
        db.session.info.setdefault(_PENDING, []).append((self, job.id))

    def push(self, job_id: str) -> None:
        """Hand a committed job to the thread (started on first use)."""
        self._ensure_thread()
        self._queue.put(job_id)

    def start(self) -> None:
        """Start the thread now (it also starts on the first job); with a tick it then runs
        the periodic functions every ``tick_seconds``."""
        self._ensure_thread()

    def join(self, timeout: float = 30.0) -> None:
        """Wait until every queued job has run (tests; never in a request)."""
        done = threading.Event()

        def waiter() -> None:
            self._queue.join()
            done.set()

        threading.Thread(target=waiter, daemon=True).start()
        if not done.wait(timeout):
            raise TimeoutError(f"jobs still running after {timeout} s")

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._run, name="stagegate-jobs",
                                            daemon=True)
            self._thread.start()
            with self._app.app_context():
                try:
                    for job_id in unfinished_job_ids():
                        self._queue.put(job_id)
                finally:
                    db.session.remove()

    def _run(self) -> None:
        next_tick = time.monotonic() + self._tick
        while True:
            if self._tick > 0 and time.monotonic() >= next_tick:
                next_tick = time.monotonic() + self._tick
                self._run_tick()
            try:
                job_id = self._queue.get(
                    timeout=max(0.05, next_tick - time.monotonic()) if self._tick > 0 else None)
            except queue.Empty:
                continue
            try:
                with self._app.app_context():
                    try:
                        run_job(job_id, _clock(self._app))
                    finally:
                        db.session.remove()
            except Exception:
                log.exception("job %s could not be run", job_id)
            finally:
                self._queue.task_done()


    def _run_tick(self) -> None:
        try:
            with self._app.app_context():
                try:
                    run_periodic(_clock(self._app))
                finally:
                    db.session.remove()
        except Exception:
            log.exception("the periodic tick could not be run")


@event.listens_for(Session, "after_commit")
def _hand_over(session: Session) -> None:
    for backend, job_id in session.info.pop(_PENDING, ()):
        backend.push(job_id)


@event.listens_for(Session, "after_soft_rollback")
def _drop(session: Session, previous_transaction: Any) -> None:
    session.info.pop(_PENDING, None)


def _clock(flask_app: Flask) -> Callable[[], datetime]:
    configured = flask_app.config.get("CLOCK")
    if callable(configured):
        return configured  # type: ignore[no-any-return]
    return utcnow

"""The job queue: a committed job runs (thread on SQLite, procrastinate worker on
PostgreSQL), a rolled-back one never exists, progress and failures are recorded."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from lifecycle import jobs
from lifecycle.core.extensions import db
from lifecycle.jobs.backends import ThreadBackend

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
SEEN: list[dict[str, Any]] = []


@jobs.task("test.echo")
def _echo(ctx: jobs.JobContext) -> dict[str, Any]:
    ctx.progress(50, "Half way")
    SEEN.append({"payload": ctx.payload, "input": ctx.input, "actor": ctx.actor})
    return {"echo": ctx.payload, "bytes": len(ctx.input or b"")}


@jobs.task("test.refuse")
def _refuse(ctx: jobs.JobContext) -> dict[str, Any]:
    raise jobs.JobFailed("not_today", "This job says no.")


@jobs.task("test.crash")
def _crash(ctx: jobs.JobContext) -> dict[str, Any]:
    raise RuntimeError("internal detail that must not reach the user")


def _submit(kind: str, **payload: Any) -> str:
    job = jobs.submit(kind, subject="payments@1.0.0", actor="dev@example.org", now=NOW,
                      payload=payload, data=b"document bytes")
    return job.id


def _work_off(app: Flask, conninfo: str) -> None:
    """Run the procrastinate worker until the queue is empty, in a thread of its own: the
    worker runs an asyncio loop, and Playwright (browser tests in the same session) keeps one
    running in the main thread."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            jobs.serve_worker(app, conninfo=conninfo, wait=False)
        except BaseException as exc:  # noqa: BLE001 - reported below, in the test's thread
            errors.append(exc)

    worker = threading.Thread(target=run, name="test-worker")
    worker.start()
    worker.join(timeout=120)
    assert not worker.is_alive(), "the worker did not finish the queue within 120 s"
    assert not errors, errors


def _job(app: Flask, job_id: str) -> jobs.Job | None:
    with app.app_context():
        db.session.expire_all()
        return jobs.get_job(job_id)


class TestEmbeddedThread:
    @pytest.fixture
    def threaded(self, app: Flask) -> Flask:
        app.config["JOBS_BACKEND"] = "thread"
        jobs.init_app(app)
        return app

    def _join(self, app: Flask) -> None:
        backend = app.extensions["stagegate.jobs"]
        assert isinstance(backend, ThreadBackend)
        backend.join()

    def test_a_committed_job_runs_in_the_background_and_keeps_its_result(self, threaded):
        with threaded.app_context():
            job_id = _submit("test.echo", n=1)
            db.session.commit()
        self._join(threaded)
        job = _job(threaded, job_id)
        assert job is not None and job.state == "succeeded"
        assert job.result == {"echo": {"n": 1}, "bytes": 14}
        assert job.progress == 100 and job.finished_at is not None
        with threaded.app_context():
            raw = db.session.execute(sa.select(jobs.Job.input).where(
                jobs.Job.id == job_id)).scalar_one()
        assert raw is None, "the input bytes are dropped once the job is done"

    def test_a_rolled_back_job_never_exists_and_never_runs(self, threaded):
        SEEN.clear()
        with threaded.app_context():
            job_id = _submit("test.echo", n=2)
            db.session.rollback()
            marker = _submit("test.echo", n=3)
            db.session.commit()
        self._join(threaded)
        assert _job(threaded, job_id) is None
        assert [s["payload"] for s in SEEN] == [{"n": 3}]
        assert _job(threaded, marker).state == "succeeded"

    def test_a_task_failure_is_recorded_with_its_message(self, threaded):
        with threaded.app_context():
            job_id = _submit("test.refuse")
            db.session.commit()
        self._join(threaded)
        job = _job(threaded, job_id)
        assert job.state == "failed"
        assert job.error == {"code": "not_today", "message": "This job says no.",
                             "details": None}

    def test_an_unexpected_error_fails_the_job_without_showing_internals(self, threaded):
        with threaded.app_context():
            job_id = _submit("test.crash")
            db.session.commit()
        self._join(threaded)
        job = _job(threaded, job_id)
        assert job.state == "failed" and job.error["code"] == "internal_error"
        assert "internal detail" not in str(job.error)

    def test_an_unknown_task_is_refused_at_submission(self, threaded):
        with threaded.app_context(), pytest.raises(KeyError):
            _submit("test.nothing")


@pytest.mark.postgres
class TestProcrastinate:
    @pytest.fixture
    def queued(self, postgres: Flask) -> Flask:
        postgres.config["JOBS_BACKEND"] = "procrastinate"
        jobs.init_app(postgres)
        return postgres

    def _procrastinate_rows(self, app: Flask, job_id: str) -> int:
        with app.app_context():
            return db.session.execute(sa.text(
                "SELECT count(*) FROM procrastinate_jobs WHERE args->>'job_id' = :id"),
                {"id": job_id}).scalar_one()

    def _conninfo(self, app: Flask) -> str:
        with app.app_context():
            return db.engine.url.set(drivername="postgresql").render_as_string(
                hide_password=False)

    def test_a_committed_job_is_a_procrastinate_row_and_the_worker_runs_it(self, queued):
        with queued.app_context():
            job_id = _submit("test.echo", n=4)
            db.session.commit()
        assert self._procrastinate_rows(queued, job_id) == 1
        assert _job(queued, job_id).state == "queued"
        _work_off(queued, self._conninfo(queued))
        job = _job(queued, job_id)
        assert job.state == "succeeded" and job.result["echo"] == {"n": 4}

    def test_a_rolled_back_transaction_leaves_neither_job_nor_queue_row(self, queued):
        with queued.app_context():
            job_id = _submit("test.echo", n=5)
            db.session.rollback()
        assert self._procrastinate_rows(queued, job_id) == 0
        assert _job(queued, job_id) is None

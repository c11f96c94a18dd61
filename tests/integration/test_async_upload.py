"""Long work through the job queue (issue 8.1, acceptance 1): ``PUT …/spec`` with
``Prefer: respond-async`` answers 202 and a job, ``GET /api/v1/jobs/{id}`` shows its state,
progress and then the revision; the job runs in the embedded thread (SQLite) or a real
``stagegate worker`` process (PostgreSQL); a failed request leaves no job; large web uploads
show a status fragment polled until done."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from accountkit import DEVELOPER_EMAIL
from documents import ORDERS_PATHS, compliant
from flask import Flask

from lifecycle import jobs
from lifecycle.accounts import authz
from lifecycle.catalog import services, tasks
from lifecycle.core.errors import Conflict
from lifecycle.core.extensions import db
from lifecycle.jobs.backends import ThreadBackend
from lifecycle.jobs.service import JobContext, run_job

V = "/api/v1/apis/orders/versions/3.2.0"
PAGE = "/apis/orders/versions/3.2.0"
DOC = compliant("Orders", "orders", ORDERS_PATHS, version="3.2.0").encode()
ASYNC = {"Prefer": "respond-async"}
STAGEGATE = Path(sys.executable).with_name("stagegate")


@pytest.fixture
def orders(client):
    """API ``orders`` (team Checkout) with version 3.2.0, no document yet."""
    assert client.post("/api/v1/apis", json={"name": "orders", "title": "Orders API",
                                             "team": "Checkout"}).status_code == 201
    assert client.post("/api/v1/apis/orders/versions",
                       json={"version": "3.2.0"}).status_code == 201
    return client


@pytest.fixture
def threaded(app: Flask) -> Flask:
    """The embedded mode's background thread, on SQLite and on PostgreSQL alike."""
    app.config["JOBS_BACKEND"] = "thread"
    jobs.init_app(app)
    return app


def _join(app: Flask) -> None:
    backend = app.extensions["stagegate.jobs"]
    assert isinstance(backend, ThreadBackend)
    backend.join()


def _accepted(response: Any) -> dict[str, Any]:
    assert response.status_code == 202, response.get_data(as_text=True)
    body = response.get_json()
    assert response.headers["Location"] == f"/api/v1/jobs/{body['id']}"
    assert response.headers["Preference-Applied"] == "respond-async"
    assert body["kind"] == "spec.check" and body["subject"] == "orders@3.2.0"
    # the answer is read after the commit: the embedded thread may have started already
    assert body["state"] in ("queued", "running", "succeeded", "failed")
    return body


def _job_count(app: Flask) -> int:
    with app.app_context():
        return db.session.execute(sa.select(sa.func.count()).select_from(jobs.Job)).scalar_one()


@pytest.mark.usefixtures("threaded")
class TestEmbedded:
    def test_respond_async_answers_202_and_the_thread_stores_the_revision(self, app, orders):
        body = _accepted(orders.put(V + "/spec", data=DOC, content_type="application/yaml",
                                    headers=ASYNC))
        _join(app)
        job = orders.get(body["url"]).get_json()
        assert job["state"] == "succeeded" and job["progress"] == 100
        assert job["message"] == "Done" and job["error"] is None
        assert job["created_at"] and job["started_at"] and job["finished_at"]
        assert job["result"]["revision"] == 1 and job["result"]["created"] is True
        assert job["result"]["url"] == "/api/v1/apis/orders/versions/3.2.0"
        version = orders.get(job["result"]["url"]).get_json()
        assert [r["number"] for r in version["revisions"]] == [1]
        assert job["created_by"] == DEVELOPER_EMAIL  # the token's user, not the process
        assert version["revisions"][0]["uploaded_by"] == DEVELOPER_EMAIL

    def test_without_the_preference_the_answer_stays_synchronous(self, app, orders):
        r = orders.put(V + "/spec", data=DOC, content_type="application/yaml",
                       headers={"Prefer": "return=minimal"})
        assert r.status_code == 201 and "Preference-Applied" not in r.headers
        assert r.get_json()["revision"]["number"] == 1
        assert _job_count(app) == 0

    def test_the_preference_is_found_among_others_in_any_case(self, app, orders):
        _accepted(orders.put(V + "/spec", data=DOC, content_type="application/yaml",
                             headers={"Prefer": "wait=10, Respond-Async"}))
        _join(app)

    def test_an_unreadable_document_fails_the_job_with_the_synchronous_code(self, app, orders):
        body = _accepted(orders.put(V + "/spec", data=b"openapi: [unclosed",
                                    content_type="application/yaml", headers=ASYNC))
        _join(app)
        job = orders.get(body["url"]).get_json()
        assert job["state"] == "failed" and job["result"] is None
        sync = orders.put(V + "/spec", data=b"openapi: [unclosed",
                          content_type="application/yaml")
        assert sync.status_code == 422
        assert job["error"] == {"code": "spec_unreadable", **{
            k: sync.get_json()[k2] for k, k2 in (("message", "message"),
                                                 ("details", "details"))}}
        assert orders.get(V).get_json()["revisions"] == []

    def test_an_unknown_version_is_refused_before_any_job(self, app, orders):
        r = orders.put("/api/v1/apis/orders/versions/9.9.9/spec", data=DOC,
                       content_type="application/yaml", headers=ASYNC)
        assert r.status_code == 404
        assert _job_count(app) == 0

    def test_a_document_over_the_limit_is_refused_as_synchronously_and_nothing_queued(
            self, app, orders):
        app.config["SPEC_MAX_BYTES"] = 2000
        big = DOC + b"#" * 3000
        r = orders.put(V + "/spec", data=big, content_type="application/yaml", headers=ASYNC)
        sync = orders.put(V + "/spec", data=big, content_type="application/yaml")
        assert (r.status_code, r.get_json()) == (413, sync.get_json())
        assert r.get_json()["details"]["code"] == "too_large"
        assert _job_count(app) == 0

    def test_an_unknown_job_is_404_and_anonymous_callers_401(self, app, orders, anon):
        assert orders.get("/api/v1/jobs/" + "0" * 32).status_code == 404
        assert orders.get("/api/v1/jobs/" + "x" * 80).status_code == 404
        assert anon.get("/api/v1/jobs/" + "0" * 32).status_code == 401

    def test_any_reader_may_follow_the_job(self, app, orders, auth):
        body = _accepted(orders.put(V + "/spec", data=DOC, content_type="application/yaml",
                                    headers=ASYNC))
        _join(app)
        viewer = auth.client("viewer")
        assert viewer.get(body["url"]).get_json()["state"] == "succeeded"

    def test_a_viewer_may_not_queue_an_upload(self, app, orders, auth):
        viewer = auth.client("viewer")
        r = viewer.put(V + "/spec", data=DOC, content_type="application/yaml", headers=ASYNC)
        assert r.status_code == 403
        assert _job_count(app) == 0


def test_the_check_reports_load_validate_rules_store_in_order(threaded, orders, monkeypatch):
    """The task reports upload_spec's steps as progress (each in its own short transaction)."""
    seen: list[tuple[int, str]] = []
    original = JobContext.progress

    def record(self: JobContext, percent: int, message: str) -> None:
        seen.append((percent, message))
        original(self, percent, message)

    monkeypatch.setattr(JobContext, "progress", record)
    body = _accepted(orders.put(V + "/spec", data=DOC, content_type="application/yaml",
                                headers=ASYNC))
    _join(threaded)
    assert [m for _, m in seen] == ["Starting"] + [m for _, m in services.UPLOAD_STEPS.values()]
    assert [p for p, _ in seen] == sorted(p for p, _ in seen)
    assert orders.get(body["url"]).get_json()["state"] == "succeeded"


@pytest.mark.outside_contract
def test_a_request_that_fails_after_submitting_leaves_no_job(app, client, monkeypatch):
    """The job row (and, on PostgreSQL, procrastinate's row) belong to the request's
    transaction: a request that fails after submitting leaves neither."""
    monkeypatch.setitem(authz.ENDPOINTS, "submit_then_fail", authz.Requirement("read"))
    submitted: list[str] = []

    def submit_then_fail() -> Any:
        job = jobs.submit(tasks.SPEC_CHECK, subject="orders@3.2.0", actor=DEVELOPER_EMAIL,
                          now=services.utcnow(), payload={"api": "orders", "version": "3.2.0"},
                          data=DOC)
        submitted.append(job.id)
        raise Conflict("Something after the submission went wrong.")

    app.add_url_rule("/submit-then-fail", "submit_then_fail", submit_then_fail,
                     methods=["POST"])
    assert client.post("/submit-then-fail").status_code == 409
    assert len(submitted) == 1
    assert _job_count(app) == 0
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            rows = db.session.execute(sa.text(
                "SELECT count(*) FROM procrastinate_jobs WHERE args->>'job_id' = :id"),
                {"id": submitted[0]}).scalar_one()
            assert rows == 0


# ------------------------------------------------------------------------------ web
BIG = DOC + b"\n# padding so the upload is over the threshold\n" + b"#" * 4000 + b"\n"


@pytest.fixture
def held(threaded, monkeypatch):
    """Jobs stay queued (the embedded thread is not handed them) until the test runs them
    with :func:`run_job`; large web uploads start at 1,000 bytes."""
    threaded.config["SPEC_ASYNC_BYTES"] = 1000
    monkeypatch.setattr(ThreadBackend, "push", lambda self, job_id: None)
    return threaded


def _only_job(app: Flask) -> str:
    with app.app_context():
        return db.session.execute(sa.select(jobs.Job.id)).scalar_one()


def _run(app: Flask, job_id: str) -> None:
    with app.app_context():
        run_job(job_id, services.utcnow)
        db.session.remove()


class TestWeb:
    def test_a_large_plain_upload_shows_the_job_with_a_refresh_until_done(self, held, orders):
        r = orders.post(PAGE + "/spec", data={"spec_text": BIG.decode()})
        assert r.status_code == 303
        job_id = _only_job(held)
        assert r.headers["Location"] == f"{PAGE}?job={job_id}"
        page = orders.get(r.headers["Location"]).get_data(as_text=True)
        assert "Checking the uploaded document in the background" in page
        assert '<noscript><meta http-equiv="refresh" content="2"></noscript>' in page
        assert f'href="{PAGE}?job={job_id}">Refresh</a>' in page
        assert f'hx-get="/jobs/{job_id}" hx-trigger="load delay:500ms"' in page
        _run(held, job_id)
        page = orders.get(r.headers["Location"]).get_data(as_text=True)
        assert "Revision 1 stored and checked." in page
        assert 'http-equiv="refresh"' not in page and "hx-trigger=\"load delay" not in page

    def test_the_polled_fragment_reloads_itself_then_the_version(self, held, orders):
        htmx = {"HX-Request": "true"}
        r = orders.post(PAGE + "/spec", data={"spec_text": BIG.decode()}, headers=htmx)
        assert r.status_code == 200
        job_id = _only_job(held)
        fragment = r.get_data(as_text=True)
        assert fragment.startswith('<div id="version"')
        assert f'hx-get="/jobs/{job_id}" hx-trigger="load delay:500ms"' in fragment
        polled = orders.get(f"/jobs/{job_id}", headers=htmx).get_data(as_text=True)
        assert polled.lstrip().startswith('<div id="job"') and "delay:500ms" in polled
        _run(held, job_id)
        done = orders.get(f"/jobs/{job_id}", headers=htmx).get_data(as_text=True)
        assert "delay:500ms" not in done
        assert f'hx-get="{PAGE}?job={job_id}" hx-trigger="load" hx-target="#version"' in done
        version = orders.get(f"{PAGE}?job={job_id}", headers=htmx).get_data(as_text=True)
        assert "Revision 1 stored and checked." in version
        assert 'hx-trigger="load" hx-target="#version"' not in version  # no reload loop

    def test_a_large_upload_over_the_limit_is_refused_at_once(self, held, orders):
        held.config["SPEC_MAX_BYTES"] = 3000
        r = orders.post(PAGE + "/spec", data={"spec_text": BIG.decode()})
        assert r.status_code == 422
        page = r.get_data(as_text=True)
        assert 'data-load-error data-code="too_large"' in page
        assert "the limit is 3,000 bytes" in page
        assert _job_count(held) == 0

    def test_a_small_upload_stays_synchronous(self, held, orders):
        r = orders.post(PAGE + "/spec", data={"spec_text": DOC.decode()})
        assert r.status_code == 303 and "job=" not in r.headers["Location"]
        assert _job_count(held) == 0

    def test_a_plain_request_for_the_fragment_goes_to_the_page(self, held, orders):
        orders.post(PAGE + "/spec", data={"spec_text": BIG.decode()})
        job_id = _only_job(held)
        r = orders.get(f"/jobs/{job_id}")
        assert r.status_code == 303 and r.headers["Location"] == f"{PAGE}?job={job_id}"
        assert orders.get("/jobs/unknown", headers={"HX-Request": "true"}).status_code == 404

    def test_another_versions_job_is_not_shown(self, held, orders):
        orders.post(PAGE + "/spec", data={"spec_text": BIG.decode()})
        job_id = _only_job(held)
        orders.post("/api/v1/apis/orders/versions", json={"version": "4.0.0"})
        page = orders.get(f"/apis/orders/versions/4.0.0?job={job_id}").get_data(as_text=True)
        assert "in the background" not in page


# ------------------------------------------------------------------------------ PostgreSQL
@pytest.mark.postgres
def test_a_real_stagegate_worker_runs_the_job(postgres, orders, database_url, tmp_path):
    """202, the job waits in the queue, ``stagegate worker`` (a subprocess on the test
    database) runs it, and the job page shows the revision."""
    assert postgres.extensions["stagegate.jobs"].__class__.__name__ == "ProcrastinateBackend"
    body = _accepted(orders.put(V + "/spec", data=DOC, content_type="application/yaml",
                                headers=ASYNC))
    job = orders.get(body["url"]).get_json()
    assert job["state"] == "queued" and job["message"] == "Waiting for a worker"
    env = {**os.environ, "DATABASE_URL": database_url, "STAGEGATE_SECRET_KEY": "worker-test",
           "STAGEGATE_KEY_ENCRYPTION_KEY": postgres.config["KEY_ENCRYPTION_KEY"]}
    log_path = tmp_path / "worker.log"
    with log_path.open("w") as log:
        worker = subprocess.Popen([str(STAGEGATE), "worker"], env=env, stdout=log,
                                  stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                job = orders.get(body["url"]).get_json()
                if job["state"] in ("succeeded", "failed") or worker.poll() is not None:
                    break
                time.sleep(0.2)
        finally:
            worker.terminate()  # SIGTERM: procrastinate stops gracefully
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
    output = log_path.read_text()
    assert job["state"] == "succeeded", (job, output)
    assert job["progress"] == 100 and job["result"]["revision"] == 1
    assert orders.get(job["result"]["url"]).get_json()["revisions"][0]["number"] == 1
    with postgres.app_context():
        status = db.session.execute(sa.text(
            "SELECT status FROM procrastinate_jobs WHERE args->>'job_id' = :id"),
            {"id": body["id"]}).scalar_one()
    assert status == "succeeded"


def test_stagegate_worker_refuses_sqlite_in_one_line(tmp_path):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite'}",
           "STAGEGATE_SECRET_KEY": "worker-test"}
    done = subprocess.run([str(STAGEGATE), "worker"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "needs PostgreSQL" in done.stderr and "Traceback" not in done.stderr

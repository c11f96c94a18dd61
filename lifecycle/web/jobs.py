"""Long work on the pages: the job status fragment, polled the htmx way until done.

A large upload (over ``SPEC_ASYNC_BYTES``) runs as a ``spec.check`` job
(:mod:`lifecycle.catalog.tasks`); the version page then shows :func:`job_view` in its upload
panel.  While the job runs, the fragment reloads itself (``hx-get`` of :func:`job_status`
with ``hx-trigger="load delay:500ms"``, swapping itself ``outerHTML``); once done it loads the
version fragment again, which lists the new revision.  Without JavaScript the page carries a
``<meta http-equiv="refresh">`` in ``<noscript>`` and a "Refresh" link.

A gateway proof (the Gateway panel's "Run proof") is a ``gateway.prove`` job shown the same
way by :func:`proof_job_view` (``_partials/gateway_job.html``, ``#gateway-job``); once done it
loads the version fragment, whose Gateway panel shows the new proof's attack table.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, redirect, render_template, url_for
from werkzeug.wrappers import Response as BaseResponse

from lifecycle import jobs
from lifecycle.catalog import tasks
from lifecycle.core.errors import NotFound
from lifecycle.gateway.services import PROVE_TASK
from lifecycle.web.errors import wants_fragment

#: seconds between plain-page refreshes (no JavaScript)
REFRESH_SECONDS = 2


@dataclass(frozen=True, slots=True)
class JobView:
    """What the job fragment shows.

    :ivar page_url: the version page showing this job (the no-JavaScript refresh target).
    :ivar status_url: the fragment's own URL (polled while running).
    :ivar revision: the revision number a successful ``spec.check`` stored, else ``None``.
    :ivar error_code: a failed check's load-error code (``syntax``, ``too_large``, …, as the
        synchronous upload's ``load_error``), with its 1-based ``error_line`` and
        ``error_column`` when known; ``None`` otherwise.
    """

    id: str
    state: str
    progress: int
    message: str
    done: bool
    revision: int | None
    created: bool
    error: str | None
    page_url: str
    status_url: str
    version_fragment_url: str
    error_code: str | None = None
    error_line: int | None = None
    error_column: int | None = None


def job_view(job: jobs.Job) -> JobView:
    """The :class:`JobView` of a ``spec.check`` job."""
    name, version = str(job.payload.get("api", "")), str(job.payload.get("version", ""))
    result = job.result or {}
    failure = job.error or {}
    details = failure.get("details")
    where = details if isinstance(details, dict) else {}
    page = url_for("web.version_page", name=name, version=version, job=job.id)
    return JobView(
        id=job.id, state=job.state, progress=job.progress, message=job.message,
        done=job.job_state.done,
        revision=_int_or_none(result.get("revision")),
        created=bool(result.get("created")), error=failure.get("message"), page_url=page,
        status_url=url_for("web.job_status", job_id=job.id), version_fragment_url=page,
        error_code=_text_or_none(where.get("code")), error_line=_int_or_none(where.get("line")),
        error_column=_int_or_none(where.get("column")))


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def version_job(name: str, version: str, job_id: str | None) -> JobView | None:
    """The view of job ``job_id`` when it is a ``spec.check`` of ``name`` ``version``
    (anything else — unknown, another version's — shows nothing)."""
    job = jobs.get_job(job_id) if job_id else None
    if job is None or job.kind != tasks.SPEC_CHECK or \
            job.subject != tasks.subject_of(name, version):
        return None
    return job_view(job)


@dataclass(frozen=True, slots=True)
class ProofJobView:
    """What the proof job fragment shows.

    :ivar proof: the stored proof's id once the job succeeded, else ``None``; ``passed``,
        ``cases`` and ``failed`` its verdict and counts.
    :ivar page_url: the version page showing this job (refresh target, at ``#gateway``).
    :ivar status_url: the fragment's own URL (polled while running).
    :ivar version_fragment_url: the version page loaded into ``#version`` when done.
    """

    id: str
    state: str
    progress: int
    message: str
    done: bool
    proof: int | None
    passed: bool
    cases: int
    failed: int
    error: str | None
    page_url: str
    status_url: str
    version_fragment_url: str


def proof_job_view(job: jobs.Job) -> ProofJobView:
    """The :class:`ProofJobView` of a ``gateway.prove`` job (its subject is
    ``name@version``)."""
    name, _, version = job.subject.partition("@")
    result = job.result or {}
    error = (job.error or {}).get("message") if job.error else None
    page = url_for("web.version_page", name=name, version=version, gwjob=job.id)
    proof = result.get("proof")
    return ProofJobView(
        id=job.id, state=job.state, progress=job.progress, message=job.message,
        done=job.job_state.done, proof=proof if isinstance(proof, int) else None,
        passed=bool(result.get("passed")), cases=int(result.get("cases") or 0),
        failed=int(result.get("failed") or 0), error=error or result.get("error"),
        page_url=page + "#gateway", status_url=url_for("web.job_status", job_id=job.id),
        version_fragment_url=page)


def version_proof_job(name: str, version: str, job_id: str | None) -> ProofJobView | None:
    """The view of job ``job_id`` when it is a ``gateway.prove`` of ``name`` ``version``
    (anything else shows nothing)."""
    job = jobs.get_job(job_id) if job_id else None
    if job is None or job.kind != PROVE_TASK or job.subject != tasks.subject_of(name, version):
        return None
    return proof_job_view(job)


def job_status(job_id: str) -> str | BaseResponse:
    """The job fragment (htmx polls it); a plain request goes to the version page."""
    job = jobs.get_job(job_id)
    if job is None or job.kind not in (tasks.SPEC_CHECK, PROVE_TASK):
        raise NotFound("No such job.")
    if job.kind == PROVE_TASK:
        proof_view = proof_job_view(job)
        if not wants_fragment():
            return redirect(proof_view.page_url, 303)
        return render_template("web/_partials/gateway_job.html", job=proof_view, polled=True)
    view = job_view(job)
    if not wants_fragment():
        return redirect(view.page_url, 303)
    return render_template("web/_partials/job.html", job=view, polled=True)


def register(bp: Blueprint) -> None:
    """Add this module's views to ``bp``."""
    bp.add_url_rule("/jobs/<job_id>", view_func=job_status, methods=["GET"])

"""REST views of long work: ``GET /api/v1/jobs/{id}`` and the asynchronous upload.

``PUT …/spec`` answers synchronously unless the client sends ``Prefer: respond-async``
(RFC 7240 §4.1): then it queues a ``spec.check`` job and answers ``202 Accepted`` with
``Location: /api/v1/jobs/{id}``, ``Preference-Applied: respond-async`` (RFC 7240 §3) and the
job.  The job's page shows its state, progress and, once done, the revision or the error.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request, url_for

from lifecycle import jobs
from lifecycle.accounts.authz import current_actor
from lifecycle.catalog import tasks
from lifecycle.core.clock import clock
from lifecycle.core.errors import NotFound

#: the preference token of RFC 7240 §4.1
RESPOND_ASYNC = "respond-async"


def prefers_async() -> bool:
    """Whether the request's ``Prefer`` headers hold the ``respond-async`` preference
    (RFC 7240 §2: comma-separated preferences, parameters after ``;``, tokens compared
    case-insensitively; repeated headers count too)."""
    for header in request.headers.getlist("Prefer"):
        for preference in header.split(","):
            token = preference.split(";", 1)[0].split("=", 1)[0].strip().lower()
            if token == RESPOND_ASYNC:
                return True
    return False


def _time(value: Any) -> str | None:
    return value.isoformat() if value else None


def job_dict(job: jobs.Job) -> dict[str, Any]:
    """A job as JSON: ``id``, ``kind``, ``subject``, ``state`` (queued | running |
    succeeded | failed), ``progress`` (0–100), ``message``, ``created_by``, ``created_at``,
    ``started_at``, ``finished_at``, ``result`` (a ``spec.check`` result gains ``url``, the
    version's REST URL) or ``error`` (``{"code", "message", "details"}``), and ``url``."""
    result = dict(job.result) if job.result is not None else None
    if result is not None and job.kind == tasks.SPEC_CHECK and "api" in result:
        result["url"] = url_for("api.get_version", name=result["api"],
                                version=result["version"])
    return {
        "id": job.id,
        "kind": job.kind,
        "subject": job.subject,
        "state": job.state,
        "progress": job.progress,
        "message": job.message,
        "created_by": job.created_by,
        "created_at": _time(job.created_at),
        "started_at": _time(job.started_at),
        "finished_at": _time(job.finished_at),
        "result": result,
        "error": job.error,
        "url": url_for("api.get_job", job_id=job.id),
    }


def accepted(job: jobs.Job) -> tuple[Response, int]:
    """``202 Accepted`` for a queued job (RFC 7240 §4.1): the job, its ``Location`` and
    ``Preference-Applied: respond-async``."""
    response = jsonify(job_dict(job))
    response.headers["Location"] = url_for("api.get_job", job_id=job.id)
    response.headers["Preference-Applied"] = RESPOND_ASYNC
    return response, 202


def put_spec_async(name: str, version: str, raw: bytes) -> tuple[Response, int]:
    """Queue the upload ``raw`` of ``name`` ``version`` as a ``spec.check`` job (202).

    :raises NotFound: no such API or version; :raises Conflict: the version is retired;
    :raises SpecLoadError: over ``SPEC_MAX_BYTES`` (413, as the synchronous upload).
    """
    job = tasks.submit_upload(name, version, raw, uploader=current_actor(), now=clock())
    return accepted(job)


def get_job(job_id: str) -> Any:
    """One job: state, progress, message, times, result or error.

    Readable by any signed-in user (every signed-in user may read every API, so "the job's
    creator or anyone who may read its subject" is the ``read`` permission).
    """
    job = jobs.get_job(job_id)
    if job is None:
        raise NotFound("No such job.")
    return jsonify(job_dict(job))


def register(bp: Blueprint) -> None:
    """Add this module's views to ``bp``."""
    bp.add_url_rule("/jobs/<job_id>", view_func=get_job, methods=["GET"])

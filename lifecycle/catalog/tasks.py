"""The catalog's long work as jobs: checking and storing a large upload (``spec.check``).

::

    job = tasks.submit_upload(name, version, raw, uploader=actor, now=now)   # commits
    # later, in ``stagegate worker`` (PostgreSQL) or the embedded thread (SQLite):
    # check_upload(ctx) runs services.upload_spec on the job's bytes as the job's actor

The job's ``result`` is ``{"api", "version", "revision", "created", "sha256"}`` (the REST
and web views add the URLs); a failure is ``{"code", "message", "details"}`` with the codes
of the synchronous upload (``spec_unreadable``, ``too_large``, ``conflict``, ``not_found``).
Importing this module registers the task (``create_app`` imports it).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from lifecycle import jobs
from lifecycle.accounts.services import user_by_email
from lifecycle.catalog import services, stages
from lifecycle.core.actor import Actor, ActorKind
from lifecycle.core.errors import Conflict, DomainError
from lifecycle.core.extensions import db
from specs import SpecLoadError, too_large

#: the task name of a large upload's check
SPEC_CHECK = "spec.check"


def subject_of(name: str, version: str) -> str:
    """The job subject of a version: ``name@version``."""
    return f"{name}@{version}"


def submit_upload(name: str, version: str, raw: bytes, *, uploader: Actor,
                  now: datetime) -> jobs.Job:
    """Queue ``raw`` to be checked and stored as the next revision of ``name`` ``version``
    by a ``spec.check`` job, and commit (one transaction: a rolled-back request leaves no
    job).

    :param uploader: who uploads; the job runs :func:`services.upload_spec` as them.
    :param now: the job's ``created_at``.
    :returns: the queued :class:`~lifecycle.jobs.Job` (state ``queued``).
    :raises NotFound: no such API or version (nothing queued).
    :raises Conflict: the version is retired (nothing queued).
    :raises SpecLoadError: ``too_large``, over ``SPEC_MAX_BYTES`` (nothing queued: the
        synchronous upload's answer, without storing the bytes first).
    """
    obj = services.get_version(name, version)
    if obj.stage == stages.RETIREMENT:
        raise Conflict("The version is retired; its documents can no longer change.")
    limit = services.load_limits().max_bytes
    if len(raw) > limit:
        raise too_large(len(raw), limit)
    job = jobs.submit(SPEC_CHECK, subject=subject_of(name, version), actor=uploader.label,
                      now=now, data=bytes(raw),
                      payload={"api": name, "version": version,
                               "actor_kind": str(uploader.kind), "size": len(raw)})
    db.session.commit()
    return job


def _actor(ctx: jobs.JobContext) -> Actor:
    """The uploader again, from the job: a person by their email (still an active user),
    else the recorded process."""
    kind = ActorKind(ctx.payload.get("actor_kind", ActorKind.USER))
    if kind in (ActorKind.USER, ActorKind.TOKEN):
        user = user_by_email(ctx.actor)
        if user is None or not user.is_active:
            raise jobs.JobFailed("forbidden", "The uploader's account is no longer active.")
        return Actor.of_user(user, kind=kind)
    return Actor(kind, ctx.actor)


@jobs.task(SPEC_CHECK)
def check_upload(ctx: jobs.JobContext) -> dict[str, Any]:
    """Run :func:`services.upload_spec` on the job's bytes as the job's actor, reporting its
    steps (load, validate, rules, store) as progress.

    :raises JobFailed: the bytes are not a readable document (``spec_unreadable`` or
        ``too_large`` with the load error's ``code``, ``line``, ``column`` in ``details``, as
        the synchronous upload answers), the version is gone or retired (``not_found``,
        ``conflict``), or a concurrent upload won (``conflict``).
    """
    name, version = str(ctx.payload["api"]), str(ctx.payload["version"])
    if ctx.input is None:
        raise jobs.JobFailed("no_input", "The uploaded document is no longer available.")
    uploader = _actor(ctx)
    ctx.progress(5, "Starting")
    try:
        revision, created = services.upload_spec(name, version, ctx.input, uploader=uploader,
                                                 progress=ctx.progress)
    except SpecLoadError as exc:
        raise jobs.JobFailed(exc.error, exc.message, exc.to_dict()) from exc
    except DomainError as exc:
        raise jobs.JobFailed(exc.code, exc.message) from exc
    return {"api": name, "version": version, "revision": revision.number,
            "created": created, "sha256": revision.sha256}

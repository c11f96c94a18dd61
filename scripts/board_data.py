"""Fast board data for the benchmark and the load test: N APIs × M versions built with bulk
inserts through the models (``INSERT … VALUES`` of many rows per statement), each version with
one revision of a demo document carrying that document's real ``findings`` (from
:func:`policies.check.check_spec`), its upload, and its stored compliance summary.

Summaries are computed with the real :func:`lifecycle.gates.summary.refresh` once per distinct
(document, stage) pair and copied to the other versions of the pair (same evidence, same
verdict), so 10,000 versions take seconds, not the hour of 10,000 gate evaluations.
Stages are spread over the lifecycle (most versions in design and development, as in a real
catalog); one version in 50 has a pending promotion request; one in 40 has evidence that
ages out within days (``valid_until``), so every attention group is present.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from lifecycle.accounts.models import Membership, Team, User
from lifecycle.accounts.services import create_user
from lifecycle.catalog import stages
from lifecycle.catalog.models import Api, ApiVersion, CheckRun, SpecRevision, SpecUpload
from lifecycle.core.actor import Actor
from lifecycle.core.clock import clock
from lifecycle.core.extensions import db
from lifecycle.gates import summary
from lifecycle.gates.models import VersionSummary
from lifecycle.review.models import PromotionRequest
from policies.check import check_spec

ROOT = Path(__file__).resolve().parents[1]
TEAM = "Load"
USER_EMAIL = "load-board@stagegate.test"
#: how versions spread over the stages (weights)
STAGE_WEIGHTS = {"design": 4, "development": 3, "testing": 1, "deployment": 1, "retirement": 1}
_STAGE_CYCLE = [s for s, w in STAGE_WEIGHTS.items() for _ in range(w)]
CHUNK = 1000


def _chunks(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for i in range(0, len(rows), CHUNK):
        yield rows[i:i + CHUNK]


def _insert(model: Any, rows: list[dict[str, Any]]) -> None:
    for chunk in _chunks(rows):
        db.session.execute(sa.insert(model), chunk)


def build(apis: int, per_api: int, *, prefix: str = "load") -> float:
    """Add ``apis`` × ``per_api`` versions (inside an app context; commits).  Returns the
    seconds it took."""
    started = time.monotonic()
    now = clock()
    team = db.session.execute(db.select(Team).where(Team.name == TEAM)).scalar_one_or_none()
    if team is None:
        team = Team(name=TEAM)
        db.session.add(team)
        db.session.flush()
    docs: list[dict[str, Any]] = []
    for path in sorted((ROOT / "lifecycle/demo/specs").iterdir()):
        raw = path.read_bytes()
        check = check_spec(raw)
        spec = check.document
        docs.append({
            "raw": raw, "size": len(raw), "sha256": spec.sha256, "format": spec.format,
            "declared_version": spec.declared_version, "openapi_version": spec.openapi_version,
            "valid": not check.issues,
            "findings": [f.to_dict() for f in check.findings],
            "token_profile": check.profile,
        })
    base_api = int(db.session.execute(sa.select(sa.func.coalesce(sa.func.max(Api.id), 0)))
                   .scalar_one())
    base_version = int(db.session.execute(
        sa.select(sa.func.coalesce(sa.func.max(ApiVersion.id), 0))).scalar_one())
    base_rev = int(db.session.execute(
        sa.select(sa.func.coalesce(sa.func.max(SpecRevision.id), 0))).scalar_one())
    api_rows, version_rows, rev_rows, upload_rows, requests = [], [], [], [], []
    kinds: dict[int, tuple[int, str]] = {}
    for a in range(apis):
        api_id = base_api + a + 1
        api_rows.append({"id": api_id, "name": f"{prefix}-{a:04d}", "title": f"Load API {a}",
                         "description": "", "team_id": team.id, "created_at": now})
        for v in range(per_api):
            n = a * per_api + v
            version_id = base_version + n + 1
            stage = _STAGE_CYCLE[(a + v) % len(_STAGE_CYCLE)]
            doc_index = (a + v) % len(docs)
            doc = docs[doc_index]
            kinds[version_id] = (doc_index, stage)
            version_rows.append({"id": version_id, "api_id": api_id, "version": f"1.{v}.0",
                                 "stage": stage, "created_at": now, "updated_at": now})
            rev_id = base_rev + n + 1
            rev_rows.append({"id": rev_id, "version_id": version_id, "number": 1,
                             "raw": doc["raw"], "size": doc["size"], "sha256": doc["sha256"],
                             "format": doc["format"],
                             "declared_version": doc["declared_version"],
                             "openapi_version": doc["openapi_version"], "valid": doc["valid"],
                             "findings": doc["findings"], "token_profile": doc["token_profile"],
                             "uploaded_by": "system:load", "created_at": now})
            upload_rows.append({"version_id": version_id, "revision_id": rev_id,
                                "uploaded_by": "system:load", "created_at": now})
            if n % 50 == 7 and stage in ("development", "testing"):
                requests.append({"version_id": version_id, "from_stage": stage,
                                 "to_stage": stages.next_stage(stage),
                                 "requested_by": "system:load", "reason": "load data",
                                 "required_approvals": 1, "state": "pending",
                                 "created_at": now})
    _insert(Api, api_rows)
    _insert(ApiVersion, version_rows)
    _insert(SpecRevision, rev_rows)
    _insert(SpecUpload, upload_rows)
    if requests:
        base_run = int(db.session.execute(
            sa.select(sa.func.coalesce(sa.func.max(CheckRun.id), 0))).scalar_one())
        runs = []
        for i, r in enumerate(requests):
            r["check_run_id"] = base_run + i + 1
            runs.append({"id": r["check_run_id"], "version_id": r["version_id"],
                         "revision_id": None, "target_stage": r["to_stage"], "passed": True,
                         "pack": "default", "pack_sha256": "0" * 64, "findings": [],
                         "created_at": now})
        _insert(CheckRun, runs)
        _insert(PromotionRequest, _request_rows(requests))
    db.session.flush()
    # one real summary per (document, stage), copied to its twins
    templates: dict[tuple[int, str], dict[str, Any]] = {}
    summary_rows = []
    for version_id, key in kinds.items():
        if key not in templates:
            templates[key] = summary.refresh(db.session.get_one(ApiVersion, version_id), now)
        values = dict(templates[key], version_id=version_id)
        if version_id % 40 == 3 and values["target_stage"] is not None:
            values["valid_until"] = now + timedelta(days=1 + version_id % 5)
        summary_rows.append(values)
    db.session.execute(sa.delete(VersionSummary).where(VersionSummary.version_id.in_(
        list(kinds))).execution_options(synchronize_session=False))
    _insert(VersionSummary, summary_rows)
    db.session.info.pop("stagegate.summary.dirty", None)
    if db.session.get_bind().dialect.name == "postgresql":  # explicit ids: move the sequences
        for table in ("api", "api_version", "spec_revision", "check_run"):
            db.session.execute(sa.text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"))
    db.session.commit()
    return time.monotonic() - started


def _request_rows(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Promotion request rows with the model's column names (only those it has)."""
    columns = set(PromotionRequest.__table__.columns.keys())
    return [{k: v for k, v in r.items() if k in columns} for r in requests]


def developer() -> User:
    """The load test's signed-in developer (a member of the owning team), created once."""
    user = db.session.execute(
        db.select(User).where(User.email == USER_EMAIL)).scalar_one_or_none()
    if user is None:
        user = create_user(USER_EMAIL, secrets.token_urlsafe(24), ["developer"],
                           actor=Actor.system("load").label)
        team = db.session.execute(db.select(Team).where(Team.name == TEAM)).scalar_one()
        db.session.add(Membership(user=user, team=team))
        db.session.commit()
    return user

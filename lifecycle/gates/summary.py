"""Stored compliance summaries: what the gate into each version's next stage says, kept
current when something that affects it changes, so the board and the REST list read one row
per version instead of evaluating every gate on every view.

The one recompute is :func:`refresh` (through :func:`lifecycle.gates.evaluate.evaluate_gate`
with ``record=False``).  Nothing calls it by hand on a change: a session hook notes, at every
flush, the versions whose rows changed (the version itself — a transition changes its stage —
and any new, changed or deleted row with a ``version_id``: an upload, a JWKS or token
analysis, a waiver granted or revoked, a managed-key event) and refreshes them just before the
transaction commits, in the same transaction.  What changes by the clock alone (a waiver
expiring, token evidence ageing out, a key's grace ending) is bounded by ``valid_until``;
:func:`refresh_due`, run by the job queue's periodic tick, recomputes the summaries whose
``valid_until`` has passed, those judged by another policy pack (a pack change) and versions
without one.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import has_app_context
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import ORMExecuteState, Session

from lifecycle import jobs
from lifecycle.catalog import stages
from lifecycle.catalog.models import ApiVersion
from lifecycle.core.actor import Actor
from lifecycle.core.clock import aware
from lifecycle.core.extensions import db
from lifecycle.gates import waivers
from lifecycle.gates.evaluate import evaluate_gate
from lifecycle.gates.models import VersionSummary
from lifecycle.gates.providers import evidence_valid_until, policy_pack, proven_until
from policies.findings import Status
from policies.rules import get_rule, has_rule

#: session.info key: version ids whose summary must be refreshed before the commit
_DIRTY = "stagegate.summary.dirty"
#: how many summaries :func:`refresh_due` recomputes per transaction
BATCH = 200
#: the actor of read-only evaluations (never recorded: ``record=False``)
_SYSTEM = Actor.system("summary")


def evidence_kind(rule_id: str) -> str:
    """The evidence kind rule ``rule_id`` reads (``spec``, ``token``, ``jwks``, ``gateway``;
    ``other`` for a rule the catalogue does not know)."""
    return get_rule(rule_id).evidence.value if has_rule(rule_id) else "other"


def _values(version_obj: ApiVersion, now: datetime) -> dict[str, Any]:
    """The summary row's values for ``version_obj`` judged at ``now``."""
    pack = policy_pack()
    revision = version_obj.current_revision
    target = stages.next_stage(version_obj.stage)
    values: dict[str, Any] = {
        "version_id": version_obj.id, "target_stage": target, "passed": None,
        "revision_id": revision.id if revision else None, "blocking": 0,
        "blocking_failed": 0, "blocking_missing": 0, "failing_rules": 0,
        "missing_evidence": "", "pack": pack.name[:200],
        "pack_sha256": pack.sha256, "computed_at": now, "valid_until": None,
        "proven_until": proven_until(version_obj, now),
    }
    if target is None:
        return values
    decision = evaluate_gate(version_obj, target, actor=_SYSTEM, now=now, record=False).decision
    missing = sum(1 for f in decision.blocking if str(f.status) == Status.MISSING_EVIDENCE)
    failing_rules = {f.rule_id for f in decision.blocking
                     if str(f.status) != Status.MISSING_EVIDENCE}
    missing_kinds = {evidence_kind(f.rule_id) for f in decision.blocking
                     if str(f.status) == Status.MISSING_EVIDENCE}
    expiries = [w.expires_at for w in waivers.active(version_obj, now)]
    evidence_until = evidence_valid_until(version_obj, pack, target, now)
    if evidence_until is not None:
        expiries.append(evidence_until)
    values.update(passed=bool(decision.passed), blocking=len(decision.blocking),
                  blocking_missing=missing, blocking_failed=len(decision.blocking) - missing,
                  failing_rules=len(failing_rules),
                  missing_evidence=" ".join(sorted(missing_kinds))[:200],
                  valid_until=min(expiries, default=None))
    return values


def _upsert(values: dict[str, Any]) -> None:
    """Insert or replace one summary row (``INSERT … ON CONFLICT DO UPDATE``: two
    transactions refreshing the same version never fail on the primary key)."""
    dialect = db.session.get_bind().dialect.name
    insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    from_dialect = insert(VersionSummary)
    changed = {k: v for k, v in values.items() if k != "version_id"}
    db.session.execute(from_dialect.values(**values)
                       .on_conflict_do_update(index_elements=["version_id"], set_=changed))


def refresh(version_obj: ApiVersion, now: datetime | None = None) -> dict[str, Any]:
    """Recompute and store the summary of ``version_obj`` at ``now`` (default the app
    clock) in the current transaction (the caller commits).

    :returns: the stored values (``VersionSummary`` columns).
    """
    values = _values(version_obj, aware(now))
    _upsert(values)
    return values


def refresh_many(version_ids: Iterable[int], now: datetime | None = None) -> int:
    """:func:`refresh` each of ``version_ids`` that exists; returns how many."""
    ids = sorted(set(version_ids))
    if not ids:
        return 0
    moment = aware(now)
    # populate_existing: a stage changed by an UPDATE statement (a move) is read as stored
    found = db.session.execute(sa.select(ApiVersion).where(ApiVersion.id.in_(ids))
                               .execution_options(populate_existing=True)).scalars()
    count = 0
    for version_obj in found:
        refresh(version_obj, moment)
        count += 1
    return count


def due_ids(now: datetime, limit: int = BATCH) -> list[int]:
    """Versions whose summary is due: none yet, ``valid_until`` passed, or judged by another
    pack than the configured one (oldest ``valid_until`` first)."""
    pack = policy_pack()
    stmt = (sa.select(ApiVersion.id)
            .outerjoin(VersionSummary, VersionSummary.version_id == ApiVersion.id)
            .where(sa.or_(VersionSummary.version_id.is_(None),
                          VersionSummary.valid_until <= now,
                          VersionSummary.pack_sha256 != pack.sha256))
            .order_by(VersionSummary.valid_until, ApiVersion.id)
            .limit(limit))
    return list(db.session.execute(stmt).scalars())


@jobs.periodic("gates.summary.refresh_due")
def refresh_due(now: datetime, batch: int = BATCH) -> int:
    """Recompute every due summary (:func:`due_ids`) at ``now``, committing every ``batch``
    versions; returns how many were recomputed.  The periodic tick runs it (procrastinate's
    periodic task on PostgreSQL, the embedded thread's tick on SQLite)."""
    total = 0
    while True:
        ids = due_ids(now, batch)
        if not ids:
            return total
        total += refresh_many(ids, now)
        db.session.commit()
        if len(ids) < batch:
            return total


# ------------------------------------------------------------------------------ the hook
def _touched(session: Session) -> set[int]:
    ids: set[int] = set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, VersionSummary):
            continue
        if isinstance(obj, ApiVersion):
            if obj.id is not None:
                ids.add(obj.id)
            continue
        version_id = getattr(obj, "version_id", None)
        if isinstance(version_id, int):
            ids.add(version_id)
    return ids


def _note(session: Session, flush_context: Any) -> None:
    """Remember the versions this flush changed something of."""
    ids = _touched(session)
    if ids:
        session.info.setdefault(_DIRTY, set()).update(ids)


def _note_statement(state: ORMExecuteState) -> None:
    """Remember the versions an ORM ``UPDATE``/``DELETE`` statement is about to change (a
    waiver revoked, a stage moved by a guarded ``UPDATE``): their ids are selected with the
    statement's own criteria first."""
    if not (state.is_update or state.is_delete) or state.bind_mapper is None:
        return
    table = state.bind_mapper.local_table
    column = table.c.get("version_id")
    if column is None and state.bind_mapper.class_ is ApiVersion:
        column = table.c.id
    if column is None or not isinstance(table, sa.Table) or table.name == "version_summary":
        return
    where = getattr(state.statement, "whereclause", None)
    query = sa.select(column) if where is None else sa.select(column).where(where)
    ids = {i for i in state.session.execute(query).scalars() if isinstance(i, int)}
    if ids:
        state.session.info.setdefault(_DIRTY, set()).update(ids)


def _refresh_before_commit(session: Session) -> None:
    """Refresh the summaries of every version the transaction touched, inside it."""
    if not has_app_context() or session is not db.session():
        return
    session.flush()
    done: set[int] = set()
    while True:
        pending = session.info.get(_DIRTY, set()) - done
        if not pending:
            break
        done |= pending
        refresh_many(pending)
        session.flush()
    session.info.pop(_DIRTY, None)


def _forget(session: Session, previous_transaction: Any) -> None:
    session.info.pop(_DIRTY, None)


_HOOKS = (("after_flush", _note), ("do_orm_execute", _note_statement),
          ("before_commit", _refresh_before_commit),
          ("after_soft_rollback", _forget))


def install() -> None:
    """Keep summaries current: listen to every session's flushes and commits (idempotent;
    ``create_app`` calls it)."""
    for name, fn in _HOOKS:
        if not event.contains(Session, name, fn):
            event.listen(Session, name, fn)

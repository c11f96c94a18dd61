"""The tamper-evident audit trail: a hash chain of every change, and its verification.

Services call :func:`record` once per state change, before they commit::

    audit.record("spec.uploaded", actor, "payments@1.0.0", {"revision": 2, "sha256": "…"})

:func:`record` only queues the entry on the session.  When the session commits (the caller's
one commit per user action), the queued entries are appended in the same transaction:

1. lock the chain head (the single ``audit_head`` row, ``SELECT … FOR UPDATE`` on
   PostgreSQL; on SQLite a no-op ``UPDATE`` of the head first takes the database write lock,
   so no writer reads a head another is about to move), creating it when missing;
2. give each entry the next ``seq``, the time (UTC), ``prev_hash`` = the head's hash, and
   ``hash`` = SHA-256 of the canonical JSON of the entry (:func:`entry_hash`);
3. move the head with a conditional ``UPDATE … WHERE seq = <old>`` (a second guard: a
   writer that somehow read a stale head fails instead of forking the chain).

Taking the head lock last, just before ``COMMIT``, keeps the time the lock is held short and
means no writer holds it while waiting for any other row lock (no deadlocks).  A rollback
discards the queued entries with the rest of the action.

:func:`verify` recomputes the chain (``stagegate audit verify``); :func:`export_lines`
writes JSON Lines.  Formats and the hash computation: ``docs/audit.md``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

from lifecycle.audit.models import AuditEntry, AuditHead
from lifecycle.core.db import utcnow
from lifecycle.core.extensions import db

#: ``prev_hash`` of the first entry, and the hash of an empty chain
GENESIS = "0" * 64
#: the fields covered by ``hash`` (every field of an entry except ``hash`` itself)
HASHED_FIELDS = ("seq", "at", "actor", "action", "subject", "data", "prev_hash")
MAX_ACTOR = 320
MAX_ACTION = 64
MAX_SUBJECT = 255
#: largest canonical ``data`` accepted (audit data is a summary, never a document)
MAX_DATA_BYTES = 16 * 1024
_PENDING = "stagegate.audit.pending"
_HEAD_ID = 1


class AuditChainConflict(RuntimeError):
    """The chain head moved between reading and updating it (never expected: the head is
    locked); the action is not committed."""


# ------------------------------------------------------------------------------ format
def _check_json(value: Any, path: str = "data") -> None:
    """Refuse values that do not serialise identically everywhere (RFC 8785-compatible)."""
    if value is None or isinstance(value, (bool, str)):
        return
    if isinstance(value, int):
        return
    if isinstance(value, float):
        raise TypeError(f"{path}: floats are not allowed in audit data (use an int or a "
                        "string); their JSON form differs between serialisers")
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_json(item, f"{path}[{i}]")
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{path}: object keys must be strings, not {key!r}")
            _check_json(item, f"{path}.{key}")
        return
    raise TypeError(f"{path}: {type(value).__name__} is not a JSON value")


def canonical_json(value: Any) -> bytes:
    """UTF-8 canonical JSON: keys sorted, no whitespace, non-ASCII as is.

    For the values audit data may hold (strings, integers, booleans, null, arrays, objects
    with ASCII keys — no floats) this is byte-for-byte RFC 8785 (JCS).

    :raises TypeError: ``value`` holds a float or a non-JSON value.
    """
    _check_json(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def format_time(moment: datetime) -> str:
    """``2026-12-08T10:00:00.123456Z``: the form of ``at`` that is hashed and exported."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(fields: Mapping[str, Any]) -> str:
    """SHA-256 (lower-case hex) of the canonical JSON of the :data:`HASHED_FIELDS` of an
    entry dict (``at`` as :func:`format_time` text)."""
    return hashlib.sha256(canonical_json({k: fields[k] for k in HASHED_FIELDS})).hexdigest()


def entry_dict(entry: AuditEntry) -> dict[str, Any]:
    """An entry as exported: ``seq``, ``at`` (text), ``actor``, ``action``, ``subject``,
    ``data``, ``prev_hash``, ``hash``."""
    return {"seq": entry.seq, "at": format_time(entry.at), "actor": entry.actor,
            "action": entry.action, "subject": entry.subject, "data": entry.data,
            "prev_hash": entry.prev_hash, "hash": entry.hash}


def subject_of(version_obj: Any) -> str:
    """``"payments@1.0.0"``: the audit subject of an API version."""
    return f"{version_obj.api.name}@{version_obj.version}"


# ------------------------------------------------------------------------------ writing
@dataclass(frozen=True, slots=True)
class _Pending:
    action: str
    actor: str
    subject: str
    data: dict[str, Any]


def record(action: str, actor: str, subject: str, data: Mapping[str, Any] | None = None) -> None:
    """Queue an audit entry; it is appended when the current session commits.

    Call it once per state change, in the unit of work that makes the change (before its
    commit).  Never put secrets in ``data`` (no tokens, no key material, no passwords).

    :param action: ``namespace.verb`` (e.g. ``spec.uploaded``), 1–64 characters.
    :param actor: who did it (free text today, the user's email once accounts exist),
        1–320 characters; blank means ``anonymous``.
    :param subject: what it was done to (e.g. ``payments@1.0.0``), at most 255 characters.
    :param data: a small JSON object (at most 16 KiB canonical; no floats).
    :raises ValueError: a field is empty or too long.
    :raises TypeError: ``data`` is not a JSON object of the allowed values.
    """
    actor = str(actor or "").strip() or "anonymous"
    if not action or len(action) > MAX_ACTION:
        raise ValueError(f"action must have 1–{MAX_ACTION} characters")
    if len(actor) > MAX_ACTOR:
        raise ValueError(f"actor must have at most {MAX_ACTOR} characters")
    if len(subject) > MAX_SUBJECT:
        raise ValueError(f"subject must have at most {MAX_SUBJECT} characters")
    body = dict(data or {})
    raw = canonical_json(body)
    if len(raw) > MAX_DATA_BYTES:
        raise ValueError(f"audit data is {len(raw)} bytes; at most {MAX_DATA_BYTES}")
    # Keep exactly what will be stored and hashed (tuples become lists, copies are detached).
    body = json.loads(raw)
    db.session.connection()  # begin the transaction now, so its rollback drops the entry
    db.session.info.setdefault(_PENDING, []).append(_Pending(action, actor, subject, body))


def _lock_head(session: Session) -> tuple[int, str]:
    """``(seq, hash)`` of the chain head, locked until the transaction ends; the head row is
    created (genesis) when missing."""
    table = AuditHead.__table__
    if session.get_bind().dialect.name == "sqlite":
        # SQLite ignores FOR UPDATE, and pysqlite starts a transaction only at the first
        # write: a read of the head could be stale by the time the entry is inserted (two
        # writers, one seq: a duplicate key).  Writing the head row first takes the
        # database's write lock, so writers append one after the other.
        session.execute(sa.update(table).where(table.c.id == _HEAD_ID)
                        .values(seq=table.c.seq))
    select = sa.select(table.c.seq, table.c.hash).where(table.c.id == _HEAD_ID).with_for_update()
    row = session.execute(select).one_or_none()
    if row is None:
        try:
            with session.begin_nested():
                session.execute(sa.insert(table).values(id=_HEAD_ID, seq=0, hash=GENESIS))
        except sa.exc.IntegrityError:
            pass  # another writer created it first; its row is locked below
        row = session.execute(select).one()
    return int(row.seq), str(row.hash)


def _append(session: Session, pending: list[_Pending]) -> None:
    seq, prev = _lock_head(session)
    first = seq
    for item in pending:
        seq += 1
        moment = utcnow()
        fields = {"seq": seq, "at": format_time(moment), "actor": item.actor,
                  "action": item.action, "subject": item.subject, "data": item.data,
                  "prev_hash": prev}
        digest = entry_hash(fields)
        session.add(AuditEntry(seq=seq, at=moment, actor=item.actor, action=item.action,
                               subject=item.subject, data=item.data, prev_hash=prev,
                               hash=digest))
        prev = digest
    table = AuditHead.__table__
    moved = session.execute(
        sa.update(table).where(table.c.id == _HEAD_ID, table.c.seq == first)
        .values(seq=seq, hash=prev)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        raise AuditChainConflict("the audit chain head moved while appending; retry")


@event.listens_for(Session, "before_commit")
def _write_pending(session: Session) -> None:
    """Append the queued entries in the transaction being committed (not at a savepoint)."""
    if session.in_nested_transaction() or not session.info.get(_PENDING):
        return
    pending = session.info.pop(_PENDING)
    _append(session, pending)


@event.listens_for(Session, "after_transaction_end")
def _forget_pending(session: Session, transaction: Any) -> None:
    """A rolled-back action leaves nothing queued for the next one."""
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


# ------------------------------------------------------------------------------ reading
def head() -> tuple[int, str]:
    """``(seq, hash)`` of the chain head, ``(0, GENESIS)`` for an empty trail."""
    table = AuditHead.__table__
    row = db.session.execute(
        sa.select(table.c.seq, table.c.hash).where(table.c.id == _HEAD_ID)
    ).one_or_none()
    return (int(row.seq), str(row.hash)) if row else (0, GENESIS)


def _head_or_none() -> tuple[int, str] | None:
    table = AuditHead.__table__
    row = db.session.execute(
        sa.select(table.c.seq, table.c.hash).where(table.c.id == _HEAD_ID)
    ).one_or_none()
    return (int(row.seq), str(row.hash)) if row else None


def _row_dict(row: Any) -> dict[str, Any]:
    return {"seq": int(row.seq), "at": format_time(row.at), "actor": row.actor,
            "action": row.action, "subject": row.subject, "data": row.data,
            "prev_hash": row.prev_hash, "hash": row.hash}


def _rows(stmt: sa.Select[Any]) -> list[dict[str, Any]]:
    return [_row_dict(r) for r in db.session.execute(stmt)]


def _columns() -> sa.Select[Any]:
    return sa.select(*AuditEntry.__table__.c)


def iter_entries(after: int = 0, batch: int = 500) -> Iterator[dict[str, Any]]:
    """Every entry with ``seq > after`` as an :func:`entry_dict`, in chain order, read in
    batches of ``batch`` rows (plain rows: nothing accumulates in the session)."""
    yield from _scan(AuditQuery(after=after), batch)


def scan(query: AuditQuery, batch: int = 500) -> Iterator[dict[str, Any]]:
    """Every entry matching ``query`` as an :func:`entry_dict`, in chain order, read in
    batches of ``batch`` rows by ``seq`` (bounded queries on the primary key; nothing
    accumulates in the session) — what every export (CLI, REST, web) streams."""
    return _scan(query, batch)


def _scan(query: AuditQuery, batch: int) -> Iterator[dict[str, Any]]:
    last = query.after or 0
    table = AuditEntry.__table__
    while True:
        rows = _rows(_filtered(replace(query, after=last)).order_by(table.c.seq).limit(batch))
        if not rows:
            return
        yield from rows
        last = rows[-1]["seq"]


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Filters of :func:`search`: exact ``actor``, ``action`` (or a ``namespace.`` prefix
    when it ends with a dot) and ``subject``; ``since`` (inclusive) / ``until`` (exclusive)
    aware UTC times; ``after`` / ``before`` sequence numbers (exclusive)."""

    actor: str | None = None
    action: str | None = None
    subject: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    after: int | None = None
    before: int | None = None


def _filtered(query: AuditQuery) -> sa.Select[Any]:
    stmt = _columns()
    if query.actor:
        stmt = stmt.where(AuditEntry.actor == query.actor)
    if query.action:
        if query.action.endswith("."):
            pattern = query.action.replace("\\", "\\\\").replace("%", "\\%") \
                .replace("_", "\\_") + "%"
            stmt = stmt.where(AuditEntry.action.like(pattern, escape="\\"))
        else:
            stmt = stmt.where(AuditEntry.action == query.action)
    if query.subject:
        stmt = stmt.where(AuditEntry.subject == query.subject)
    if query.since is not None:
        stmt = stmt.where(AuditEntry.at >= query.since)
    if query.until is not None:
        stmt = stmt.where(AuditEntry.at < query.until)
    if query.after is not None:
        stmt = stmt.where(AuditEntry.seq > query.after)
    if query.before is not None:
        stmt = stmt.where(AuditEntry.seq < query.before)
    return stmt


def search(query: AuditQuery, limit: int = 100,
           newest_first: bool = True) -> list[dict[str, Any]]:
    """At most ``limit`` entries (:func:`entry_dict` shape) matching ``query``, newest
    (highest ``seq``) first unless ``newest_first`` is false.  Page on with
    ``before=<last seq>`` (newest first) or ``after=<last seq>`` (oldest first)."""
    order = AuditEntry.seq.desc() if newest_first else AuditEntry.seq
    return _rows(_filtered(query).order_by(order).limit(limit))


def export_lines(query: AuditQuery | None = None, batch: int = 500) -> Iterator[str]:
    """The matching entries in chain order as JSON Lines (canonical JSON + ``"\\n"``)."""
    for entry in _scan(query or AuditQuery(), batch):
        yield canonical_json(entry).decode("utf-8") + "\n"


# ------------------------------------------------------------------------------ verifying
@dataclass(frozen=True, slots=True)
class Verification:
    """The result of :func:`verify_chain`.

    :ivar ok: the chain is intact.
    :ivar entries: how many entries were checked.
    :ivar head_seq: ``seq`` of the last intact entry.
    :ivar head_hash: its hash (:data:`GENESIS` for none).
    :ivar broken_seq: the first broken entry's ``seq`` (``None`` when intact).
    :ivar problem: what mismatched, one sentence (``""`` when intact).
    """

    ok: bool
    entries: int
    head_seq: int
    head_hash: str
    broken_seq: int | None = None
    problem: str = ""


def verify_chain(entries: Iterable[Mapping[str, Any]],
                 head: tuple[int, str] | None = None, *,
                 start: tuple[int, str] = (0, GENESIS)) -> Verification:
    """Recompute a chain of entry dicts (:func:`entry_dict` shape), in order.

    Finds the first entry that is missing (a gap in ``seq``), out of order, linked to the
    wrong predecessor (``prev_hash``), or whose content no longer matches its ``hash``; then
    compares the last entry with ``head`` (when given), which reveals deleted or appended
    entries at the end.

    :param head: the recorded chain head ``(seq, hash)``, or ``None`` not to check it.
    :param start: ``(seq, hash)`` the first entry follows (a partial export starts later).
    """
    seq, prev = start
    count = 0

    def broken(at: int, problem: str) -> Verification:
        return Verification(False, count, seq, prev, at, problem)

    for entry in entries:
        count += 1
        try:
            number = entry["seq"]
            stored = entry["hash"]
            recomputed = entry_hash(entry)
        except (KeyError, TypeError, ValueError) as exc:
            return broken(seq + 1, f"the entry after {seq} is malformed ({exc})")
        if not isinstance(number, int) or isinstance(number, bool) or number <= seq:
            return broken(seq + 1, f"entry {number!r} is out of order after entry {seq}")
        if number != seq + 1:
            missing = (f"entry {seq + 1} is missing" if number == seq + 2
                       else f"entries {seq + 1}–{number - 1} are missing")
            return broken(seq + 1, f"{missing} (deleted): entry {number} follows entry {seq}")
        if entry["prev_hash"] != prev:
            return broken(number, f"prev_hash {str(entry['prev_hash'])[:16]}… does not match "
                                  f"the hash of entry {seq} ({prev[:16]}…): an entry before it "
                                  "was replaced, or this one was inserted")
        if recomputed != stored:
            return broken(number, f"its content does not match its hash (stored "
                                  f"{str(stored)[:16]}…, recomputed {recomputed[:16]}…): "
                                  "a field was changed after it was written")
        seq, prev = number, stored
    if head is not None:
        head_seq, head_hash = head
        if head_seq > seq:
            missing = (f"entry {seq + 1} is missing" if head_seq == seq + 1
                       else f"entries {seq + 1}–{head_seq} are missing")
            return broken(seq + 1, f"{missing} (deleted): the chain head says the last "
                                   f"entry is {head_seq}")
        if head_seq < seq:
            return broken(head_seq + 1, f"the chain head says the last entry is {head_seq}, "
                                        f"but entries up to {seq} exist (appended outside "
                                        "Stagegate)")
        if head_hash != prev:
            return broken(seq, f"the chain head's hash {head_hash[:16]}… does not match "
                               f"entry {seq} ({prev[:16]}…)")
    return Verification(True, count, seq, prev)


def verify() -> Verification:
    """Verify the whole audit trail in the database against its chain head.

    A missing head row counts as broken when entries exist (it was deleted).
    """
    recorded = _head_or_none()
    entries = iter_entries()
    if recorded is None:
        result = verify_chain(entries)
        if result.ok and result.entries:
            return Verification(False, result.entries, result.head_seq, result.head_hash,
                                result.head_seq, "the chain head row is missing (deleted)")
        return result
    return verify_chain(entries, recorded)


def parse_time(text: str) -> datetime:
    """An ISO 8601 time or date (``2026-12-08``, ``2026-12-08T10:00:00Z``, with an offset)
    as aware UTC; a time without an offset is taken as UTC.

    :raises ValueError: not an ISO 8601 date or time.
    """
    value = datetime.fromisoformat(text.strip().replace("z", "Z"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)

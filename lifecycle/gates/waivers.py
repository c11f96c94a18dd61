"""Time-boxed waivers: an approver excuses one failing rule of one version until a date.

A waiver names a version and a rule, a reason and an expiry.  While it is in force (granted,
not revoked, the app clock before ``expires_at``) the gate sees that rule's ``fail``
findings as ``waived`` — passing (:func:`policies.gate.apply_waivers`).  After the expiry
it simply stops counting and the finding blocks again; nothing is written when a waiver
expires.  Rules:

- only a rule that currently **fails** for the version (in the findings its next gate
  considers) may be waived; ``error`` and ``missing-evidence`` findings are never waived;
- ``critical`` rules cannot be waived (:class:`NotWaivable`, 422), and a finding the gate
  raises to ``critical`` stays blocking even with a waiver;
- the expiry lies in the future and at most ``WAIVER_MAX_DAYS`` (default 90) days ahead;
- at most one waiver per version and rule is in force at a time — held by the database (a
  partial unique index on the waivers not yet ended, ``ended_at IS NULL``): of simultaneous
  grants one wins, the others are refused (``Conflict``, 409); a grant ends an expired
  waiver of the rule in its own transaction, so an expiry never blocks a new grant;
- revocation (by an approver) ends a waiver at once.

Grants and revocations are recorded in the audit trail (``waiver.granted``,
``waiver.revoked``).  Who may grant or revoke is decided by :mod:`lifecycle.accounts.authz`
(permission ``waive``: approvers).  The requester of a pending promotion may grant a waiver
for it: the approval still needs a second person, who sees the waiver.

Times use the app clock (:func:`lifecycle.core.clock.clock`), so tests move it instead of sleeping.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from lifecycle import audit
from lifecycle.catalog import services, stages
from lifecycle.catalog.models import ApiVersion
from lifecycle.core.actor import Actor
from lifecycle.core.clock import clock
from lifecycle.core.errors import Conflict, NotFound, NotWaivable, ValidationFailed
from lifecycle.core.extensions import db
from lifecycle.gates import providers
from lifecycle.gates.models import Waiver
from policies.findings import Status
from policies.gate import GateWaiver
from policies.rules import Severity, get_rule, has_rule

#: default longest waiver, days (config ``WAIVER_MAX_DAYS``)
MAX_DAYS = 90
MAX_REASON = 2000
MAX_ACTOR = 320


def max_days() -> int:
    """The longest waiver the app allows, in days (``WAIVER_MAX_DAYS``, default 90)."""
    return int(current_app.config.get("WAIVER_MAX_DAYS", MAX_DAYS))


def _now(now: datetime | None) -> datetime:
    return clock() if now is None else now


def format_until(moment: datetime) -> str:
    """``2027-01-31T00:00:00Z``: how an expiry is shown in messages and the audit trail."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_expiry(value: str | datetime) -> datetime:
    """An expiry given as an ISO 8601 date (``2027-01-31``: the waiver ends at 00:00 UTC of
    that day) or date-time (UTC when it has no offset), as aware UTC.

    :raises ValidationFailed: not an ISO 8601 date or time.
    """
    if isinstance(value, datetime):
        moment = value
    else:
        text = str(value or "").strip()
        try:
            if len(text) == 10:
                moment = datetime.combine(datetime.fromisoformat(text).date(), time(0), UTC)
            else:
                moment = datetime.fromisoformat(text.replace("z", "Z"))
        except ValueError:
            raise ValidationFailed({"expires_at": "Give the expiry as a date (2027-01-31) or "
                                                  "an ISO 8601 time."}) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


# ------------------------------------------------------------------------------ reads
def list_waivers(version_obj: ApiVersion) -> list[Waiver]:
    """Every waiver of a version, newest first."""
    stmt = (db.select(Waiver).where(Waiver.version_id == version_obj.id)
            .order_by(Waiver.created_at.desc(), Waiver.id.desc()))
    return list(db.session.execute(stmt).scalars())


def get_waiver(version_obj: ApiVersion, waiver_id: int) -> Waiver:
    """The version's waiver ``waiver_id``.

    :raises NotFound: the version has no such waiver.
    """
    stmt = db.select(Waiver).where(Waiver.version_id == version_obj.id, Waiver.id == waiver_id)
    found = db.session.execute(stmt).scalar_one_or_none()
    if found is None:
        raise NotFound(f"This version has no waiver {waiver_id}.")
    return found


def active(version_obj: ApiVersion, now: datetime | None = None) -> list[Waiver]:
    """The version's waivers in force at ``now`` (default the app clock), oldest first."""
    moment = _now(now)
    if version_obj.id is None:
        return []
    stmt = (db.select(Waiver)
            .where(Waiver.version_id == version_obj.id, Waiver.revoked_at.is_(None),
                   Waiver.created_at <= moment, Waiver.expires_at > moment)
            .order_by(Waiver.id))
    return list(db.session.execute(stmt).scalars())


def in_force(version_obj: ApiVersion, now: datetime | None = None) -> list[GateWaiver]:
    """The waivers in force at ``now`` as the plain values :func:`policies.gate.decide`
    takes."""
    return [GateWaiver(w.rule_id, w.id, format_until(w.expires_at), w.granted_by)
            for w in active(version_obj, now)]


# ------------------------------------------------------------------------------ changes
def grant(name: str, version: str, rule_id: str, reason: str, expires_at: str | datetime,
          actor: Actor, now: datetime | None = None) -> Waiver:
    """Waive rule ``rule_id`` for a version until ``expires_at``.

    :param rule_id: a catalog rule that currently fails for the version.
    :param reason: why it is acceptable for now, 1–2000 characters.
    :param expires_at: see :func:`parse_expiry`; after ``now`` and at most
        :func:`max_days` days ahead.
    :param actor: the approver granting it (recorded).
    :raises NotFound: no such API or version.
    :raises NotWaivable: the rule is critical.
    :raises ValidationFailed: unknown rule, the rule does not fail for the version, a
        missing or too long reason, an expiry in the past or too far ahead.
    :raises Conflict: the version is retired, or a waiver of that rule is in force already.
    """
    obj = services.get_version(name, version)
    moment = _now(now)
    rule_id = (rule_id or "").strip()
    reason = (reason or "").strip()
    if not has_rule(rule_id):
        raise ValidationFailed({"rule": f"There is no rule {rule_id!r}."})
    rule = get_rule(rule_id)
    if rule.severity == Severity.CRITICAL:
        raise NotWaivable(f"{rule_id} is a critical rule; critical findings cannot be waived. "
                          "Fix the finding instead.")
    errors: dict[str, str] = {}
    if not reason:
        errors["reason"] = "Say why waiving this rule is acceptable for now."
    elif len(reason) > MAX_REASON:
        errors["reason"] = f"At most {MAX_REASON} characters."
    until = parse_expiry(expires_at)
    limit = max_days()
    if until <= moment:
        errors["expires_at"] = "The expiry must lie in the future."
    elif until > moment + timedelta(days=limit):
        errors["expires_at"] = f"A waiver lasts at most {limit} days (until " \
                               f"{format_until(moment + timedelta(days=limit))})."
    if errors:
        raise ValidationFailed(errors)
    if obj.stage == stages.RETIREMENT:
        raise Conflict("The version is retired; it has no gate left to waive.")
    failing = _failing(obj, rule_id, moment)
    if failing is None:
        raise ValidationFailed({"rule": f"{rule_id} does not fail for this version; only a "
                                        "failing rule can be waived."})
    if failing == Severity.CRITICAL:
        raise NotWaivable(f"{rule_id} fails with critical severity for this version; critical "
                          "findings cannot be waived.")
    in_force_already = (f"A waiver of {rule_id} is already in force for this version; revoke "
                        "it first to change it.")
    if any(w.rule_id == rule_id for w in active(obj, moment)):
        raise Conflict(in_force_already)
    # An expired waiver of the rule still holds the open slot of the unique index: end it
    # in this transaction (its expiry is when it ended).
    db.session.execute(
        sa.update(Waiver).where(Waiver.version_id == obj.id, Waiver.rule_id == rule_id,
                                Waiver.ended_at.is_(None), Waiver.expires_at <= moment)
        .values(ended_at=Waiver.expires_at).execution_options(synchronize_session=False))
    waiver = Waiver(version_id=obj.id, rule_id=rule_id, severity=str(rule.severity),
                    reason=reason, granted_by=actor.label[:MAX_ACTOR], created_at=moment,
                    expires_at=until)
    db.session.add(waiver)
    try:
        db.session.flush()  # the partial unique index: one open waiver per version and rule
    except IntegrityError:
        db.session.rollback()
        raise Conflict(in_force_already) from None
    audit.record("waiver.granted", waiver.granted_by, audit.subject_of(obj),
                 {"waiver": waiver.id, "rule": rule_id, "severity": waiver.severity,
                  "reason": reason, "expires_at": format_until(until)})
    db.session.commit()
    return waiver


def _failing(obj: ApiVersion, rule_id: str, moment: datetime) -> Severity | None:
    """The highest severity (after the next gate's overrides) of the rule's ``fail``
    findings for the version, or ``None`` when it does not fail."""
    target = stages.next_stage(obj.stage)
    if target is None:
        return None
    pack = providers.policy_pack()
    policy = pack.stage(target)
    worst: Severity | None = None
    for finding in providers.collect_findings(obj, pack, target, moment):
        if finding.rule_id == rule_id and finding.status == Status.FAIL:
            severity = policy.severity_of(finding)
            if worst is None or severity.rank > worst.rank:
                worst = severity
    return worst


def revoke(name: str, version: str, waiver_id: int, actor: Actor,
           reason: str | None = None, now: datetime | None = None) -> Waiver:
    """End a waiver now; the rule's findings block again.

    :raises NotFound: no such API, version or waiver.
    :raises Conflict: the waiver has expired or was revoked already.
    :raises ValidationFailed: the reason is too long.
    """
    obj = services.get_version(name, version)
    waiver = get_waiver(obj, waiver_id)
    moment = _now(now)
    reason = (reason or "").strip() or None
    if reason is not None and len(reason) > MAX_REASON:
        raise ValidationFailed({"reason": f"At most {MAX_REASON} characters."})
    status = waiver.status_at(moment)
    if status != "active":
        done = "expired" if status == "expired" else "been revoked"
        raise Conflict(f"Waiver {waiver_id} has {done} already.")
    changed = db.session.execute(
        sa.update(Waiver).where(Waiver.id == waiver.id, Waiver.revoked_at.is_(None))
        .values(revoked_at=moment, ended_at=moment, revoked_by=actor.label[:MAX_ACTOR],
                revoke_reason=reason)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        db.session.rollback()
        raise Conflict(f"Waiver {waiver_id} was revoked by another request at the same time.")
    audit.record("waiver.revoked", actor.label[:MAX_ACTOR], audit.subject_of(obj),
                 {"waiver": waiver.id, "rule": waiver.rule_id, "reason": reason})
    db.session.commit()
    db.session.refresh(waiver)
    return waiver

"""The audit trail: every change is chained into it, it is append-only, and `stagegate audit
verify` finds rows edited, deleted or inserted directly in the database (issue 4 point 4)."""

from __future__ import annotations

import hashlib
import json

import pytest
import sqlalchemy as sa
from actorkit import TESTER, as_actor
from evidencekit import SPEC, Issuer

from lifecycle import audit
from lifecycle.audit.models import AuditEntry
from lifecycle.catalog import services
from lifecycle.cli import main
from lifecycle.core import errors
from lifecycle.core.clock import clock
from lifecycle.core.db import AppendOnlyError
from lifecycle.core.extensions import db
from lifecycle.evidence import keys
from lifecycle.evidence import services as evidence
from lifecycle.gates import moves
from specs import SpecLoadError

SUBJECT = "orders@1.0.0"
BROKEN_SPEC = SPEC.replace(b"  version: 1.0.0\n", b"", 1)


def entries() -> list[dict]:
    return list(audit.iter_entries())


def actions() -> list[str]:
    return [e["action"] for e in entries()]


def sql(app, statement: str, **params: object) -> int:
    """Run raw SQL on its own connection (bypassing the ORM and its guards)."""
    with app.app_context(), db.engine.begin() as conn:
        return conn.execute(sa.text(statement), params).rowcount


@pytest.fixture
def trail(app):
    """A version with a short history: created, uploaded, a blocked and a passed promotion,
    a demotion; returns the app (entries 1–8: the first gate decision also generates the
    signing key, which is entry 3)."""
    with app.app_context():
        services.create_api("orders", "Orders API", actor=as_actor("dana@example.com"))
        services.create_version("orders", "1.0.0", actor=as_actor("dana@example.com"))
        with pytest.raises(errors.GateFailed):
            moves.transition("orders", "1.0.0", "development", actor=as_actor("dana@example.com"))
        services.upload_spec("orders", "1.0.0", SPEC, uploader=as_actor("dana@example.com"))
        moves.transition("orders", "1.0.0", "development", actor=as_actor("sam@example.com"))
        moves.transition("orders", "1.0.0", "testing", actor=as_actor("sam@example.com"))
        moves.transition("orders", "1.0.0", "development", reason="wrong build",
                            actor=as_actor("sam@example.com"))
    return app


def verify(app) -> audit.Verification:
    with app.app_context():
        return audit.verify()


# ------------------------------------------------------------------------------ recording
def test_every_change_is_recorded_in_order_with_actor_subject_and_data(trail):
    with trail.app_context():
        got = entries()
    assert [(e["seq"], e["action"], e["actor"], e["subject"]) for e in got] == [
        (1, "api.created", "dana@example.com", "orders"),
        (2, "version.created", "dana@example.com", SUBJECT),
        (3, "signing_key.generated", "stagegate", got[2]["subject"]),
        (4, "gate.blocked", "dana@example.com", SUBJECT),
        (5, "spec.uploaded", "dana@example.com", SUBJECT),
        (6, "transition.promotion", "sam@example.com", SUBJECT),
        (7, "transition.promotion", "sam@example.com", SUBJECT),
        (8, "transition.demotion", "sam@example.com", SUBJECT),
    ]
    assert got[2]["subject"] == f"signing-key:{got[2]['data']['kid']}"
    blocked, uploaded, promoted, demoted = got[3]["data"], got[4]["data"], got[5]["data"], \
        got[7]["data"]
    assert blocked["to"] == "development" and blocked["blocking"] == ["SPEC-VALID"]
    assert blocked["check_run"] and blocked["gate_record"]
    assert uploaded["sha256"] == hashlib.sha256(SPEC).hexdigest()
    assert uploaded["revision"] == 1 and uploaded["valid"] is True
    assert (promoted["from"], promoted["to"]) == ("design", "development")
    assert promoted["gate_record"] and promoted["check_run"] != blocked["check_run"]
    assert demoted == {"from": "testing", "to": "development", "reason": "wrong build",
                       "check_run": None, "gate_record": None}


def test_entries_form_one_hash_chain_over_canonical_json(trail):
    with trail.app_context():
        got = entries()
        head = audit.head()
    previous = "0" * 64
    for entry in got:
        assert entry["prev_hash"] == previous
        body = {k: v for k, v in entry.items() if k != "hash"}
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"),
                               ensure_ascii=False).encode()
        assert entry["hash"] == hashlib.sha256(canonical).hexdigest()
        assert entry["at"].endswith("Z")
        previous = entry["hash"]
    assert head == (8, previous)


def test_a_revert_and_evidence_and_key_events_are_recorded_without_secrets(app):
    issuer = Issuer()
    with app.app_context():
        services.create_api("orders", "Orders API", actor=TESTER)
        services.create_version("orders", "1.0.0", actor=TESTER)
        services.upload_spec("orders", "1.0.0", SPEC, uploader=TESTER)
        services.upload_spec("orders", "1.0.0", BROKEN_SPEC, uploader=TESTER)
        services.upload_spec("orders", "1.0.0", SPEC, uploader=TESTER)  # a revert to revision 1
        services.upload_spec("orders", "1.0.0", SPEC,
                             uploader=TESTER)  # identical again: no change, no entry
        first = keys.generate_key("orders", "1.0.0", actor=as_actor("kim")).kid
        second = keys.rotate_key("orders", "1.0.0", 3600, actor=as_actor("kim")).kid
        evidence.submit_jwks("orders", "1.0.0", json.dumps(issuer.jwks()).encode(),
                             actor=as_actor("kim"))
        public = keys.public_jwks(services.get_version("orders", "1.0.0"))
        token = issuer.token(public)
        evidence.analyse_token("orders", "1.0.0", token, actor=as_actor("kim"))
        evidence.analyse_token("orders", "1.0.0", token, actor=as_actor("kim"))  # known: no entry
        got = entries()
    assert [e["action"] for e in got] == [
        "api.created", "version.created", "spec.uploaded", "spec.uploaded", "spec.reverted",
        "key.generated", "key.rotated", "evidence.jwks_submitted", "evidence.token_analysed"]
    by_action = {e["action"]: e["data"] for e in got}
    assert by_action["spec.reverted"]["revision"] == 1
    assert by_action["key.generated"] == {"kid": first, "alg": "RSA-OAEP-256"}
    assert by_action["key.rotated"]["replaces"] == first
    assert by_action["key.rotated"]["kid"] == second
    assert by_action["evidence.token_analysed"]["fingerprint"] == \
        hashlib.sha256(token.encode()).hexdigest()
    text = json.dumps(got)
    assert token not in text and token.split(".")[1] not in text


def test_an_expired_key_is_recorded_when_it_is_retired(app):
    from datetime import timedelta

    with app.app_context():
        services.create_api("orders", "Orders API", actor=TESTER)
        services.create_version("orders", "1.0.0", actor=TESTER)
        services.upload_spec("orders", "1.0.0", SPEC, uploader=TESTER)
        keys.generate_key("orders", "1.0.0", actor=TESTER)
        old_kid = keys.current_key(services.get_version("orders", "1.0.0")).kid
        keys.rotate_key("orders", "1.0.0", 60, actor=TESTER)
        later = clock() + timedelta(seconds=120)
        keys.retire_expired(services.get_version("orders", "1.0.0"), later)
        last = entries()[-1]
    assert (last["action"], last["actor"], last["data"]["kid"]) == \
        ("key.expired", "stagegate", old_kid)


def test_a_failed_action_leaves_no_entry_and_the_chain_continues(app):
    with app.app_context():
        services.create_api("orders", "Orders API", actor=TESTER)
        with pytest.raises(errors.Conflict):
            services.create_api("orders", "Orders again", actor=TESTER)
        services.create_version("orders", "1.0.0", actor=TESTER)
        with pytest.raises(SpecLoadError):
            services.upload_spec("orders", "1.0.0", b"\xff not a document", uploader=TESTER)
        with pytest.raises(errors.ValidationFailed):
            services.create_version("orders", "not a version!", actor=TESTER)
        services.create_version("orders", "2.0.0", actor=TESTER)
        assert actions() == ["api.created", "version.created", "version.created"]
        assert audit.verify().ok


def test_a_rolled_back_session_forgets_queued_entries(app):
    with app.app_context():
        audit.record("test.queued", "someone", "nothing")
        db.session.rollback()
        services.create_api("orders", "Orders API", actor=TESTER)
        assert actions() == ["api.created"]


def test_record_refuses_values_that_would_not_hash_the_same_everywhere(app):
    with app.app_context():
        with pytest.raises(TypeError, match="float"):
            audit.record("test.float", "a", "s", {"ratio": 0.5})
        with pytest.raises(TypeError):
            audit.record("test.object", "a", "s", {"when": object()})
        with pytest.raises(ValueError):
            audit.record("", "a", "s")
        with pytest.raises(ValueError):
            audit.record("test.big", "a", "s", {"blob": "x" * 20_000})
        db.session.rollback()


def test_future_callers_record_their_own_actions(app):
    with app.app_context():
        audit.record("user.login_failed", "mallory@example.com", "user:mallory@example.com",
                     {"reason": "wrong password"})
        db.session.commit()
        (entry,) = entries()
    assert entry["action"] == "user.login_failed" and entry["seq"] == 1


# ------------------------------------------------------------------------------ append-only
def test_entries_cannot_be_changed_or_deleted_through_the_orm(trail):
    with trail.app_context():
        entry = db.session.get(AuditEntry, 3)
        entry.actor = "mallory"
        with pytest.raises(AppendOnlyError):
            db.session.flush()
        db.session.rollback()
        db.session.delete(db.session.get(AuditEntry, 3))
        with pytest.raises(AppendOnlyError):
            db.session.flush()
        db.session.rollback()
        with pytest.raises(AppendOnlyError):
            db.session.execute(sa.update(AuditEntry).values(actor="mallory"))
        with pytest.raises(AppendOnlyError):
            db.session.execute(sa.delete(AuditEntry).where(AuditEntry.seq == 3))
        db.session.rollback()
        assert audit.verify().ok


# ------------------------------------------------------------------------------ verify
def test_an_untouched_trail_verifies(trail, runner):
    assert verify(trail) == audit.Verification(True, 8, 8, verify(trail).head_hash)
    result = runner.invoke(main, ["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "intact: 8 entries" in result.output


def test_an_empty_trail_verifies(app, runner):
    result = runner.invoke(main, ["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "intact: 0 entries" in result.output


def test_an_entry_edited_with_sql_breaks_the_chain_at_that_entry(trail, runner):
    assert sql(trail, "UPDATE audit_entry SET actor = 'mallory' WHERE seq = 4") == 1
    result = verify(trail)
    assert (result.ok, result.broken_seq, result.head_seq) == (False, 4, 3)
    assert "does not match its hash" in result.problem
    cli = runner.invoke(main, ["audit", "verify"])
    assert cli.exit_code == 1
    assert "BROKEN at entry 4" in cli.output and "changed" in cli.output


def test_a_blocked_decision_rewritten_as_passed_is_found(trail, runner):
    with trail.app_context():
        data = entries()[3]["data"]
    assert data["blocking"] == ["SPEC-VALID"]
    forged = json.dumps({**data, "blocking": []})
    assert sql(trail, "UPDATE audit_entry SET data = :d WHERE seq = 4", d=forged) == 1
    cli = runner.invoke(main, ["audit", "verify"])
    assert cli.exit_code == 1 and "BROKEN at entry 4" in cli.output


def test_an_edit_whose_hash_was_recomputed_breaks_the_link_to_the_next_entry(trail, runner):
    with trail.app_context():
        entry = entries()[3]
    entry["actor"] = "mallory"
    entry["hash"] = audit.entry_hash(entry)
    sql(trail, "UPDATE audit_entry SET actor = 'mallory', hash = :h WHERE seq = 4",
        h=entry["hash"])
    result = verify(trail)
    assert (result.ok, result.broken_seq) == (False, 5)
    assert "prev_hash" in result.problem
    assert "BROKEN at entry 5" in runner.invoke(main, ["audit", "verify"]).output


def test_a_time_edited_by_a_second_is_found(trail):
    with trail.app_context():
        at = db.session.get(AuditEntry, 5).at
    from datetime import timedelta

    with trail.app_context(), db.engine.begin() as conn:
        conn.execute(sa.update(AuditEntry.__table__).where(AuditEntry.__table__.c.seq == 5)
                     .values(at=at + timedelta(seconds=1)))
    assert verify(trail).broken_seq == 5


def test_a_deleted_entry_is_named(trail, runner):
    assert sql(trail, "DELETE FROM audit_entry WHERE seq = 4") == 1
    result = verify(trail)
    assert (result.ok, result.broken_seq) == (False, 4)
    assert "entry 4 is missing" in result.problem
    cli = runner.invoke(main, ["audit", "verify"])
    assert cli.exit_code == 1 and "BROKEN at entry 4" in cli.output


def test_deleting_the_newest_entries_is_found_through_the_chain_head(trail, runner):
    assert sql(trail, "DELETE FROM audit_entry WHERE seq >= 6") == 3
    result = verify(trail)
    assert (result.ok, result.broken_seq) == (False, 6)
    assert "entries 6–8 are missing" in result.problem
    assert runner.invoke(main, ["audit", "verify"]).exit_code == 1


def test_deleting_every_entry_and_the_head_is_found_unless_nothing_ever_happened(trail):
    sql(trail, "DELETE FROM audit_entry WHERE seq >= 2")
    assert verify(trail).broken_seq == 2
    sql(trail, "DELETE FROM audit_head")
    result = verify(trail)
    assert not result.ok and "head row is missing" in result.problem


def test_an_entry_inserted_with_sql_is_found(trail):
    with trail.app_context():
        last = entries()[-1]
    forged = {**last, "seq": 9, "action": "transition.promotion", "prev_hash": last["hash"],
              "actor": "mallory"}
    forged["hash"] = audit.entry_hash(forged)
    with trail.app_context(), db.engine.begin() as conn:
        conn.execute(sa.insert(AuditEntry.__table__).values(
            seq=9, at=audit.parse_time(forged["at"]), actor="mallory", action=forged["action"],
            subject=forged["subject"], data=forged["data"], prev_hash=forged["prev_hash"],
            hash=forged["hash"]))
    result = verify(trail)
    assert (result.ok, result.broken_seq) == (False, 9)
    assert "appended outside Stagegate" in result.problem


# ------------------------------------------------------------------------------ export
def test_export_writes_canonical_json_lines_that_verify_offline(trail, runner, tmp_path):
    result = runner.invoke(main, ["audit", "export"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 8
    parsed = [json.loads(line) for line in lines]
    assert [e["seq"] for e in parsed] == list(range(1, 9))
    assert all(json.dumps(e, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
               == line for e, line in zip(parsed, lines, strict=True))
    export = tmp_path / "audit.jsonl"
    export.write_text(result.output)
    ok = runner.invoke(main, ["audit", "verify", "--file", str(export)])
    assert ok.exit_code == 0 and "intact: 8 entries" in ok.output
    export.write_text(result.output.replace('"sam@example.com"', '"someone@example.com"', 1))
    broken = runner.invoke(main, ["audit", "verify", "--file", str(export)])
    assert broken.exit_code == 1 and "BROKEN at entry 6" in broken.output


def test_export_since_continues_an_earlier_export(trail, runner, tmp_path):
    result = runner.invoke(main, ["audit", "export", "--since", "5"])
    assert [json.loads(line)["seq"] for line in result.output.splitlines()] == [6, 7, 8]
    out = tmp_path / "rest.jsonl"
    assert runner.invoke(main, ["audit", "export", "--since", "5", "-o", str(out)]).exit_code == 0
    assert out.read_text() == result.output
    partial = runner.invoke(main, ["audit", "verify", "--file", str(out)])
    assert partial.exit_code == 0 and "starts at entry 6" in partial.output


def test_verify_file_reports_unreadable_input_with_exit_2(runner, tmp_path):
    assert runner.invoke(main, ["audit", "verify", "--file", str(tmp_path / "no")]).exit_code == 2
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"seq": 1}\nnot json\n')
    assert runner.invoke(main, ["audit", "verify", "--file", str(bad)]).exit_code == 2

"""lifecycle.catalog.services and lifecycle.gates against the real database (migrated schema)
and the real policy engine."""

from __future__ import annotations

from datetime import UTC

import pytest
import sqlalchemy as sa
from actorkit import TESTER, as_actor

from lifecycle.catalog import services
from lifecycle.catalog.models import CheckRun, SpecRevision, Transition
from lifecycle.core import errors
from lifecycle.core.db import AppendOnlyError
from lifecycle.core.extensions import db
from lifecycle.gates import evaluate, moves
from specs import SpecLoadError


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield app


@pytest.fixture
def payments(ctx, demo_spec):
    """API ``payments`` with version 1.0.0 holding the fully compliant document."""
    services.create_api("payments", "Payments API", team="Payments", actor=TESTER)
    services.create_version("payments", "1.0.0", actor=TESTER)
    services.upload_spec("payments", "1.0.0", demo_spec("payments.yaml"),
                         uploader=as_actor("alice"))
    return services.get_version("payments", "1.0.0")


def _move(to, reason=None):
    return moves.transition("payments", "1.0.0", to, reason, actor=as_actor("bob"))


class TestCreate:
    def test_create_api_strips_and_stores_fields_with_aware_utc_time(self, ctx):
        api = services.create_api(" orders ", " Orders API ", "  desc ", team=" ", actor=TESTER)
        assert (api.name, api.title, api.description, api.team) == (
            "orders", "Orders API", "desc", None)
        db.session.expire_all()
        fresh = services.get_api("orders")
        assert fresh.created_at.tzinfo is not None
        assert fresh.created_at.utcoffset() == UTC.utcoffset(None)

    @pytest.mark.parametrize("name", ["", "Payments", "-pay", "pay_ments", "a" * 64, "pay ments"])
    def test_create_api_refuses_a_bad_slug(self, ctx, name):
        with pytest.raises(errors.ValidationFailed) as info:
            services.create_api(name, "Title", actor=TESTER)
        assert set(info.value.errors) == {"name"}

    def test_create_api_needs_a_title_and_bounds_lengths(self, ctx):
        with pytest.raises(errors.ValidationFailed) as info:
            services.create_api("ok", "", description="d" * 2001, team="t" * 101, actor=TESTER)
        assert set(info.value.errors) == {"title", "description", "team"}

    def test_duplicate_api_is_a_conflict(self, ctx):
        services.create_api("payments", "Payments", actor=TESTER)
        with pytest.raises(errors.Conflict):
            services.create_api("payments", "Again", actor=TESTER)

    def test_create_version_starts_in_design(self, ctx):
        services.create_api("payments", "Payments", actor=TESTER)
        version = services.create_version("payments", "1.2.0-rc.1+build.5", actor=TESTER)
        assert version.stage == "design"
        assert evaluate.gate_status(version).target == "development"

    @pytest.mark.parametrize("version", ["", ".1", "1/2", "1 0", "v" * 41])
    def test_create_version_refuses_a_bad_version_string(self, ctx, version):
        services.create_api("payments", "Payments", actor=TESTER)
        with pytest.raises(errors.ValidationFailed) as info:
            services.create_version("payments", version, actor=TESTER)
        assert set(info.value.errors) == {"version"}

    def test_duplicate_version_is_a_conflict_and_unknown_api_not_found(self, ctx):
        services.create_api("payments", "Payments", actor=TESTER)
        services.create_version("payments", "1.0.0", actor=TESTER)
        with pytest.raises(errors.Conflict):
            services.create_version("payments", "1.0.0", actor=TESTER)
        with pytest.raises(errors.NotFound):
            services.create_version("nope", "1.0.0", actor=TESTER)
        with pytest.raises(errors.NotFound):
            services.get_version("payments", "9.9.9")


class TestUpload:
    def test_upload_stores_exact_bytes_and_the_analysis(self, payments, demo_spec):
        raw = demo_spec("payments.yaml")
        rev = payments.current_revision
        assert (rev.number, rev.raw, rev.size, rev.format) == (1, raw, len(raw), "yaml")
        assert (rev.openapi_version, rev.declared_version, rev.valid) == ("3.1", "3.1.0", True)
        assert rev.uploaded_by == "alice"
        assert {f["rule_id"] for f in rev.findings} >= {"SPEC-VALID", "TRN-HTTPS-ONLY"}
        assert all(f["status"] == "pass" for f in rev.findings)

    def test_identical_bytes_return_the_existing_revision(self, payments, demo_spec):
        rev, created = services.upload_spec("payments", "1.0.0", demo_spec("payments.yaml"),
                                            uploader=TESTER)
        assert created is False
        assert rev.id == payments.current_revision.id
        count = db.session.execute(sa.select(sa.func.count(SpecRevision.id))).scalar_one()
        assert count == 1

    def test_new_bytes_make_the_next_revision(self, payments, demo_spec):
        rev, created = services.upload_spec("payments", "1.0.0", demo_spec("orders.json"),
                                            uploader=TESTER)
        assert (created, rev.number, rev.format, rev.openapi_version) == (True, 2, "json", "3.0")
        failing = [f for f in rev.findings if f["status"] == "fail"]
        assert [f["rule_id"] for f in failing] == ["SPEC-OPERATIONS-SECURED"]
        assert failing[0]["line"] == 47

    def test_unreadable_bytes_store_nothing_and_keep_earlier_revisions(self, payments):
        with pytest.raises(SpecLoadError) as info:
            services.upload_spec("payments", "1.0.0", b"openapi: 3.1.0\ninfo: [unclosed\n",
                                 uploader=TESTER)
        assert info.value.line is not None
        db.session.expire_all()
        version = services.get_version("payments", "1.0.0")
        assert [r.number for r in version.revisions] == [1]

    def test_an_upload_over_the_size_limit_is_refused(self, app, payments):
        app.config["SPEC_MAX_BYTES"] = 100
        with pytest.raises(SpecLoadError) as info:
            services.upload_spec("payments", "1.0.0", b"openapi: 3.1.0\n" + b"#" * 200,
                                 uploader=TESTER)
        assert info.value.code == "too_large"


class TestGate:
    def test_without_a_document_every_spec_rule_is_missing_evidence_and_blocks(self, ctx):
        services.create_api("payments", "Payments", actor=TESTER)
        version = services.create_version("payments", "1.0.0", actor=TESTER)
        decision = evaluate.gate_status(version)
        assert decision.passed is False
        assert decision.blocking
        assert {str(f.status) for f in decision.blocking} == {"missing-evidence"}
        assert "SPEC-VALID" in {f.rule_id for f in decision.blocking}

    def test_a_compliant_document_passes_the_spec_gates(self, payments):
        for target in ("development", "testing"):
            assert evaluate.gate_status(payments, target).passed, target

    def test_deployment_blocks_on_missing_token_evidence(self, payments):
        decision = evaluate.gate_status(payments, "deployment")
        assert not decision.passed
        assert all(f.status == "missing-evidence" for f in decision.blocking)

    def test_retired_versions_have_no_next_gate(self, payments):
        _move("retirement", "never shipped")
        assert evaluate.gate_status(services.get_version("payments", "1.0.0")) is None


class TestTransition:
    def test_promotion_records_transition_and_passed_check_run(self, payments):
        record = _move("development")
        assert (record.from_stage, record.to_stage, record.kind, record.actor) == (
            "design", "development", "promotion", "bob")
        assert record.check_run.passed is True
        assert record.check_run.target_stage == "development"
        assert record.check_run.revision_id == payments.current_revision.id
        assert services.get_version("payments", "1.0.0").stage == "development"

    def test_a_blocked_promotion_stores_the_check_run_but_not_the_move(self, ctx):
        services.create_api("payments", "Payments", actor=TESTER)
        services.create_version("payments", "1.0.0", actor=TESTER)
        with pytest.raises(errors.GateFailed) as info:
            _move("development")
        assert info.value.decision.passed is False
        db.session.expire_all()
        assert services.get_version("payments", "1.0.0").stage == "design"
        runs = db.session.execute(sa.select(CheckRun)).scalars().all()
        assert [(r.id, r.passed, r.revision_id) for r in runs] == [
            (info.value.check_run_id, False, None)]
        assert db.session.execute(sa.select(Transition)).first() is None

    def test_demotion_needs_a_reason_and_is_not_gated(self, payments):
        _move("development")
        with pytest.raises(errors.InvalidTransition):
            _move("design")
        record = _move("design", "found a problem")
        assert (record.kind, record.reason, record.check_run_id) == (
            "demotion", "found a problem", None)

    def test_abandon_goes_to_retirement_without_a_gate_and_is_terminal(self, ctx):
        services.create_api("payments", "Payments", actor=TESTER)
        services.create_version("payments", "1.0.0",
                                actor=TESTER)  # no spec: every gate would block
        record = _move("retirement", "superseded by 2.0")
        assert (record.kind, record.check_run_id) == ("retirement", None)
        with pytest.raises(errors.InvalidTransition):
            _move("design", "undo")
        with pytest.raises(errors.Conflict):
            services.upload_spec("payments", "1.0.0", b"openapi: 3.1.0\n", uploader=TESTER)

    def test_history_merges_revisions_and_transitions_in_time_order(self, payments, demo_spec):
        _move("development")
        services.upload_spec("payments", "1.0.0", demo_spec("inventory.yaml"), uploader=TESTER)
        events = services.history(services.get_version("payments", "1.0.0"))
        assert [(e.kind, getattr(e.item, "number", None) or e.item.to_stage) for e in events] == [
            ("revision", 1), ("transition", "development"), ("revision", 2)]
        assert [e.at for e in events] == sorted(e.at for e in events)


class TestListing:
    def test_list_versions_searches_name_title_and_version_and_filters_stage(self, payments):
        services.create_api("orders", "Orders 100% API", actor=TESTER)
        services.create_version("orders", "3.0.0", actor=TESTER)
        _move("development")
        assert [v.api.name for v in services.list_versions()] == ["orders", "payments"]
        assert [v.api.name for v in services.list_versions("PAY")] == ["payments"]
        assert [v.api.name for v in services.list_versions("100%")] == ["orders"]
        assert [v.api.name for v in services.list_versions("_")] == []
        assert [v.version for v in services.list_versions("3.0")] == ["3.0.0"]
        assert [v.api.name for v in services.list_versions(stage="development")] == ["payments"]
        with pytest.raises(errors.ValidationFailed):
            services.list_versions(stage="production")

    def test_list_apis_is_sorted_by_name(self, payments):
        services.create_api("accounts", "Accounts", actor=TESTER)
        assert [a.name for a in services.list_apis()] == ["accounts", "payments"]


class TestAppendOnly:
    def test_records_cannot_be_updated_or_deleted(self, payments):
        record = _move("development")
        record.reason = "rewritten"
        with pytest.raises(AppendOnlyError):
            db.session.flush()
        db.session.rollback()
        revision = db.session.execute(sa.select(SpecRevision)).scalar_one()
        db.session.delete(revision)
        with pytest.raises(AppendOnlyError):
            db.session.flush()
        db.session.rollback()
        with pytest.raises(AppendOnlyError):
            db.session.execute(sa.delete(Transition))
        with pytest.raises(AppendOnlyError):
            db.session.execute(sa.update(CheckRun).values(passed=False))

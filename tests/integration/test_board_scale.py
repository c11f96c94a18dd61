"""The board at scale (issue 8 point 3): stored compliance summaries kept current by every
change and by the periodic tick, a bounded number of SQL queries per page whatever the
number of versions, pagination links, counts per stage and what needs attention first.

The app clock (``CLOCK``) is moved instead of sleeping; the periodic work runs through
:func:`lifecycle.jobs.run_periodic`, as the worker's tick (or the embedded thread's) runs it.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from approvalkit import bearer_for, deployment_ready, request_promotion
from clockkit import Clock
from evidencekit import SPEC, use_fresh_kek

from lifecycle import jobs
from lifecycle.catalog import services
from lifecycle.catalog.models import Api, ApiVersion
from lifecycle.core.actor import Actor
from lifecycle.core.extensions import db
from lifecycle.gates.models import VersionSummary

V = "/api/v1/apis/orders/versions/1.0.0"
RULE = "SPEC-OPERATIONS-SECURED"
#: SPEC with GET /orders/{id} open to anyone (SPEC-OPERATIONS-SECURED, high): blocks testing
PUBLIC_OPERATION = SPEC.replace(b"      responses:", b"      security: []\n      responses:", 1)
APPROVER = "board-approver@stagegate.test"


@pytest.fixture
def clock(app, monkeypatch) -> Clock:
    use_fresh_kek(app, monkeypatch)
    app.config["CLOCK"] = clock = Clock()
    return clock


def summary(app, name: str = "orders", version: str = "1.0.0") -> dict | None:
    """The stored summary row of ``name@version`` as a dict (``None``: none stored)."""
    with app.app_context():
        row = db.session.execute(
            sa.select(VersionSummary).join(ApiVersion, ApiVersion.id == VersionSummary.version_id)
            .join(Api, Api.id == ApiVersion.api_id)
            .where(Api.name == name, ApiVersion.version == version)).scalar_one_or_none()
        if row is None:
            return None
        return {col.key: getattr(row, col.key) for col in VersionSummary.__table__.columns}


def new_version(client, name: str = "orders", version: str = "1.0.0", spec: bytes | None = None,
                stages: tuple[str, ...] = ()) -> str:
    url = f"/api/v1/apis/{name}/versions/{version}"
    if client.get(f"/api/v1/apis/{name}").status_code == 404:
        assert client.post("/api/v1/apis", json={"name": name, "title": name.title(),
                                                 "team": "shop"}).status_code == 201
    assert client.post(f"/api/v1/apis/{name}/versions",
                       json={"version": version}).status_code == 201
    if spec is not None:
        assert client.put(url + "/spec", data=spec).status_code == 201
    for stage in stages:
        assert client.post(url + "/transitions", json={"to": stage}).status_code == 201
    return url


# ------------------------------------------------------------------ summaries stay current
def test_the_summary_follows_creation_upload_and_transition(app, client, clock):
    new_version(client)
    created = summary(app)
    assert created is not None
    assert (created["target_stage"], created["passed"], created["revision_id"]) == \
        ("development", False, None)
    assert created["blocking_missing"] > 0 and created["blocking_failed"] == 0

    assert client.put(V + "/spec", data=SPEC).status_code == 201
    uploaded = summary(app)
    assert uploaded["revision_id"] is not None and uploaded["passed"] is True
    assert uploaded["blocking"] == 0

    assert client.post(V + "/transitions", json={"to": "development"}).status_code == 201
    moved = summary(app)
    assert moved["target_stage"] == "testing"
    assert moved["pack_sha256"] == client.get(V + "/compliance").get_json()["pack_sha256"]


def test_the_summary_counts_failing_rules_apart_from_missing_evidence(app, client, clock):
    new_version(client, spec=PUBLIC_OPERATION, stages=("development",))
    row = summary(app)
    assert (row["target_stage"], row["passed"]) == ("testing", False)
    gate = client.get(V + "/compliance").get_json()
    assert row["blocking"] == len(gate["blocking"]) == row["blocking_failed"] == 1
    assert row["blocking_missing"] == 0


def test_a_waiver_and_its_revocation_and_its_expiry_refresh_the_summary(app, client, clock):
    new_version(client, spec=PUBLIC_OPERATION, stages=("development",))
    assert summary(app)["passed"] is False
    approver = bearer_for(app, APPROVER)
    granted = client.post(V + "/waivers", json={"rule": RULE, "reason": "Fix in 1.1",
                                                "days": 3}, headers=approver)
    assert granted.status_code == 201, granted.get_data(as_text=True)
    waived = summary(app)
    assert waived["passed"] is True
    assert waived["valid_until"] == clock.now + timedelta(days=3)

    revoked = client.post(f"{V}/waivers/{granted.get_json()['id']}/revoke",
                          json={"reason": "Not after all"}, headers=bearer_for(app, APPROVER))
    assert revoked.status_code == 200, revoked.get_data(as_text=True)
    assert summary(app)["passed"] is False and summary(app)["valid_until"] is None

    again = client.post(V + "/waivers", json={"rule": RULE, "reason": "Fix in 1.1", "days": 2},
                        headers=bearer_for(app, APPROVER))
    assert again.status_code == 201
    assert summary(app)["passed"] is True
    clock.now += timedelta(days=1)
    with app.app_context():
        assert jobs.run_periodic(clock) == {"gates.summary.refresh_due": True}
    assert summary(app)["passed"] is True  # not due yet: nothing recomputed
    assert summary(app)["computed_at"] == clock.now - timedelta(days=1)
    clock.now += timedelta(days=1)  # the expiry is exclusive: expired now
    with app.app_context():
        jobs.run_periodic(clock)
    expired = summary(app)
    assert expired["passed"] is False and expired["computed_at"] == clock.now
    assert expired["valid_until"] is None


def test_token_evidence_sets_valid_until_and_ageing_out_is_recomputed_by_the_tick(
        app, client, clock):
    url = deployment_ready(client, clock.unix, team="shop")
    assert url == V
    ready = summary(app)
    assert (ready["target_stage"], ready["passed"]) == ("deployment", True)
    assert ready["valid_until"] == clock.now + timedelta(days=30, seconds=1)

    clock.now += timedelta(days=30)
    with app.app_context():
        jobs.run_periodic(clock)
    assert summary(app)["passed"] is True  # still counts on the last second
    clock.now += timedelta(seconds=1)
    assert summary(app)["passed"] is True  # stored: no view recomputes it
    with app.app_context():
        jobs.run_periodic(clock)
    aged = summary(app)
    assert aged["passed"] is False and aged["blocking_missing"] > 0
    body = client.get("/", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Blocked ·" in body


def test_the_tick_fills_in_missing_summaries_and_those_of_another_pack(app, client, clock):
    new_version(client, spec=SPEC)
    with app.app_context():
        db.session.execute(sa.update(VersionSummary).values(pack_sha256="0" * 64))
        db.session.commit()
        db.session.execute(sa.delete(VersionSummary))
        db.session.commit()
    assert summary(app) is None
    page = client.get("/api/v1/versions").get_json()
    assert [v["badge"] for v in page["versions"]] == ["pending"]
    with app.app_context():
        jobs.run_periodic(clock)
    assert summary(app)["passed"] is True
    with app.app_context():
        db.session.execute(sa.update(VersionSummary).values(pack_sha256="0" * 64))
        db.session.commit()
        jobs.run_periodic(clock)
    assert summary(app)["pack_sha256"] != "0" * 64


# ------------------------------------------------------------------ bounded queries
def _bulk_versions(app, apis: int, per_api: int, first: int = 0) -> None:
    """``apis`` × ``per_api`` versions through the services (summaries by the hook)."""
    with app.app_context():
        for a in range(first, first + apis):
            name = f"bulk-{a:03d}"
            services.create_api(name, f"Bulk {a}", team="shop", actor=Actor.system("test"))
            for v in range(per_api):
                services.create_version(name, f"1.{v}.0", actor=Actor.system("test"))


def _count_queries(app, client, path: str, headers: dict | None = None) -> int:
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    client.get(path, headers=headers or {})  # sign-in and token on the first request
    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        response = client.get(path, headers=headers or {})
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return len(statements)


PAGES = [("/", {}), ("/", {"HX-Request": "true"}), ("/?stage=design&q=bulk", {}),
         ("/api/v1/versions", {}), ("/api/v1/apis", {})]


def test_queries_per_page_are_bounded_and_do_not_grow_with_the_versions(app, client, clock):
    _bulk_versions(app, 2, 5)
    small = {p + str(h): _count_queries(app, client, p, h) for p, h in PAGES}
    _bulk_versions(app, 38, 5, first=2)  # 200 versions in all
    large = {p + str(h): _count_queries(app, client, p, h) for p, h in PAGES}
    assert small == large
    assert max(large.values()) <= 10


# ------------------------------------------------------------------ pagination and counts
def test_the_board_pages_with_links_that_visit_every_version_once(app, client, clock):
    _bulk_versions(app, 3, 3)
    seen, url, pages = [], "/?limit=4", 0
    while url:
        body = client.get(url).get_data(as_text=True)
        pages += 1
        seen += re.findall(r'href="/apis/(bulk-\d+)/versions/([^"]+)"', body)
        found = re.search(r'rel="next" href="([^"]+)"', body)
        url = found.group(1).replace("&amp;", "&") if found else None
        if url:
            assert "limit=4" in url and re.search(r"cursor=\d+", url)
    assert pages == 3
    assert len(seen) == len(set(seen)) == 9


def test_the_board_fragment_carries_the_page_links_and_javascript_off_gets_the_full_page(
        app, client, clock):
    _bulk_versions(app, 1, 3)
    fragment = client.get("/?limit=2", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert fragment.lstrip().startswith('<div id="board"')
    assert 'hx-get="/?limit=2&amp;cursor=2"' in fragment
    full = client.get("/?limit=2&cursor=2").get_data(as_text=True)
    assert "<html" in full and 'rel="prev" href="/?limit=2"' in full
    # a mangled cursor shows the first page, never an error
    assert client.get("/?cursor=%C2%B2").status_code == 200
    assert client.get("/?cursor=-1&limit=abc").status_code == 200


def test_the_rest_lists_page_with_next_links_and_refuse_bad_cursors(app, client, clock):
    _bulk_versions(app, 5, 1)
    first = client.get("/api/v1/apis?limit=2")
    body = first.get_json()
    assert [a["name"] for a in body["apis"]] == ["bulk-000", "bulk-001"]
    assert body["total"] == 5 and body["next"] == "/api/v1/apis?limit=2&cursor=2"
    assert first.headers["Link"] == '</api/v1/apis?limit=2&cursor=2>; rel="next"'
    names = [a["name"] for a in body["apis"]]
    while body["next"]:
        body = client.get(body["next"]).get_json()
        names += [a["name"] for a in body["apis"]]
    assert names == [f"bulk-{i:03d}" for i in range(5)]
    versions = client.get("/api/v1/versions?limit=3&q=bulk").get_json()
    assert versions["next"] == "/api/v1/versions?q=bulk&limit=3&cursor=3"
    for bad in ("cursor=%C2%B2", "cursor=-1", "cursor=1e3", "limit=0", "limit=201",
                "cursor=1234567890"):
        refused = client.get(f"/api/v1/apis?{bad}")
        assert refused.status_code == 422, bad
        assert refused.get_json()["error"] == "validation_failed"
    assert client.get("/api/v1/versions?stage=production").status_code == 422


def test_counts_per_stage_cover_every_page_and_follow_the_name_filter(app, client, clock):
    new_version(client, "alpha", "1.0.0", spec=SPEC, stages=("development",))
    new_version(client, "alpha", "2.0.0")
    new_version(client, "beta", "1.0.0")
    body = client.get("/api/v1/versions?limit=1").get_json()
    assert body["counts"] == {"design": 2, "development": 1, "testing": 0, "deployment": 0,
                              "retirement": 0}
    assert body["total"] == 3 and len(body["versions"]) == 1
    assert client.get("/api/v1/versions?q=beta").get_json()["counts"]["design"] == 1
    page = client.get("/?limit=1").get_data(as_text=True)
    design = page.split('id="col-design"')[1].split("</h2>")[0]
    assert 'aria-label="2 versions">2<' in design


# ------------------------------------------------------------------ attention first
def test_blocked_then_awaiting_approval_then_expiring_then_the_rest(app, client, clock):
    new_version(client, "aaa-ready", spec=SPEC)                      # ready: the rest
    new_version(client, "zzz-blocked", spec=PUBLIC_OPERATION, stages=("development",))
    deployment_ready(client, clock.unix, name="mmm-approval", team="shop")
    assert request_promotion(client, "/api/v1/apis/mmm-approval/versions/1.0.0").status_code \
        == 201
    new_version(client, "kkk-expiring", spec=PUBLIC_OPERATION, stages=("development",))
    granted = client.post("/api/v1/apis/kkk-expiring/versions/1.0.0/waivers",
                          json={"rule": RULE, "reason": "Fix soon", "days": 3},
                          headers=bearer_for(app, APPROVER))
    assert granted.status_code == 201
    listed = client.get("/api/v1/versions").get_json()["versions"]
    assert [(v["api"], v["attention"]) for v in listed] == [
        ("zzz-blocked", "blocked"), ("mmm-approval", "approval"),
        ("kkk-expiring", "expiring"), ("aaa-ready", None)]
    assert listed[0]["blocking_failed"] == 1 and listed[0]["badge"] == "blocked"
    board = client.get("/").get_data(as_text=True)
    order = [board.index(f"/apis/{n}/versions/") for n in ("zzz-blocked", "kkk-expiring")]
    assert order == sorted(order)  # same column (development): blocked first
    assert "Awaiting approval" in board and "expires" in board


def test_beyond_the_picker_limit_the_new_version_form_takes_a_typed_api_name(
        app, client, clock, monkeypatch):
    from lifecycle.web import views

    _bulk_versions(app, 3, 1)
    monkeypatch.setattr(views, "MAX_API_PICKER", 2)
    page = client.get("/").get_data(as_text=True)
    form = page.split('id="new-version-h"')[1].split("</form>")[0]
    assert '<input' in form and 'name="api"' in form and "<option" not in form
    created = client.post("/versions", data={"api": "bulk-002", "version": "9.0.0"})
    assert created.status_code == 303
    assert created.headers["Location"] == "/apis/bulk-002/versions/9.0.0"
    unknown = client.post("/versions", data={"api": "no-such-api", "version": "1.0.0"})
    assert unknown.status_code == 422
    assert "No API named" in unknown.get_data(as_text=True)


def test_the_worker_tick_is_a_procrastinate_periodic_task_that_recomputes_due_summaries(
        app, client, clock, monkeypatch):
    from lifecycle.jobs import backends

    periodic = backends.procrastinate_app.periodic_registry.periodic_tasks
    (registered,) = [p for p in periodic.values() if p.task is backends.tick_task]
    assert registered.cron == "* * * * *"
    new_version(client, spec=SPEC)
    with app.app_context():
        db.session.execute(sa.delete(VersionSummary))
        db.session.commit()
    monkeypatch.setattr(backends, "_worker_flask_app", app)
    backends.tick_task(int(clock.now.timestamp()))  # what the worker runs every minute
    assert summary(app)["passed"] is True

"""Issue 9, point 12: the audit-trail page ``/audit`` for approvers and admins — filters
(subject, actor, action, UTC days), cursor pages, CSV/JSON exports of the filtered entries,
links to the version page and the signed gate record, the chain verification, and clear
messages (never a 500) for bad input."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from auditkit import record_trail

from lifecycle import audit
from lifecycle.core.extensions import db
from lifecycle.web.audit import PAGE_SIZE

HX = {"HX-Request": "true"}


@pytest.fixture
def approver(auth):
    return auth.client("approver")


@pytest.fixture
def trail(app):
    return record_trail(app)


def html(response) -> str:
    return response.get_data(as_text=True)


def seqs(response) -> list[int]:
    return [int(s) for s in re.findall(r'<tr data-seq="(\d+)">', html(response))]


def many(app, count: int) -> None:
    """``count`` entries about ``bulk@1.0.0`` by ``robot`` (one commit)."""
    with app.app_context():
        for i in range(count):
            audit.record("bulk.made", "robot", "bulk@1.0.0", {"i": i})
        db.session.commit()


# ------------------------------------------------------------------ who may read it
@pytest.mark.parametrize("role", ["viewer", "developer"])
def test_viewers_and_developers_are_refused(auth, trail, role):
    client = auth.client(role)
    assert client.get("/audit").status_code == 403
    assert client.get("/audit/export.csv").status_code == 403
    assert client.get("/audit/export.json").status_code == 403
    assert client.post("/audit/verify").status_code == 403
    assert 'href="/audit"' not in html(client.get("/"))  # no nav link either


@pytest.mark.parametrize("role", ["approver", "admin"])
def test_approvers_and_admins_read_it_from_the_nav(auth, trail, role):
    client = auth.client(role)
    assert 'href="/audit"' in html(client.get("/"))
    page = client.get("/audit")
    assert page.status_code == 200
    assert "<h1>Audit trail</h1>" in html(page)
    listed = seqs(page)
    assert listed == sorted(listed, reverse=True) and len(listed) > 5


# ------------------------------------------------------------------ filters
def test_filters_by_subject_actor_action_and_prefix(approver, trail):
    subject = html(approver.get("/audit", query_string={"subject": "orders@2.0.0"}))
    assert "orders@2.0.0" in subject and "orders@1.0.0</a>" not in subject
    actor = approver.get("/audit", query_string={"actor": "dana@example.com"})
    assert "sam@example.com</a>" not in html(actor) and len(seqs(actor)) == 3
    uploads = approver.get("/audit", query_string={"action": "spec.uploaded"})
    assert len(seqs(uploads)) == 2
    prefix = approver.get("/audit", query_string={"action": "transition."})
    assert len(seqs(prefix)) == 1 and "transition.promotion" in html(prefix)
    both = approver.get("/audit", query_string={"actor": "sam@example.com",
                                                 "subject": "billing@1.0.0"})
    assert len(seqs(both)) == 1
    none = approver.get("/audit", query_string={"actor": "nobody@example.com"})
    assert none.status_code == 200 and seqs(none) == []
    assert "No entries match these filters" in html(none)


def test_filters_by_utc_days_both_inclusive(approver, trail):
    today = datetime.now(UTC).date()
    day = today.isoformat()
    everything = len(seqs(approver.get("/audit")))
    assert len(seqs(approver.get("/audit", query_string={"since": day, "until": day}))) \
        == everything
    tomorrow = (today + timedelta(days=1)).isoformat()
    yesterday = (today - timedelta(days=1)).isoformat()
    assert seqs(approver.get("/audit", query_string={"since": tomorrow})) == []
    assert seqs(approver.get("/audit", query_string={"until": yesterday})) == []
    far = approver.get("/audit", query_string={"until": "9999-12-31", "since": "0001-01-01"})
    assert len(seqs(far)) == everything


@pytest.mark.parametrize(("params", "message"), [
    ({"since": "2026-13-45"}, "Use a date like 2026-12-08"),
    ({"until": "yesterday"}, "Use a date like 2026-12-08"),
    ({"since": "2026-12-08", "until": "2026-12-01"}, "The end date is before the start date."),
    ({"before": "abc"}, "The page link is damaged"),
    ({"after": "١٢"}, "The page link is damaged"),  # Arabic-Indic digits
    ({"before": "9" * 40}, "The page link is damaged"),
    ({"actor": "x" * 400}, "Field cannot be longer than 320 characters."),
])
def test_bad_filters_get_a_clear_message_not_a_500(approver, trail, params, message):
    page = approver.get("/audit", query_string=params)
    assert page.status_code == 422
    assert message in html(page)
    fragment = approver.get("/audit", query_string=params, headers=HX)
    assert fragment.status_code == 422 and message in html(fragment)
    export = approver.get("/audit/export.csv", query_string=params)
    if "before" in params or "after" in params:
        assert export.status_code == 200  # exports ignore the page cursor
    else:
        assert export.status_code == 422 and message in html(export)


def test_htmx_gets_the_results_fragment(approver, trail):
    fragment = approver.get("/audit", query_string={"action": "spec.uploaded"}, headers=HX)
    assert fragment.status_code == 200
    assert "<html" not in html(fragment) and 'id="audit-results"' in html(fragment)
    assert "HX-Request" in fragment.headers["Vary"]
    restore = approver.get("/audit", headers={**HX, "HX-History-Restore-Request": "true"})
    assert "<html" in html(restore)


# ------------------------------------------------------------------ pages
def test_cursor_pages_walk_the_trail_both_ways(app, approver, trail):
    many(app, 2 * PAGE_SIZE + 7)
    first = approver.get("/audit", query_string={"actor": "robot"})
    page1 = seqs(first)
    assert len(page1) == PAGE_SIZE
    older = re.search(r'href="(/audit\?[^"]*before=(\d+)[^"]*)"', html(first))
    assert older and "Newer" not in html(first)
    assert "actor=robot" in older.group(1)  # the filter stays
    second = approver.get(older.group(1).replace("&amp;", "&"))
    page2 = seqs(second)
    assert len(page2) == PAGE_SIZE and page2[0] == page1[-1] - 1
    last = approver.get("/audit", query_string={"actor": "robot", "before": page2[-1]})
    page3 = seqs(last)
    assert len(page3) == 7 and "Older" not in html(last)
    newer = re.search(r'href="(/audit\?[^"]*after=(\d+)[^"]*)"', html(last))
    assert newer
    back = seqs(approver.get(newer.group(1).replace("&amp;", "&")))
    assert back == page2
    assert set(page1 + page2 + page3) == set(range(page1[0], page3[-1] - 1, -1))


# ------------------------------------------------------------------ exports
def test_csv_export_has_every_filtered_entry_in_chain_order(app, approver, trail):
    many(app, PAGE_SIZE + 3)  # more than a page: exports are not paged
    response = approver.get("/audit/export.csv", query_string={"actor": "robot"})
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith(
        'attachment; filename="stagegate-audit-')
    rows = list(csv.DictReader(io.StringIO(html(response))))
    assert len(rows) == PAGE_SIZE + 3
    assert list(rows[0]) == ["seq", "at", "actor", "action", "subject", "data", "prev_hash",
                             "hash"]
    assert [int(r["seq"]) for r in rows] == sorted(int(r["seq"]) for r in rows)
    assert {r["actor"] for r in rows} == {"robot"}
    assert json.loads(rows[0]["data"]) == {"i": 0}
    # each row is the entry as hashed: the chain can be checked from the CSV
    entry = {**rows[1], "seq": int(rows[1]["seq"]), "data": json.loads(rows[1]["data"])}
    assert audit.entry_hash(entry) == rows[1]["hash"]
    assert rows[1]["prev_hash"] == rows[0]["hash"]


def test_json_export_matches_the_rest_shape_and_the_filter(approver, trail):
    response = approver.get("/audit/export.json", query_string={"subject": "orders@1.0.0"})
    assert response.status_code == 200 and response.mimetype == "application/json"
    entries = json.loads(html(response))
    rest = approver.get("/api/v1/audit", query_string={"subject": "orders@1.0.0",
                                                        "order": "asc"}).get_json()
    assert entries == rest["entries"]
    assert all(audit.entry_hash(e) == e["hash"] for e in entries)


def test_csv_cells_never_start_a_formula(app, approver):
    with app.app_context():
        audit.record("note.added", "=cmd|' /C calc'!A0", "@SUM(1+1)", {})
        db.session.commit()
    rows = list(csv.reader(io.StringIO(html(approver.get("/audit/export.csv")))))
    assert rows[-1][2] == "'=cmd|' /C calc'!A0" and rows[-1][4] == "'@SUM(1+1)"


# ------------------------------------------------------------------ links and verification
def test_entries_link_to_the_version_page_and_the_signed_gate_record(approver, trail):
    page = html(approver.get("/audit", query_string={"action": "transition.promotion"}))
    assert 'href="/apis/orders/versions/1.0.0">version page</a>' in page
    record = re.search(r'href="(/apis/orders/versions/1\.0\.0/gate-records/[^"]+)">gate record',
                       page)
    assert record
    download = approver.get(record.group(1))
    assert download.status_code == 200
    assert download.mimetype == "application/jose"
    assert download.get_data(as_text=True).count(".") == 2  # a compact JWS
    created = html(approver.get("/audit", query_string={"action": "api.created"}))
    assert 'href="/apis/orders">API page</a>' in created
    missing = approver.get("/apis/orders/versions/1.0.0/gate-records/no-such-record")
    assert missing.status_code == 404


def test_the_chain_is_verified_on_request(approver, trail):
    page = html(approver.get("/audit"))
    assert "Verify the chain now" in page and "Chain intact" not in page
    done = approver.post("/audit/verify")
    assert done.status_code == 200
    assert "Chain intact" in html(done) and "<h1>Audit trail</h1>" in html(done)
    fragment = approver.post("/audit/verify", headers=HX)
    assert "Chain intact" in html(fragment) and "<html" not in html(fragment)

"""REST: ``GET /api/v1/audit`` (filters, cursor paging) and ``GET /api/v1/audit.jsonl``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from auditkit import record_trail

from lifecycle import audit


@pytest.fixture
def client(auth):
    """An approver: approvers and admins read the audit trail."""
    return auth.client("approver")


@pytest.fixture
def trail(app):
    return record_trail(app)


def get(client, **params):
    response = client.get("/api/v1/audit", query_string=params)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_the_newest_entries_come_first_with_the_chain_head(trail, client):
    body = get(client)
    seqs = [e["seq"] for e in body["entries"]]
    assert seqs == sorted(seqs, reverse=True) and seqs[0] == body["head"]["seq"]
    assert body["head"]["hash"] == body["entries"][0]["hash"]
    assert body["next_cursor"] is None
    first = body["entries"][-1]
    assert set(first) == {"seq", "at", "actor", "action", "subject", "data", "prev_hash",
                          "hash"}


def test_filters_select_by_actor_action_prefix_and_subject(trail, client):
    assert {e["actor"] for e in get(client, actor="dana@example.com")["entries"]} == \
        {"dana@example.com"}
    uploads = get(client, action="spec.uploaded")["entries"]
    assert [e["subject"] for e in uploads] == ["orders@2.0.0", "orders@1.0.0"]
    prefix = get(client, action="transition.")["entries"]
    assert [e["action"] for e in prefix] == ["transition.promotion"]
    one = get(client, subject="orders@1.0.0", order="asc")["entries"]
    assert [e["action"] for e in one] == ["version.created", "spec.uploaded",
                                          "transition.promotion"]
    assert get(client, actor="nobody")["entries"] == []


def test_time_filters_are_inclusive_since_and_exclusive_until(trail, client):
    everything = get(client, order="asc")["entries"]
    third = everything[2]["at"]
    since = get(client, since=third, order="asc")["entries"]
    assert since[0]["seq"] == everything[2]["seq"]
    until = get(client, until=third, order="asc")["entries"]
    assert until[-1]["seq"] == everything[1]["seq"]
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    assert get(client, since=tomorrow)["entries"] == []
    assert len(get(client, until=tomorrow)["entries"]) == len(everything)


@pytest.mark.parametrize("order", ["desc", "asc"])
def test_cursor_paging_returns_every_entry_exactly_once(trail, client, order):
    seen, cursor = [], None
    for _ in range(20):
        params = {"limit": 3, "order": order, **({"cursor": cursor} if cursor else {})}
        body = get(client, **params)
        assert len(body["entries"]) <= 3
        seen += [e["seq"] for e in body["entries"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    head = get(client)["head"]["seq"]
    expected = list(range(1, head + 1))
    assert seen == (expected if order == "asc" else expected[::-1])


@pytest.mark.parametrize("params", [{"limit": "0"}, {"limit": "501"}, {"limit": "ten"},
                                    {"cursor": "-1"}, {"since": "yesterday"},
                                    {"until": "2026-13-45"}, {"order": "random"},
                                    {"limit": "9" * 40}])
def test_bad_parameters_are_422_not_500(trail, client, params):
    response = client.get("/api/v1/audit", query_string=params)
    assert response.status_code == 422
    assert response.get_json()["error"] == "validation_failed"


def test_the_json_lines_export_is_a_download_of_the_verifiable_chain(trail, client):
    response = client.get("/api/v1/audit.jsonl")
    assert response.status_code == 200
    assert response.mimetype == "application/jsonl"
    assert "attachment" in response.headers["Content-Disposition"]
    lines = response.get_data(as_text=True).splitlines()
    entries = [json.loads(line) for line in lines]
    assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))
    result = audit.verify_chain(entries, (entries[-1]["seq"], entries[-1]["hash"]))
    assert result.ok and result.entries == len(entries)


def test_the_export_takes_the_same_filters_and_after(trail, client):
    body = client.get("/api/v1/audit.jsonl", query_string={"actor": "sam@example.com",
                                                            "after": 3})
    entries = [json.loads(line) for line in body.get_data(as_text=True).splitlines()]
    assert entries and all(e["actor"] == "sam@example.com" and e["seq"] > 3 for e in entries)

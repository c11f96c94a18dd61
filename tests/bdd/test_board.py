"""The board puts what needs attention first (features/lifecycle/board_attention.feature)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from approvalkit import bearer_for
from clockkit import Clock
from pytest_bdd import parsers, scenarios, then, when

from lifecycle import jobs

scenarios("lifecycle/board_attention.feature")

APPROVER = "board-waiver-approver@stagegate.test"


@pytest.fixture(autouse=True)
def clock(app) -> Clock:
    app.config["CLOCK"] = moved = Clock()
    return moved


@when(parsers.parse('an approver waives "{rule}" for {days:d} days'))
def _(client, version_url, rule, days):
    response = client.post(f"{version_url}/waivers",
                           json={"rule": rule, "reason": "Fix in the next release",
                                 "days": days},
                           headers=bearer_for(client.application, APPROVER))
    assert response.status_code == 201, response.get_data(as_text=True)


@when(parsers.parse("{days:d} days pass and the board's periodic check runs"))
def _(app, clock, days):
    clock.now += timedelta(days=days)
    with app.app_context():
        assert all(jobs.run_periodic(clock).values())


@then(parsers.parse('the board lists "{name}" first, as {attention}'))
def _(client, name, attention):
    listed = client.get("/api/v1/versions").get_json()["versions"]
    assert (listed[0]["api"], listed[0]["attention"]) == (name, attention)
    page = client.get("/", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert f'data-attention="{attention}"' in page


@then(parsers.parse('the board counts {design:d} version in "design" and {development:d} in '
                    '"development"'))
def _(client, design, development):
    counts = client.get("/api/v1/versions").get_json()["counts"]
    assert (counts["design"], counts["development"]) == (design, development)

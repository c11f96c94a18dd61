"""The board's read cache (issue 8, the load run): a repeated board view reads one
generation row instead of the cards, every committed change — made by this process or by
any other — is seen at the next view, and what escapes the generation (rows written outside
the ORM) is served for at most ``BOARD_CACHE_SECONDS`` of the clock.

``make_app`` builds a second app on the same database: another process, with a cache of
its own (``app.extensions``), as another gunicorn worker would be.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from clockkit import Clock
from test_board_scale import _count_queries

from lifecycle.catalog import services
from lifecycle.core.actor import Actor
from lifecycle.core.extensions import db
from lifecycle.review import board_cache

SYSTEM = Actor.system("test")


@pytest.fixture
def clock(app) -> Clock:
    app.config["CLOCK"] = clock = Clock()
    return clock


def _new_api(app, name: str, version: str = "1.0.0") -> None:
    with app.app_context():
        services.create_api(name, name.title(), team="shop", actor=SYSTEM)
        services.create_version(name, version, actor=SYSTEM)


def _board(client) -> str:
    """The board's cards (the htmx fragment: no forms, whose API list is read uncached)."""
    response = client.get("/", headers={"HX-Request": "true"})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _generation(app) -> int | None:
    with app.app_context():
        return board_cache.generation()


def test_a_repeated_view_reads_the_generation_instead_of_the_cards(app, client, clock):
    _new_api(app, "orders")
    _board(client)
    seconds = app.config["BOARD_CACHE_SECONDS"]
    cached = _count_queries(app, client, "/")
    app.config["BOARD_CACHE_SECONDS"] = 0
    uncached = _count_queries(app, client, "/")
    app.config["BOARD_CACHE_SECONDS"] = seconds
    assert cached == uncached - 1  # counts + page (2 queries) → the generation row (1)


def test_a_change_committed_here_is_on_the_next_view(app, client, clock):
    _new_api(app, "orders")
    assert "Orders" in _board(client)
    before = _generation(app)
    _new_api(app, "billing")
    assert _generation(app) > before
    assert "Billing" in _board(client)
    with app.app_context():
        services.create_version("orders", "2.0.0", actor=SYSTEM)
    assert "2.0.0" in _board(client)


def test_a_change_committed_by_another_process_is_on_the_next_view(app, client, make_app,
                                                                   clock):
    other = make_app()
    other.config["CLOCK"] = clock
    _new_api(app, "orders")
    assert "Orders" in _board(client)
    _new_api(other, "billing")  # the other worker's commit increments the shared row
    assert "Billing" in _board(client)


def test_a_rolled_back_change_does_not_move_the_generation(app, client, clock):
    _new_api(app, "orders")
    before = _generation(app)
    with app.app_context():
        services.create_api("ghost", "Ghost", team="shop", actor=SYSTEM)
    after_create = _generation(app)
    with app.app_context():
        api = services.get_api("ghost")
        api.title = "Renamed"
        db.session.flush()
        db.session.rollback()
    assert after_create > before
    assert _generation(app) == after_create


def test_rows_written_outside_the_orm_are_served_at_most_the_configured_seconds(
        app, client, clock):
    app.config["BOARD_CACHE_SECONDS"] = 30
    _new_api(app, "orders")
    assert "Orders" in _board(client)
    with app.app_context(), db.engine.begin() as conn:  # no session: no increment
        conn.execute(sa.text("UPDATE api SET title = 'Renamed outside' WHERE name = 'orders'"))
    assert "Renamed outside" not in _board(client)  # the cached page, 0 s old
    clock.now += timedelta(seconds=29)
    assert "Renamed outside" not in _board(client)
    clock.now += timedelta(seconds=1)
    assert "Renamed outside" in _board(client)


def test_without_the_generation_row_the_board_reads_directly_until_a_change_restores_it(
        app, client, clock):
    _new_api(app, "orders")
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM board_generation"))
        conn.execute(sa.text("UPDATE api SET title = 'Seen at once' WHERE name = 'orders'"))
    assert _generation(app) is None
    assert "Seen at once" in _board(client)
    _new_api(app, "billing")
    assert _generation(app) is not None
    assert "Billing" in _board(client)


def test_the_new_version_form_lists_an_api_created_after_the_last_view(app, client, clock):
    _new_api(app, "orders")
    assert 'value="orders"' in client.get("/").get_data(as_text=True)
    _new_api(app, "billing")
    page = client.get("/").get_data(as_text=True)
    assert 'value="billing"' in page and 'value="orders"' in page

"""Shared fixtures in the Pallets shape: ``app``, ``client``, ``runner``.

The database: ``TEST_DATABASE_URL`` when set (a PostgreSQL server: a fresh, uniquely named
database is created for the test session and dropped at its end), otherwise a temporary SQLite
file.  The schema is built once per session by running the Alembic migrations (which proves
them); every test starts with empty tables.
"""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path

import flask_migrate
import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from lifecycle import create_app
from lifecycle.crypto_store import encode_kek
from lifecycle.extensions import db

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "").strip() or None
DEMO_SPECS = Path(__file__).resolve().parents[1] / "lifecycle" / "demo" / "specs"


def _sqlalchemy_url(url: str) -> sa.URL:
    """``url`` with the psycopg 3 driver for PostgreSQL."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _libpq(url: sa.URL) -> str:
    """A libpq connection URI (what :func:`psycopg.connect` takes) for ``url``."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The SQLAlchemy URL of this session's database (created here, removed at the end)."""
    if TEST_DATABASE_URL is None:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'stagegate.sqlite'}"
        return
    import psycopg
    from psycopg import sql

    server = _sqlalchemy_url(TEST_DATABASE_URL)
    name = f"stagegate_test_{uuid.uuid4().hex[:12]}"
    # Fails (an error, not a skip) when TEST_DATABASE_URL is set but the server is unreachable.
    with psycopg.connect(_libpq(server), autocommit=True, connect_timeout=10) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(_libpq(server), autocommit=True, connect_timeout=10) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


#: a fresh key-encryption key per test session, so tests never create one in instance/
TEST_KEK = encode_kek(secrets.token_bytes(32))


def _config(database_url: str) -> dict[str, object]:
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SECRET_KEY": "test-only-secret",
        "KEY_ENCRYPTION_KEY": TEST_KEK,
        "WTF_CSRF_ENABLED": False,
    }


@pytest.fixture(scope="session")
def _schema(database_url: str) -> None:
    """Build the schema once per session with the migrations (never ``create_all``)."""
    app = create_app(_config(database_url))
    with app.app_context():
        flask_migrate.upgrade()
        db.engine.dispose()


@pytest.fixture
def app(database_url: str, _schema: None) -> Iterator[Flask]:
    """A fresh app on the session database; its tables are emptied after the test."""
    app = create_app(_config(database_url))
    yield app
    with app.app_context():
        db.session.rollback()
        with db.engine.begin() as conn:
            for table in reversed(db.metadata.sorted_tables):
                conn.execute(table.delete())
        db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client for ``app``."""
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    """A CLI runner for ``app``'s commands."""
    return app.test_cli_runner()


@pytest.fixture
def postgres(app: Flask) -> Flask:
    """The app, on PostgreSQL; for tests that need a real concurrent server (marker
    ``postgres``).

    Skips only when ``TEST_DATABASE_URL`` is unset (CI sets it); fails when it is set but
    the server cannot be used.
    """
    if TEST_DATABASE_URL is None:
        pytest.skip("TEST_DATABASE_URL is not set: this test needs PostgreSQL")
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.fail(f"TEST_DATABASE_URL is not a PostgreSQL URL ({db.engine.dialect.name})")
        try:
            with db.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except sa.exc.OperationalError as exc:
            pytest.fail(f"PostgreSQL at TEST_DATABASE_URL is unreachable: {exc}")
    return app


@pytest.fixture
def demo_spec():
    """Bytes of a demo document by file name (``payments.yaml`` passes every gate)."""
    return lambda name: (DEMO_SPECS / name).read_bytes()

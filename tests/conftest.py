"""Shared fixtures in the Pallets shape: ``app``, ``client``, ``runner``, ``auth``.

Every app's test clients are :class:`StagegateClient`: signed in (lazily, at the first
request) with the least privilege — a *developer* of team ``shop`` (``client``) — through the
session for the web UI and a bearer access token for ``/api/``.  A test that needs more signs
in as that role explicitly: ``auth.client("approver")``, ``auth.client("admin")`` (a new user
with exactly those roles).  ``app.test_client(user=None)`` (fixture ``anon``) is anonymous.

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
from accountkit import (
    DEVELOPER_EMAIL,
    DEVELOPER_ROLES,
    DEVELOPER_TEAMS,
    PASSWORD,
    access_token_for,
    make_user,
)
from clockkit import Clock
from contractkit import responses_checked
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from werkzeug.datastructures import Headers

from lifecycle.app import create_app
from lifecycle.core.crypto_store import encode_kek
from lifecycle.core.extensions import db

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
        "JOBS_TICK_SECONDS": 0,  # tests run periodic work explicitly (jobs.run_periodic)
    }


@pytest.fixture(scope="session")
def _schema(database_url: str) -> None:
    """Build the schema once per session with the migrations (never ``create_all``)."""
    app = create_app(_config(database_url))
    with app.app_context():
        flask_migrate.upgrade()
        db.engine.dispose()


# ------------------------------------------------------------------ accounts
class StagegateClient(FlaskClient):
    """A test client signed in as ``user`` (an email; ``None``: anonymous), lazily: the
    session at the first request, a bearer token at the first ``/api/`` request that sends
    no ``Authorization`` of its own.  When a test moves the app clock (``CLOCK``) by more
    than a minute, the session and token are renewed, as a person would sign in again.

    Installed on every Flask app of the test session (:func:`_stagegate_clients`); the
    default developer is created on demand in apps a test builds itself.
    """

    def __init__(self, *args: object, user: str | None = DEVELOPER_EMAIL, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.user_email = user
        self.bearer: str | None = None
        self._synced: float | None = None
        self._minted: float | None = None

    def _clock(self) -> float:
        from lifecycle.core.clock import clock

        with self.application.app_context():
            return clock().timestamp()

    def _user(self) -> object:
        from lifecycle.accounts.services import user_by_email

        user = user_by_email(self.user_email or "")
        if user is None and self.user_email == DEVELOPER_EMAIL:
            user = make_user(DEVELOPER_EMAIL, DEVELOPER_ROLES, teams=DEVELOPER_TEAMS)
        return user

    def sign_in(self) -> None:
        """Start the web session now (again)."""
        from lifecycle.accounts import sessions

        self._synced = self._clock()
        if self.user_email is None:
            return
        with self.application.app_context():
            data = sessions.session_data(self._user())
        with self.session_transaction() as session:
            session.update(data)

    def mint(self) -> str:
        """Mint the bearer token now (again)."""
        self._minted = self._clock()
        with self.application.app_context():
            self._user()
            self.bearer = access_token_for(str(self.user_email))
        return self.bearer

    def open(self, *args: object, **kwargs: object):  # type: ignore[override]
        if self.user_email is None:
            return super().open(*args, **kwargs)
        now = self._clock()
        path = args[0] if args and isinstance(args[0], str) else ""
        if path.startswith("/api/") and not path.startswith("/api/v1/token"):
            headers = Headers(kwargs.get("headers") or {})  # type: ignore[arg-type]
            if "Authorization" not in headers:
                if self._minted is None or abs(now - self._minted) > 60:
                    self.mint()
                headers["Authorization"] = f"Bearer {self.bearer}"
            kwargs["headers"] = headers
        elif self._synced is None or abs(now - self._synced) > 60:
            self.sign_in()
        return super().open(*args, **kwargs)


@pytest.fixture(autouse=True)
def _stagegate_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every app's ``test_client()`` is a :class:`StagegateClient`."""
    monkeypatch.setattr(Flask, "test_client_class", StagegateClient)


def _empty_tables(app: Flask) -> None:
    """Delete every row (children first) and close ``app``'s connections."""
    with app.app_context():
        db.session.rollback()
        with db.engine.begin() as conn:
            for table in reversed(db.metadata.sorted_tables):
                conn.execute(table.delete())
        db.engine.dispose()


@pytest.fixture
def app(database_url: str, _schema: None) -> Iterator[Flask]:
    """A fresh app on the session database; its tables are emptied after the test.  The
    default developer is created when a default client first signs in."""
    app = create_app(_config(database_url))
    yield app
    _empty_tables(app)


@pytest.fixture(scope="module")
def module_app(database_url: str, _schema: None) -> Iterator[Flask]:
    """One app shared by every test of a module (for modules whose tests build on costly
    state, e.g. the corpus checked through every entrypoint); its test clients are
    :class:`StagegateClient`, its tables are emptied after the module.  Not for modules that
    also use ``app`` (which empties the same tables after each test)."""
    app = create_app(_config(database_url))
    app.test_client_class = StagegateClient
    yield app
    _empty_tables(app)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client for ``app``, signed in as the developer of team ``shop``."""
    return app.test_client()


@pytest.fixture
def make_app(app: Flask, database_url: str) -> Iterator[object]:
    """Another app on the test database with settings changed (``make_app(KEY=value)``);
    its rows are removed with ``app``'s, its connections closed after the test."""
    made: list[Flask] = []

    def make(**overrides: object) -> Flask:
        made.append(create_app({**_config(database_url), **overrides}))
        return made[-1]

    yield make
    for other in made:
        with other.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def anon(app: Flask) -> FlaskClient:
    """An anonymous test client."""
    return app.test_client(user=None)


class Auth:
    """Users of given roles, and clients signed in as them (Pallets' ``auth`` helper)."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._count = 0

    def user(self, *roles: str, teams: tuple[str, ...] = (), email: str | None = None,
             totp: bool | None = None, active: bool = True) -> object:
        """A new user with exactly ``roles`` (``teams`` joined)."""
        self._count += 1
        email = email or f"{'-'.join(roles) or 'reader'}{self._count}@stagegate.test"
        with self.app.app_context():
            user = make_user(email, roles, teams=teams, totp=totp, active=active)
            db.session.refresh(user)
            db.session.expunge(user)
        return user

    def client(self, *roles: str, teams: tuple[str, ...] = ()) -> StagegateClient:
        """A client signed in as a new user with ``roles``."""
        user = self.user(*roles, teams=teams)
        return self.app.test_client(user=user.email)  # type: ignore[attr-defined,return-value]

    def token(self, email: str) -> str:
        """A fresh access token for ``email``."""
        with self.app.app_context():
            return access_token_for(email)

    def login(self, client: FlaskClient, email: str, password: str = PASSWORD,
              follow_redirects: bool = False):
        """Sign in through the real login form (first step)."""
        return client.post("/login", data={"email": email, "password": password},
                           follow_redirects=follow_redirects)


@pytest.fixture
def auth(app: Flask) -> Auth:
    """The :class:`Auth` helper for ``app``."""
    return Auth(app)


@pytest.fixture
def clock(app: Flask) -> Clock:
    """A movable app clock (``CLOCK``), now in whole seconds; move ``clock.now``."""
    app.config["CLOCK"] = clock = Clock()
    return clock


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


@pytest.fixture(autouse=True)
def _contract(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every REST response a test provokes must match ``lifecycle/api/openapi.yaml`` (but in
    tests marked ``outside_contract``, which add routes of their own)."""
    if request.node.get_closest_marker("outside_contract"):
        yield
        return
    violations: list[str] = []
    with responses_checked(violations):
        yield
    assert not violations, "responses that break the API contract:\n" + "\n".join(violations)

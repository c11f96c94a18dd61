"""Browser tests: the app on 127.0.0.1 in a thread, Debian's Chromium through Playwright.

- Chromium is ``/usr/bin/chromium`` (never ``playwright install``: no internet).  When it
  is missing every browser test FAILS, unless ``STAGEGATE_BROWSER_OPTIONAL=1`` (then they
  are skipped).  CI never sets that variable.
- The vendor files (htmx) must be in ``lifecycle/static/vendor/``: the session runs
  ``scripts/assets.py`` when they are missing and fails with a message if it cannot.
- The server uses a fresh SQLite file migrated with ``flask_migrate.upgrade()`` and CSRF on,
  so the htmx ``X-CSRFToken`` header is exercised for real.
- Browser contexts start signed in as the default developer (a session cookie signed with the
  app's key, as the login form would set); ``test_login.py`` signs in through the real form
  with a second factor in a context of its own.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from accountkit import DEVELOPER_EMAIL, DEVELOPER_ROLES, DEVELOPER_TEAMS, make_user
from flask import Flask
from flask_migrate import upgrade
from werkzeug.serving import make_server

from lifecycle.app import create_app
from lifecycle.core.crypto_store import encode_kek

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("STAGEGATE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",  # tests run as root
    "--disable-gpu",
    # stop Chromium from reaching the internet
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test in this folder drives the browser: mark it ``browser``."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    """Debian's Chromium, or fail (skip only with ``STAGEGATE_BROWSER_OPTIONAL=1``)."""
    if CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    message = (f"Chromium not found at {CHROMIUM}: `apt-get install -y chromium` "
               "(set STAGEGATE_BROWSER_OPTIONAL=1 to skip browser tests on this machine)")
    if os.environ.get("STAGEGATE_BROWSER_OPTIONAL") == "1":
        pytest.skip(message)
    pytest.fail(message, pytrace=False)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict, chromium_path: Path) -> dict:
    """Launch Debian's Chromium instead of a Playwright-downloaded build."""
    return {**browser_type_launch_args, "executable_path": str(chromium_path),
            "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def vendor_assets() -> None:
    """Make sure htmx is in ``lifecycle/static/vendor/`` (run scripts/assets.py if not)."""
    script = ROOT / "scripts" / "assets.py"
    check = subprocess.run([sys.executable, str(script), "--check"], capture_output=True,
                           text=True)
    if check.returncode == 0:
        return
    copy = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    if copy.returncode != 0:
        pytest.fail(
            "Front-end vendor files are missing and could not be copied: "
            f"{copy.stderr.strip()} — run `npm ci && python scripts/assets.py` first.",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def live_app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    """The app the live server serves: a fresh SQLite file, CSRF on, a test KEK, and the
    default developer (teams shop and Checkout; least privilege) the default browser context
    is signed in as."""
    db_file = tmp_path_factory.mktemp("live") / "stagegate.sqlite"
    app = create_app({
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_file}",
        "SECRET_KEY": "browser-tests",
        "WTF_CSRF_ENABLED": True,
        "KEY_ENCRYPTION_KEY": encode_kek(secrets.token_bytes(32)),
        "ACCESS_TOKEN_SECONDS": 900,
    })
    with app.app_context():
        upgrade()
        make_user(DEVELOPER_EMAIL, DEVELOPER_ROLES, teams=DEVELOPER_TEAMS)
    return app


@pytest.fixture(scope="session")
def live_server(live_app: Flask, vendor_assets: None) -> Iterator[str]:
    """Base URL of the app served on 127.0.0.1 and a free port, in a thread."""
    app = live_app
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture(scope="session")
def base_url(live_server: str) -> str:
    """pytest-playwright gives contexts this base URL, so ``page.goto("/")`` works."""
    return live_server


def session_cookie(app: Flask, email: str) -> dict:
    """A Playwright cookie holding a signed-in session of ``email`` on ``app`` (what the
    login form would have set)."""
    from flask.sessions import SecureCookieSessionInterface

    from lifecycle.accounts import sessions
    from lifecycle.accounts.services import user_by_email

    with app.app_context():
        data = sessions.session_data(user_by_email(email))
    value = SecureCookieSessionInterface().get_signing_serializer(app).dumps(data)
    return {"name": app.config["SESSION_COOKIE_NAME"], "value": value, "domain": "127.0.0.1",
            "path": "/", "expires": -1, "httpOnly": True, "secure": False, "sameSite": "Lax"}


@pytest.fixture(scope="session")
def signed_in(live_app: Flask) -> dict:
    """Context arguments of a browser signed in as the default developer: the session cookie for
    the pages, and a bearer access token (15 minutes) for ``page.request`` calls to the
    REST API.  Pass them to ``browser.new_context(**signed_in, ...)`` too."""
    from accountkit import access_token_for

    with live_app.app_context():
        token = access_token_for(DEVELOPER_EMAIL)
    return {"storage_state": {"cookies": [session_cookie(live_app, DEVELOPER_EMAIL)],
                              "origins": []},
            "extra_http_headers": {"Authorization": f"Bearer {token}"}}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict, signed_in: dict) -> dict:
    """A laptop-sized viewport (the screenshot's size), signed in as the default developer."""
    return {**browser_context_args, "viewport": {"width": 1280, "height": 860}, **signed_in}


@pytest.fixture(scope="session")
def cookie_of(live_app: Flask) -> Callable[[str], dict]:
    """``cookie_of(email)``: the session cookie of ``email`` (see :func:`session_cookie`), for
    contexts signed in as another user: ``browser.new_context(storage_state={"cookies":
    [cookie_of(email)], "origins": []})``."""
    return lambda email: session_cookie(live_app, email)

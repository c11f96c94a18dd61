"""Browser tests: the app on 127.0.0.1 in a thread, Debian's Chromium through Playwright.

- Chromium is ``/usr/bin/chromium`` (never ``playwright install``: no internet).  When it
  is missing every browser test FAILS, unless ``STAGEGATE_BROWSER_OPTIONAL=1`` (then they
  are skipped).  CI never sets that variable.
- The vendor files (htmx) must be in ``lifecycle/static/vendor/``: the session runs
  ``scripts/assets.py`` when they are missing and fails with a message if it cannot.
- The server uses a fresh SQLite file migrated with ``flask_migrate.upgrade()`` and CSRF on,
  so the htmx ``X-CSRFToken`` header is exercised for real.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask_migrate import upgrade
from werkzeug.serving import make_server

from lifecycle import create_app

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
def live_server(tmp_path_factory: pytest.TempPathFactory, vendor_assets: None) -> Iterator[str]:
    """Base URL of the app served on 127.0.0.1 and a free port, in a thread."""
    db_file = tmp_path_factory.mktemp("live") / "stagegate.sqlite"
    app = create_app({
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_file}",
        "SECRET_KEY": "browser-tests",
        "WTF_CSRF_ENABLED": True,
    })
    with app.app_context():
        upgrade()
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


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict) -> dict:
    """A laptop-sized viewport (the screenshot's size)."""
    return {**browser_context_args, "viewport": {"width": 1280, "height": 860}}

"""The Gateway panel in a real browser (issue 11, acceptance 4): on a version whose spec
declares a token profile, save the gateway settings and generate the configuration through
the page, press "Run proof", watch the job fragment (htmx polls it) and then read the attack
table of a proof that ran against Debian's REAL nginx — without the page being reloaded.

The live server runs in this process on SQLite, so the proof job runs on the embedded job
thread; the test holds the job at its start until it has seen the progress fragment (no
timing assumption), as ``test_large_upload.py`` does.  It needs ``/usr/sbin/nginx`` (or
``GATEWAY_NGINX``), which ``make test`` installs like Chromium.  The panel is then checked at
a phone's width (390 px): nothing wider than the screen.  Set
``STAGEGATE_GATEWAY_SCREENSHOT=path.png`` to also write pictures of the panel (``path.png``
at 1280 px, ``path-390.png`` at 390 px).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from evidencekit import GATEWAY_SETTINGS, SPEC
from playwright.sync_api import Page, expect

from lifecycle.gateway import services as gateway


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """Proof jobs wait for this event before nginx starts."""
    release = threading.Event()
    original = gateway.prove

    def waiting(*args: Any, **kwargs: Any) -> Any:
        release.wait(timeout=60)
        return original(*args, **kwargs)

    monkeypatch.setattr(gateway, "prove", waiting)
    yield release
    release.set()


def test_run_a_proof_from_the_gateway_panel_and_read_the_attack_table(
        page: Page, held: threading.Event) -> None:
    request = page.request
    assert request.post("/api/v1/apis", data={"name": "shipping", "title": "Shipping API",
                                             "team": "Checkout"}).ok
    assert request.post("/api/v1/apis/shipping/versions", data={"version": "1.0.0"}).ok
    assert request.put("/api/v1/apis/shipping/versions/1.0.0/spec", data=SPEC,
                       headers={"Content-Type": "application/yaml"}).status == 201
    page.goto("/apis/shipping/versions/1.0.0")
    page.evaluate("window.__stagegateMarker = 'still here'")
    panel = page.locator("#gateway")
    expect(panel.get_by_role("heading", name="Gateway", exact=True)).to_be_visible()
    expect(panel).to_contain_text("Generate or upload a gateway configuration first.")
    expect(panel.get_by_role("button", name="Run proof")).to_have_count(0)

    # -- settings through the form (an unsafe upstream first: the error beside the field)
    form = panel.locator("#gateway-settings-form")
    for key, value in GATEWAY_SETTINGS.items():
        form.locator(f"[name='gw-{key}']").fill(value)
    form.get_by_label("Upstream").fill("ftp://backend;")
    form.get_by_role("button", name="Save settings").click()
    expect(page.locator("#gw-upstream-error")).to_contain_text("upstream must be http(s)")
    page.locator("#gateway-settings-form").get_by_label("Upstream").fill(
        GATEWAY_SETTINGS["upstream"])
    page.locator("#gateway-settings-form").get_by_role("button", name="Save settings").click()
    expect(panel.locator(".notice")).to_contain_text("Gateway settings saved.")

    # -- generate for open-source nginx
    panel.locator("#gateway-generate-form").get_by_label("Target").select_option("nginx")
    panel.get_by_role("button", name="Generate configuration").click()
    expect(panel.locator(".notice")).to_contain_text("Configuration generated for nginx")
    expect(panel.get_by_text("✓ Passes the static checks")).to_be_visible()
    download = panel.get_by_role("link", name="Download the configuration")
    config = request.get(download.get_attribute("href"))
    assert config.ok and "auth_request /_stagegate_check" in config.text()

    # -- run the proof: the job fragment, then the table
    panel.get_by_role("button", name="Run proof").click()
    job = page.locator("#gateway-job")
    expect(job).to_contain_text("Running the proof with a real nginx")
    expect(job.locator("progress")).to_be_visible()
    expect(job).to_have_attribute("hx-trigger", "load delay:500ms")
    expect(panel.get_by_role("button", name="Run proof")).to_have_count(0)
    held.set()

    table = page.locator("table.gateway__cases")
    expect(table).to_be_visible(timeout=90_000)
    expect(panel.get_by_text("Enforced and proven")).to_be_visible()
    rows = table.locator("tbody tr")
    assert rows.count() >= 24
    expect(table.locator("tbody tr.case--fail")).to_have_count(0)
    good = table.locator("tr[data-case='good-token']")
    expect(good.locator("td").nth(0)).to_contain_text("pass")
    expect(good.locator("td").nth(1)).to_have_text("allowed")
    expect(good.locator("td").nth(3)).to_have_text("yes")
    query = table.locator("tr[data-case='query-token']")
    expect(query.locator("td").nth(0)).to_contain_text("pass")
    expect(query.locator("td").nth(1)).to_have_text("refused")
    expect(query.locator("td").nth(3)).to_have_text("no")
    expect(table.get_by_role("columnheader", name="Expected")).to_be_visible()
    expect(panel).to_contain_text("nginx/")
    expect(panel).to_contain_text("the current configuration")
    assert page.evaluate("window.__stagegateMarker === 'still here'"), \
        "the page was reloaded instead of swapped"

    _screenshot(page, "")

    # -- the board's badge
    page.goto("/")
    card = page.locator("li.card", has=page.locator("a[href='/apis/shipping/versions/1.0.0']"))
    expect(card.get_by_text("Enforced and proven")).to_be_visible()

    # -- a phone's width: the panel fits (the attack table scrolls inside its region)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/apis/shipping/versions/1.0.0#gateway")
    expect(page.locator("table.gateway__cases")).to_be_attached()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width} px wide at 390 px"
    _screenshot(page, "-390")


def _screenshot(page: Page, suffix: str) -> None:
    """Write a picture of the panel when ``STAGEGATE_GATEWAY_SCREENSHOT`` names a path."""
    target = os.environ.get("STAGEGATE_GATEWAY_SCREENSHOT")
    if not target:
        return
    path = Path(target)
    path = path.with_name(path.stem + suffix + path.suffix)
    path.parent.mkdir(parents=True, exist_ok=True)
    page.mouse.move(0, 0)
    page.locator("#gateway").screenshot(path=str(path))

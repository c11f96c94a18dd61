"""axe-core on every page a person reads (issue 9, acceptance 4): 0 violations of impact
``serious`` or ``critical`` at a desktop width (1280 px) and on a phone (390 px), each page
seen by the least role that can see it.  The account and token pages also may not scroll
sideways on the phone (``document.scrollingElement.scrollWidth <= 390``).

axe-core comes from the npm registry (``devDependencies`` in package.json, pinned in
package-lock.json); it is injected by these tests only and never served by the app.  The
app's strict CSP (``script-src 'self'``) refuses an inline ``<script>`` element — what
``page.add_script_tag(path=...)`` would add — so the file's source is evaluated through the
DevTools protocol (``page.evaluate``), which a page's CSP does not govern; the CSP stays on
and the page is checked as served.

Adding a page is one line in :data:`PAGES`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from accountkit import DEVELOPER_EMAIL, access_token_for, make_user
from documents import compliant
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Page

from lifecycle.catalog.models import ApiVersion
from lifecycle.core.extensions import db

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
#: impacts that fail the check (axe's scale: minor, moderate, serious, critical)
FAILING = ("serious", "critical")
WIDTHS = {"desktop": 1280, "phone": 390}

VIEWER = "viewer.axe@stagegate.test"
APPROVER = "approver.axe@stagegate.test"
#: who sees each page: ``None`` is signed out
WHO = {"anonymous": None, "viewer": VIEWER, "developer": DEVELOPER_EMAIL,
       "approver": APPROVER}

#: (name, path, least role that can see it).  ``{version}`` is the page of a version with a
#: waived finding (a scrolling excerpt, the waiver panel); ``{deployed}`` one in the
#: Deployment stage.
PAGES = [
    ("sign-in", "/login", "anonymous"),
    ("board", "/", "viewer"),
    ("version", "{version}", "viewer"),
    ("version-as-developer", "{version}", "developer"),  # the upload and evidence forms
    ("version-in-deployment", "{deployed}", "viewer"),  # the Deployment pill
    ("rules", "/rules", "viewer"),
    ("account", "/account", "viewer"),
    ("audit", "/audit", "approver"),
    ("inbox", "/inbox", "approver"),
    ("inbox-as-viewer", "/inbox", "viewer"),
]

#: long enough to make the excerpt of the finding scroll sideways on a phone
LONG = "The item, with a description long enough to scroll sideways on a phone" * 2
SPEC = compliant("Accessible API", "accessible", f"""\
  /items/{{id}}:
    get:
      operationId: getItem
      security: []
      parameters:
        - {{name: id, in: path, required: true, schema: {{type: string}}}}
      responses:
        "200":
          description: {LONG}
""")


@pytest.fixture(scope="module")
def pages(browser: Browser, base_url: str, live_app: Flask,
          signed_in: dict[str, Any]) -> dict[str, str]:
    """``{"version": …, "deployed": …}``: the page of a version (team Checkout) with a
    finding (a scrolling excerpt) an approver waived, and of one in the Deployment stage;
    creates the viewer and the approver."""
    with live_app.app_context():
        make_user(VIEWER, ["viewer"])
        make_user(APPROVER, ["approver"], teams=("Checkout",), totp=True)
    context = browser.new_context(base_url=base_url, **signed_in)  # the developer
    request = context.request
    try:
        assert request.post("/api/v1/apis", data={"name": "accessible", "title":
                                                   "Accessible API", "team": "Checkout"}).ok
        assert request.post("/api/v1/apis/accessible/versions", data={"version": "1.0.0"}).ok
        put = request.put("/api/v1/apis/accessible/versions/1.0.0/spec", data=SPEC,
                          headers={"Content-Type": "application/yaml"})
        assert put.status == 201, put.text()
        assert request.post("/api/v1/apis/accessible/versions", data={"version": "2.0.0"}).ok
    finally:
        context.close()
    with live_app.app_context():
        approver = {"Authorization": f"Bearer {access_token_for(APPROVER)}"}
    context = browser.new_context(base_url=base_url, extra_http_headers=approver)
    try:
        waived = context.request.post(
            "/api/v1/apis/accessible/versions/1.0.0/waivers",
            data={"rule": "SPEC-OPERATIONS-SECURED", "reason": "A public read, reviewed",
                  "days": 7})
        assert waived.status == 201, waived.text()
    finally:
        context.close()
    with live_app.app_context():
        # the page of a deployed version is what is checked here, not the way there (the
        # promotion tests walk it): set the stage directly
        db.session.execute(sa.update(ApiVersion).where(ApiVersion.version == "2.0.0")
                           .values(stage="deployment"))
        db.session.commit()
    return {"version": "/apis/accessible/versions/1.0.0",
            "deployed": "/apis/accessible/versions/2.0.0"}


def _signed_in(cookie_of: Callable[[str], dict], email: str | None) -> dict[str, Any]:
    if email is None:
        return {}
    return {"storage_state": {"cookies": [cookie_of(email)], "origins": []}}


@pytest.fixture
def as_role(browser: Browser, base_url: str,
            cookie_of: Callable[[str], dict]) -> Iterator[Callable[[str, int], Page]]:
    """``as_role(role, width)``: a new page of a context signed in as ``role`` (a key of
    :data:`WHO`) with a viewport ``width`` px wide."""
    contexts: list[BrowserContext] = []

    def open_page(role: str, width: int) -> Page:
        context = browser.new_context(base_url=base_url,
                                      viewport={"width": width, "height": 860},
                                      **_signed_in(cookie_of, WHO[role]))
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


def run_axe(page: Page) -> list[dict[str, Any]]:
    """The violations axe-core finds on ``page`` (the WCAG 2.x A/AA and best-practice rules)."""
    page.evaluate(AXE.read_text(encoding="utf-8"))
    return page.evaluate("""async () => {
        const result = await axe.run(document, {resultTypes: ["violations"]});
        return result.violations.map(v => ({
            id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
            nodes: v.nodes.map(n => ({target: n.target, summary: n.failureSummary,
                                      impact: n.impact})),
        }));
    }""")


def readable(violations: list[dict[str, Any]]) -> str:
    """One paragraph per violation: impact, rule, help, then each element and why."""
    out = []
    for v in violations:
        out.append(f"[{v['impact']}] {v['id']}: {v['help']} ({v['helpUrl']})")
        for node in v["nodes"]:
            out.append(f"    {json.dumps(node['target'])}")
            out.extend(f"        {line}" for line in (node["summary"] or "").splitlines())
    return "\n".join(out)


def test_axe_is_from_the_npm_registry_and_not_served() -> None:
    package = json.loads((ROOT / "package.json").read_text())
    assert "axe-core" in package["devDependencies"]
    assert AXE.is_file(), "run `npm ci` (make setup) first"
    vendor = ROOT / "lifecycle" / "static" / "vendor"
    assert not any("axe" in p.name for p in vendor.glob("*")) if vendor.is_dir() else True


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
@pytest.mark.parametrize(("name", "path", "role"), PAGES, ids=[p[0] for p in PAGES])
def test_no_serious_or_critical_axe_violations(as_role: Any, pages: dict[str, str], name: str,
                                               path: str, role: str, width: int) -> None:
    page = as_role(role, width)
    response = page.goto(path.format(**pages))
    assert response is not None and response.ok, f"{name}: {response and response.status}"
    page.wait_for_load_state("networkidle")
    violations = run_axe(page)
    failing = [v for v in violations if v["impact"] in FAILING]
    assert not failing, (f"axe on {name} ({path}) at {width}px as {role}:\n"
                         + readable(failing))


#: pages that must fit a phone without sideways scrolling: (name, path, role)
PHONE_PAGES = [
    ("account", "/account", "viewer"),
    ("account-with-tokens", "/account", "developer"),
    ("version", "{version}", "developer"),
    ("board", "/", "developer"),
    ("rules", "/rules", "viewer"),
    ("inbox", "/inbox", "approver"),
    ("sign-in", "/login", "anonymous"),
]


@pytest.mark.parametrize(("name", "path", "role"), PHONE_PAGES, ids=[p[0] for p in PHONE_PAGES])
def test_no_sideways_scrolling_on_a_phone(as_role: Any, pages: dict[str, str], name: str,
                                         path: str, role: str) -> None:
    page = as_role(role, 390)
    if name == "account-with-tokens":
        page.goto("/account")
        for label in ("a pipeline token with a rather long name", "deploy"):
            page.get_by_label("Name").fill(label)
            page.get_by_role("button", name="Create token").click()
            page.goto("/account")
    page.goto(path.format(**pages))
    page.wait_for_load_state("networkidle")
    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= 390, f"{name} scrolls sideways on a 390 px phone: {width} px wide"


def test_axe_file_is_the_pinned_version() -> None:
    lock = json.loads((ROOT / "package-lock.json").read_text())
    installed = json.loads((AXE.parent / "package.json").read_text())
    assert lock["packages"]["node_modules/axe-core"]["version"] == installed["version"]



def test_the_waiver_panel_has_room_between_its_rows(as_role: Any, pages: dict[str, str]) -> None:
    page = as_role("approver", 1280)  # the approver also sees the "Waive …" disclosures
    page.goto(pages["version"])
    waivers = page.locator("#waivers")
    assert waivers.locator(".waivers__list").evaluate(
        "el => getComputedStyle(el).listStyleType") == "none"
    heading, listing = (waivers.locator(sel).bounding_box() for sel in ("h2", ".waivers__list"))
    assert heading and listing
    assert listing["y"] - (heading["y"] + heading["height"]) >= 8  # px between them
    row = waivers.locator(".waiver").first
    assert row.evaluate("el => parseFloat(getComputedStyle(el).paddingLeft)") >= 8

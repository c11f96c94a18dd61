"""The core flow in a real browser: create an API and a version through the pages, upload a
document whose operation is open to anonymous callers, read the blocking finding with its
line (the default pack blocks it at the gate into testing), upload the fixed document,
promote, see the new stage.

htmx 2 (pinned in package-lock.json) drives the version page: a marker set on ``window``
survives every action, which proves the answers were swapped as fragments rather than
loaded as new pages.  Set ``STAGEGATE_SCREENSHOT=docs/screenshot.png`` to also write the
README picture of a version page with a blocking finding.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from documents import compliant
from playwright.sync_api import Page, expect

GOOD = compliant("Payments", "payments", """\
  /payments:
    get:
      operationId: listPayments
      responses:
        "200":
          description: A page of payments
    post:
      operationId: createPayment
      responses:
        "201":
          description: Payment created
  /payments/{paymentId}/refunds:
    post:
      operationId: refundPayment
      parameters:
        - name: paymentId
          in: path
          required: true
          schema: {type: string, format: uuid}
      responses:
        "202":
          description: Refund accepted
""", version="1.4.0")
#: the refund operation opened to anonymous callers
BAD = GOOD.replace("      operationId: refundPayment\n",
                   "      operationId: refundPayment\n      security: []\n")
BAD_LINE = BAD.splitlines().index("      security: []") + 1


def _set_marker(page: Page) -> None:
    page.evaluate("window.__stagegateMarker = 'still here'")


def _marker_survived(page: Page) -> bool:
    return page.evaluate("window.__stagegateMarker === 'still here'")


def test_upload_a_failing_document_fix_it_and_promote(page: Page) -> None:
    page.goto("/")
    expect(page.get_by_role("heading", name="Pipeline", exact=True)).to_be_visible()
    assert page.evaluate("typeof window.htmx") == "object"
    assert page.evaluate("htmx.version").startswith("2.")

    # -- create an API and a version through the forms (plain POST, 303 redirects)
    page.get_by_label("Name (slug)").fill("payments")
    page.get_by_label("Title").fill("Payments API")
    page.get_by_label("Owning team").select_option("Checkout")  # a developer picks a team
    page.get_by_role("button", name="Create API").click()
    expect(page.get_by_role("heading", name="Payments API", level=1)).to_be_visible()
    page.get_by_role("textbox", name="Version").fill("1.4.0")
    page.get_by_role("button", name="Create version").click()
    expect(page).to_have_url(re.compile(r"/apis/payments/versions/1\.4\.0$"))
    expect(page.locator(".stage-pill")).to_have_text("Design")
    expect(page.locator("#gate")).to_contain_text("No OpenAPI document yet")

    # -- upload the document with the anonymous operation through the file picker
    _set_marker(page)
    page.locator("#upload-form input[type=file]").set_input_files(
        files=[{"name": "payments.yaml", "mimeType": "application/yaml",
                "buffer": BAD.encode()}])
    expect(page.locator("[data-dropzone-file]")).to_contain_text("payments.yaml")
    page.get_by_role("button", name="Upload and check").click()
    expect(page.get_by_text("Revision 1 stored and checked.")).to_be_visible()
    gate = page.locator("#gate")
    # the default pack lets a valid document into development and shows the rest as warnings
    expect(gate).to_contain_text("Gate into Development")
    expect(gate.locator(".findings--warn")).to_contain_text("SPEC-OPERATIONS-SECURED")
    assert _marker_survived(page), "the upload reloaded the page instead of swapping"
    page.get_by_role("button", name="Promote to Development").click()
    expect(page.get_by_text("Promoted to Development.")).to_be_visible()
    expect(page.locator(".stage-pill")).to_have_text("Development")

    # -- the gate into testing blocks on it: rule, line, the offending line in context
    expect(gate).to_contain_text("Gate into Testing")
    expect(gate).to_contain_text("Blocked in revision 1: 1 failing rule")
    finding = gate.locator(".finding", has_text="SPEC-OPERATIONS-SECURED")
    expect(finding).to_contain_text(f"line {BAD_LINE}")
    expect(finding.locator(".excerpt__line--hit")).to_contain_text("security: []")
    expect(finding.locator(".excerpt__line--hit .excerpt__no")).to_have_text(str(BAD_LINE))
    expect(finding).to_contain_text("How to fix")
    _screenshot(page)

    # -- promoting now would be refused: the button is disabled and says why beside it
    expect(page.get_by_role("button", name="Promote to Testing")).to_be_disabled()
    expect(page.locator("#promote-why")).to_contain_text("The gate blocks it: 1 failing rule")
    expect(page.locator(".stage-pill")).to_have_text("Development")

    # -- paste the fixed document, upload, promote
    page.get_by_label("…or paste it here").fill(GOOD)
    page.get_by_role("button", name="Upload and check").click()
    expect(page.get_by_text("Revision 2 stored and checked.")).to_be_visible()
    expect(gate).to_contain_text("Passes")
    page.get_by_role("button", name="Promote to Testing").click()
    expect(page.get_by_text("Promoted to Testing.")).to_be_visible()
    expect(page.locator(".stage-pill")).to_have_text("Testing")
    expect(page.locator(".timeline [aria-current=step]")).to_contain_text("Testing")
    expect(page.locator(".history")).to_contain_text("promotion")
    # Deployment needs four eyes: no promote button, a request in the Approval panel instead.
    expect(page.get_by_role("button", name="Promote to Deployment")).to_have_count(0)
    # ...which the gate would refuse now (no token, key or gateway evidence): it says so
    expect(page.get_by_role("button", name="Request promotion")).to_have_count(0)
    expect(page.locator("#request-why")).to_contain_text("once the gate passes")
    assert _marker_survived(page)

    # -- the board shows it in its new column, and the search box filters via htmx
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Board").click()
    column = page.locator("#col-testing").locator("xpath=..")
    expect(column).to_contain_text("Payments API")
    _set_marker(page)
    page.get_by_label("Search").fill("nothing-matches")
    expect(page.locator("#board")).to_contain_text("0 versions match")
    expect(page).to_have_url(re.compile(r"q=nothing-matches"))
    page.get_by_label("Search").fill("paym")
    expect(page.locator("#col-testing").locator("xpath=..")).to_contain_text("Payments API")
    assert _marker_survived(page), "the search reloaded the page instead of swapping"


def _new_version(page: Page, name: str, version: str) -> None:
    page.goto("/")
    page.get_by_label("Name (slug)").fill(name)
    page.get_by_label("Title").fill(f"{name.capitalize()} API")
    page.get_by_role("button", name="Create API").click()
    page.get_by_role("textbox", name="Version").fill(version)
    page.get_by_role("button", name="Create version").click()
    expect(page.locator(".stage-pill")).to_have_text("Design")


def test_drop_a_file_onto_the_drop_zone(page: Page) -> None:
    _new_version(page, "dropped", "1.0.0")
    zone = page.locator("[data-dropzone]")
    transfer = page.evaluate_handle(
        """text => { const dt = new DataTransfer();
                     dt.items.add(new File([text], "dropped.yaml", {type: "application/yaml"}));
                     return dt; }""", GOOD)
    zone.dispatch_event("dragover", {"dataTransfer": transfer})
    expect(zone).to_have_class(re.compile(r"dropzone--over"))
    zone.dispatch_event("drop", {"dataTransfer": transfer})
    expect(zone).to_contain_text("Selected: dropped.yaml")
    page.get_by_role("button", name="Upload and check").click()
    expect(page.get_by_text("Revision 1 stored and checked.")).to_be_visible()
    expect(page.locator("#gate")).to_contain_text("Passes")


def test_an_unreadable_document_shows_its_line(page: Page) -> None:
    _new_version(page, "broken", "1.0.0")
    page.get_by_label("…or paste it here").fill("openapi: 3.1.0\ninfo: {title: x\npaths: {}\n")
    page.get_by_role("button", name="Upload and check").click()
    error = page.locator(".load-error")
    expect(error).to_contain_text("could not be read (line")
    expect(error).to_contain_text("Nothing was stored")
    expect(page.locator(".revisions")).to_contain_text("No document uploaded yet")


def test_core_flow_works_without_javascript(browser, base_url: str, signed_in: dict) -> None:
    context = browser.new_context(base_url=base_url, java_script_enabled=False, **signed_in)
    page = context.new_page()
    try:
        page.goto("/")
        page.get_by_label("Name (slug)").fill("nojs")
        page.get_by_label("Title").fill("No-JS API")
        page.get_by_role("button", name="Create API").click()
        page.get_by_role("textbox", name="Version").fill("0.1.0")
        page.get_by_role("button", name="Create version").click()
        expect(page.locator(".stage-pill")).to_have_text("Design")
        page.get_by_label("…or paste it here").fill(GOOD)
        page.get_by_role("button", name="Upload and check").click()
        expect(page.get_by_text("Revision 1 stored and checked.")).to_be_visible()
        page.get_by_role("button", name="Promote to Development").click()
        expect(page.locator(".stage-pill")).to_have_text("Development")
        page.locator("summary", has_text="Move back").click()
        # no reason yet: the browser refuses to send the form (required field)
        page.get_by_role("button", name="Move back", exact=True).click()
        expect(page.locator(".stage-pill")).to_have_text("Development")
        page.get_by_label("Reason").first.fill("Design review reopened")
        page.get_by_role("button", name="Move back", exact=True).click()
        expect(page.locator(".stage-pill")).to_have_text("Design")
        expect(page.locator(".history")).to_contain_text("Design review reopened")
    finally:
        context.close()


def _screenshot(page: Page) -> None:
    """Write the README picture when ``STAGEGATE_SCREENSHOT`` names a path."""
    target = os.environ.get("STAGEGATE_SCREENSHOT")
    if not target:
        return
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    page.mouse.move(0, 0)
    page.screenshot(path=str(path), full_page=True)

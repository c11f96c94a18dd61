"""Issue 4, acceptance 6: an approver signs in with a TOTP second factor under the
Content-Security-Policy in Chromium and approves a promotion to deployment that a developer
requested; the version moves.  Any CSP violation on the console fails the test."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pyotp
from accountkit import PASSWORD, make_user
from approvalkit import deployment_ready, request_promotion
from flask import Flask
from playwright.sync_api import Browser, expect

APPROVER = "four.eyes@stagegate.test"
DEVELOPER = "ledger.dev@stagegate.test"
#: axe-core from the npm registry (see test_accessibility.py for how it is injected)
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


def test_an_approver_signs_in_with_totp_and_approves_a_promotion(
        browser: Browser, base_url: str, live_app: Flask) -> None:
    with live_app.app_context():
        secret = make_user(APPROVER, ["approver"], totp=True).test_totp_secret
        make_user(DEVELOPER, ["developer"], teams=("Ledger",))
    # another user (a developer of team Ledger) prepares the version and asks for deployment
    # through the REST API
    client = live_app.test_client(user=DEVELOPER)
    url = deployment_ready(client, int(time.time()), name="ledger", team="Ledger")
    requested = request_promotion(client, url)
    assert requested.status_code == 201, requested.get_data(as_text=True)
    requester = requested.get_json()["requested_by"]
    assert requester != APPROVER

    context = browser.new_context(base_url=base_url)  # not signed in
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text)
            if "Content Security Policy" in msg.text or "Refused to" in msg.text else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    try:
        page.goto("/apis/ledger/versions/1.0.0")
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        page.get_by_label("Email").fill(APPROVER)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_label(re.compile("Code from your authenticator app")).fill(
            pyotp.TOTP(secret).now())
        page.get_by_role("button", name="Verify").click()
        expect(page).to_have_url(re.compile(r"/apis/ledger/versions/1\.0\.0$"))

        # the inbox (issue 9 point 13): the nav counts what waits, the page links to it
        inbox = page.get_by_role("navigation", name="Main").get_by_role(
            "link", name=re.compile("Inbox"))
        expect(inbox).to_contain_text("1 awaiting your approval")
        inbox.click()
        waiting = page.locator("#awaiting")
        expect(waiting).to_contain_text("Ledger")
        expect(waiting).to_contain_text(requester)
        expect(waiting).to_contain_text("Gate passes")
        page.evaluate(AXE.read_text(encoding="utf-8"))  # the inbox with a row: axe clean
        serious = page.evaluate("""async () => (await axe.run(document, {resultTypes:
            ["violations"]})).violations.filter(v => ["serious", "critical"]
            .includes(v.impact)).map(v => v.id + ": " + v.help)""")
        assert serious == []
        waiting.get_by_role("link", name=re.compile("Review and decide")).click()
        expect(page).to_have_url(re.compile(r"/apis/ledger/versions/1\.0\.0#approvals$"))

        approvals = page.locator("#approvals")
        expect(approvals).to_contain_text(f"by {requester}")
        expect(approvals).to_contain_text("0 of 1 approval")
        approvals.get_by_label("Comment").fill("Evidence checked, ship it")
        approvals.get_by_role("button", name="Approve").click()  # an htmx post with CSRF header
        expect(page.locator(".stage-pill")).to_have_text("Deployment")
        expect(page.locator(".history")).to_contain_text("promotion")
        page.goto("/inbox")
        expect(page.locator("#awaiting-h")).to_contain_text("0")
        expect(page.get_by_text("Nothing waits for you.")).to_be_visible()
    finally:
        context.close()
    assert problems == []
    version = client.get(url).get_json()
    assert version["stage"] == "deployment", version

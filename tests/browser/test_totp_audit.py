"""Issue 9, acceptance 3, in Chromium under the CSP: an approver enrols TOTP after reloading
the set-up page once, with the code of the FIRST key shown; another approver (enrolled)
signs in with a second factor, opens the audit trail from the nav and filters it (htmx, the
URL follows).  Any CSP violation on the console fails the test."""

from __future__ import annotations

import re

import pyotp
from accountkit import PASSWORD, make_user
from actorkit import as_actor
from flask import Flask
from playwright.sync_api import Browser, Page, expect

from lifecycle.catalog import services


def _watch(page: Page) -> list[str]:
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text)
            if "Content Security Policy" in msg.text or "Refused to" in msg.text else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    return problems


def _sign_in(page: Page, email: str) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_an_approver_enrols_totp_with_the_first_key_after_a_reload(
        browser: Browser, base_url: str, live_app: Flask) -> None:
    email = "first.key@stagegate.test"
    with live_app.app_context():
        make_user(email, ["approver"], totp=False)
    context = browser.new_context(base_url=base_url)  # not signed in
    page = context.new_page()
    problems = _watch(page)
    try:
        _sign_in(page, email)
        expect(page).to_have_url(re.compile(r"/account/second-factor$"))
        expect(page.get_by_role("heading", name="Set up your second factor")).to_be_visible()
        # forced enrolment: no way away but signing out
        expect(page.get_by_role("navigation", name="Main")).to_have_count(0)
        expect(page.get_by_role("link", name="Stagegate home")).to_have_count(0)
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        first = page.get_by_test_id("totp-secret").inner_text().strip()
        first_qr = page.locator("img.qr").get_attribute("src")
        assert re.fullmatch(r"[A-Z2-7]{32}", first)

        page.reload()
        assert page.get_by_test_id("totp-secret").inner_text().strip() == first
        assert page.locator("img.qr").get_attribute("src") == first_qr

        # a code of another key: the message says so (not the clock)
        page.get_by_label("Code shown by your authenticator app").fill(
            pyotp.TOTP(pyotp.random_base32(32)).now())
        page.get_by_role("button", name="Confirm").click()
        expect(page.locator(".field__error")).to_contain_text(
            "does not match the key shown on this page")
        assert page.get_by_test_id("totp-secret").inner_text().strip() == first

        page.get_by_label("Code shown by your authenticator app").fill(
            pyotp.TOTP(first).now())
        page.get_by_role("button", name="Confirm").click()
        expect(page.get_by_role("heading", name="Your second factor is set up")).to_be_visible()
        expect(page.get_by_test_id("recovery-codes").locator("li")).to_have_count(10)
        page.get_by_role("link", name=re.compile("continue")).click()
        expect(page.get_by_role("heading", name="Pipeline", exact=True)).to_be_visible()
        expect(page.get_by_role("link", name="Audit trail")).to_be_visible()
    finally:
        context.close()
    assert problems == []


def test_an_approver_reaches_the_audit_trail_and_filters_it(
        browser: Browser, base_url: str, live_app: Flask) -> None:
    email = "audit.reader@stagegate.test"
    with live_app.app_context():
        secret = make_user(email, ["approver"], totp=True).test_totp_secret
        services.create_api("ledger-audit", "Ledger", actor=as_actor("ann@example.com"))
        services.create_version("ledger-audit", "1.0.0", actor=as_actor("ann@example.com"))
        services.create_api("other-audit", "Other", actor=as_actor("bob@example.com"))
    context = browser.new_context(base_url=base_url)
    page = context.new_page()
    problems = _watch(page)
    try:
        _sign_in(page, email)
        page.get_by_label(re.compile("Code from your authenticator app")).fill(
            pyotp.TOTP(secret).now())
        page.get_by_role("button", name="Verify").click()
        expect(page.get_by_role("heading", name="Pipeline", exact=True)).to_be_visible()

        page.get_by_role("navigation", name="Main").get_by_role(
            "link", name="Audit trail").click()
        expect(page.get_by_role("heading", name="Audit trail", level=1)).to_be_visible()
        rows = page.locator("#audit-results tbody tr")
        expect(rows.filter(has_text="bob@example.com")).to_have_count(1)

        page.get_by_label("Actor").fill("ann@example.com")
        page.get_by_role("button", name="Filter").click()  # htmx swaps the results
        expect(rows.filter(has_text="bob@example.com")).to_have_count(0)
        expect(rows).to_have_count(2)
        expect(rows.first).to_contain_text("version.created")
        expect(page).to_have_url(re.compile(r"/audit\?.*actor=ann%40example\.com"))
        expect(rows.first.get_by_role("link", name="version page")).to_have_attribute(
            "href", "/apis/ledger-audit/versions/1.0.0")

        page.get_by_label("From (UTC)").fill("2026-12-09")
        page.get_by_label("To (UTC, inclusive)").fill("2026-12-01")
        page.get_by_role("button", name="Filter").click()
        expect(page.locator("#audit-results")).to_contain_text(
            "The end date is before the start date.")  # a 422 fragment, swapped

        page.get_by_role("button", name="Verify the chain now").click()
        expect(page.get_by_test_id("audit-verify-result")).to_contain_text("Chain intact")
    finally:
        context.close()
    assert problems == []

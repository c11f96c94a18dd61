"""Sign in through the real form with a TOTP second factor, under the Content-Security-Policy,
in Chromium — then use htmx (a search and a refused promotion) on the signed-in pages.  Any
CSP violation reported on the console fails the test."""

from __future__ import annotations

import re

import pyotp
from accountkit import PASSWORD, make_user
from flask import Flask
from playwright.sync_api import Browser, expect

from lifecycle.core.security import CSP


def test_login_with_totp_under_the_csp(browser: Browser, base_url: str, live_app: Flask) -> None:
    with live_app.app_context():
        user = make_user("totp.browser@stagegate.test", ["developer", "approver"],
                         teams=("Web",), totp=True)
        email, secret = user.email, user.test_totp_secret
    context = browser.new_context(base_url=base_url)  # not signed in
    page = context.new_page()
    problems: list[str] = []
    # (a 422 or 409 answer is logged as a failed resource load: expected, not a problem)
    page.on("console", lambda msg: problems.append(msg.text)
            if "Content Security Policy" in msg.text or "Refused to" in msg.text else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    try:
        response = page.goto("/")
        assert response is not None
        assert response.headers["content-security-policy"] == CSP
        expect(page).to_have_url(re.compile(r"/login\?next=/$"))
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()

        # wrong password first: the generic refusal
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(PASSWORD + "!")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("alert")).to_have_text("The email or password is not correct.")

        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Second factor")).to_be_visible()
        page.get_by_label(re.compile("Code from your authenticator app")).fill(
            pyotp.TOTP(secret).now())
        page.get_by_role("button", name="Verify").click()
        expect(page.get_by_role("heading", name="Pipeline", exact=True)).to_be_visible()
        expect(page.get_by_role("link", name=email)).to_be_visible()
        assert page.evaluate("typeof window.htmx") == "object"

        # plain forms (CSRF field) and htmx requests (CSRF header) work under the CSP
        page.get_by_label("Name (slug)").fill("web-shop")
        page.get_by_label("Title").fill("Web Shop API")
        page.get_by_label("Owning team").select_option("Web")  # a developer: their teams
        page.get_by_role("button", name="Create API").click()
        expect(page.get_by_role("heading", name="Web Shop API", level=1)).to_be_visible()
        page.get_by_role("textbox", name="Version").fill("1.0.0")
        page.get_by_role("button", name="Create version").click()
        expect(page).to_have_url(re.compile(r"/apis/web-shop/versions/1\.0\.0$"))
        # no document yet: Promote is disabled with the reason beside it (not a refused 409)
        expect(page.get_by_role("button", name=re.compile("Promote to Development"))) \
            .to_be_disabled()
        expect(page.locator("#promote-why")).to_contain_text("Upload the OpenAPI document first")
        page.get_by_label("…or paste it here").fill(
            "openapi: 3.1.0\ninfo: {title: Web Shop, version: '1.0.0'}\npaths: {}\n")
        page.get_by_role("button", name="Upload and check").click()  # htmx, CSRF header
        expect(page.get_by_text("Revision 1 stored and checked.")).to_be_visible()
        page.get_by_role("button", name=re.compile("Promote to Development")).click()
        expect(page.get_by_text("Promoted to Development.")).to_be_visible()
        page.goto("/")
        page.get_by_role("searchbox").fill("web-shop")
        expect(page.locator("#board")).to_contain_text("Web Shop API")

        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        page.goto("/")
        expect(page).to_have_url(re.compile(r"/login"))
    finally:
        context.close()
    assert problems == []

"""Browser checks of the new-user fixes: no inline-style CSP violation when htmx swaps a
form whose textarea the person resized, and the error of a refused htmx request appears
next to the form that sent it."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect


def _new_version(page: Page, name: str) -> None:
    page.goto("/")
    page.get_by_label("Name (slug)").fill(name)
    page.get_by_label("Title").fill(f"{name.capitalize()} API")
    page.get_by_role("button", name="Create API").click()
    page.get_by_role("textbox", name="Version").fill("1.0.0")
    page.get_by_role("button", name="Create version").click()
    expect(page.locator(".stage-pill")).to_have_text("Design")


def test_a_resized_textarea_survives_a_swap_without_a_csp_violation(page: Page) -> None:
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text)
            if "Content Security Policy" in msg.text or "inline style" in msg.text else None)
    _new_version(page, "resized")
    paste = page.get_by_label("…or paste it here")
    # what dragging the resize handle does: an inline height through the CSSOM (allowed)
    paste.evaluate("el => { el.style.height = '240px'; }")
    paste.fill("openapi: 3.1.0\ninfo: {title: x\npaths: {}\n")
    page.get_by_role("button", name="Upload and check").click()
    expect(page.locator(".load-error")).to_contain_text("could not be read (line")
    page.wait_for_timeout(200)  # htmx settles 20 ms after the swap
    assert problems == []


def test_an_unswapped_error_is_shown_next_to_its_form(page: Page) -> None:
    _new_version(page, "neighbour")
    form = page.locator("#upload-form")
    # a refusal htmx does not swap (403): the message goes right above the form
    page.route(re.compile(r".*/spec$"), lambda route: route.fulfill(
        status=403, content_type="text/html",
        body='<div role="alert">You are not allowed to do this.</div>'))
    page.get_by_label("…or paste it here").fill("openapi: 3.1.0\n")
    page.get_by_role("button", name="Upload and check").click()
    box = page.locator("#client-error")
    expect(box).to_have_text("You are not allowed to do this.")
    assert box.evaluate("(b, f) => b.nextElementSibling === f", form.element_handle())

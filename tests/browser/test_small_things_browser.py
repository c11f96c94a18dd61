"""Issue 9 point 16 in the browser: the chosen file is named before the upload with and
without JavaScript, with its true size."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import APIRequestContext, Browser, Page, expect


def _version(request: APIRequestContext, name: str) -> str:
    assert request.post("/api/v1/apis", data={"name": name, "title": "Files API",
                                             "team": "Checkout"}).ok
    assert request.post(f"/api/v1/apis/{name}/versions", data={"version": "1.0.0"}).ok
    return f"/apis/{name}/versions/1.0.0"


FILE = {"name": "files-api.yaml", "mimeType": "application/yaml",
        "buffer": b"openapi: 3.1.0\n" + b"#" * (3 * 1024 + 510) + b"\n"}  # 3.5 KiB


@pytest.fixture(scope="module")
def files_page(browser: Browser, base_url: str, signed_in: dict[str, Any]) -> str:
    context = browser.new_context(base_url=base_url, **signed_in)
    try:
        return _version(context.request, "files")
    finally:
        context.close()


def test_without_javascript_the_native_file_input_names_the_chosen_file(
        browser: Browser, base_url: str, signed_in: dict[str, Any], files_page: str) -> None:
    context = browser.new_context(base_url=base_url, java_script_enabled=False, **signed_in)
    try:
        page = context.new_page()
        page.goto(files_page)
        picker = page.locator("#upload-form input[type=file]")
        picker.set_input_files(files=[FILE])
        # the native control is on screen, opaque and not covered: it shows the file name
        expect(picker).to_be_visible()
        box = picker.bounding_box()
        assert box and box["width"] > 100 and box["height"] > 10
        assert picker.evaluate("e => getComputedStyle(e).opacity") == "1"
        assert picker.evaluate("e => e.files[0].name") == "files-api.yaml"
        assert "js" not in (page.locator("html").get_attribute("class") or "")
    finally:
        context.close()


def test_with_javascript_the_drop_zone_names_the_file_with_its_true_size(
        page: Page, files_page: str) -> None:
    page.goto(files_page)
    picker = page.locator("#upload-form input[type=file]")
    assert picker.evaluate("e => getComputedStyle(e).opacity") == "0"  # the zone is the target
    picker.set_input_files(files=[FILE])
    expect(page.locator("[data-dropzone-file]")).to_have_text(
        "Selected: files-api.yaml (3.5 KiB)")

"""A large upload in a real browser (issue 8.1, acceptance 1): a document over
``SPEC_ASYNC_BYTES`` (1 MiB by default) is checked by a background job; the version page
shows the status fragment (htmx polls it, ``hx-trigger="load delay:500ms"``) and then the new
revision, without reloading the page.  The live server runs in this process (SQLite: the
embedded job thread), so the test holds the job at its start until it has seen the progress
fragment — no timing assumption.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from documents import compliant
from playwright.sync_api import Page, expect

from lifecycle.catalog import services

#: one operation per path, enough of them for a document over 1 MiB
PATH = """\
  /items/{n}:
    get:
      operationId: getItem{n}
      description: Reads item {n} of the catalogue, with every field the client asked for.
      responses:
        "200":
          description: The item, with its fields and the links to its neighbours.
"""


def _large_document() -> bytes:
    paths = "".join(PATH.replace("{n}", str(n)) for n in range(4400))
    raw = compliant("Bulk", "bulk", paths, version="1.0.0").encode()
    assert len(raw) > 1024 * 1024
    return raw


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """Background checks wait for this event before they start (the synchronous upload,
    which passes no ``progress``, is untouched)."""
    release = threading.Event()
    original = services.upload_spec

    def held(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("progress") is not None:
            release.wait(timeout=60)
        return original(*args, **kwargs)

    monkeypatch.setattr(services, "upload_spec", held)
    yield release
    release.set()


def test_a_large_upload_shows_the_progress_fragment_then_the_revision(
        page: Page, gate: threading.Event) -> None:
    request = page.request
    assert request.post("/api/v1/apis", data={"name": "bulk", "title": "Bulk API",
                                             "team": "Checkout"}).ok
    assert request.post("/api/v1/apis/bulk/versions", data={"version": "1.0.0"}).ok
    page.goto("/apis/bulk/versions/1.0.0")
    page.evaluate("window.__stagegateMarker = 'still here'")

    page.locator("#upload-form input[type=file]").set_input_files(
        files=[{"name": "bulk.yaml", "mimeType": "application/yaml",
                "buffer": _large_document()}])
    page.get_by_role("button", name="Upload and check").click()

    job = page.locator("#job")
    expect(job).to_contain_text("Checking the uploaded document in the background")
    expect(job.locator("progress")).to_be_visible()
    expect(job).to_have_attribute("hx-trigger", "load delay:500ms")
    expect(page.locator(".revisions")).to_contain_text("No document uploaded yet")

    gate.set()  # let the job run: the polled fragment follows it to the end
    expect(page.get_by_text("Revision 1 stored and checked.")).to_be_visible(timeout=90_000)
    expect(page.locator(".revisions tbody tr")).to_have_count(1)
    expect(page.locator(".revisions tbody th").first).to_have_text("1")
    expect(page.locator("#job")).not_to_have_attribute("hx-trigger", "load delay:500ms")
    assert page.evaluate("window.__stagegateMarker === 'still here'"), \
        "the page was reloaded instead of swapped"

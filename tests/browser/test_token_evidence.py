"""Encryption evidence in a real browser: on a version with a compliant spec, generate the
managed key and paste the issuer JWKS through the page, paste a sample token, read its
analysis (decoded headers, claims table) — and find the raw token nowhere afterwards: not in
the page's HTML, not in any field's value, not in the URL.

The spec is set up through the REST API of the live server (the browser context is signed
in: session cookie for the pages, bearer token for ``page.request``, see ``conftest.py``);
tokens are built with ``tests/evidencekit.py`` for the public JWKS the version serves.
Set ``STAGEGATE_EVIDENCE_SCREENSHOT=path.png`` to also write a picture of the evidence area
with a failing analysis.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from evidencekit import SPEC, Issuer
from playwright.sync_api import APIRequestContext, Page, expect


def _compliant_version(request: APIRequestContext, name: str) -> str:
    """A version whose spec declares RSA-OAEP-256 / A256GCM / ES256; its page path."""
    assert request.post("/api/v1/apis", data={"name": name, "title": "Orders API",
                                             "team": "Checkout"}).ok
    assert request.post(f"/api/v1/apis/{name}/versions", data={"version": "1.0.0"}).ok
    put = request.put(f"/api/v1/apis/{name}/versions/1.0.0/spec", data=SPEC,
                      headers={"Content-Type": "application/yaml"})
    assert put.status == 201, put.text()
    return f"/apis/{name}/versions/1.0.0"


def _token_nowhere(page: Page, token: str) -> None:
    tail = token[-40:]
    html = page.content()
    assert token not in html and tail not in html
    values = page.evaluate(
        "() => Array.from(document.querySelectorAll('input, textarea, select'))"
        ".map(e => e.value)")
    assert all(token not in v and tail not in v for v in values)
    assert token not in page.url and tail not in page.url


def test_paste_a_token_and_see_its_analysis_without_the_token(page: Page) -> None:
    path = _compliant_version(page.request, "orders")
    issuer = Issuer()
    page.goto(path)
    page.evaluate("window.__stagegateMarker = 'still here'")
    evidence = page.locator("#evidence")
    expect(evidence.get_by_role("heading", name="Encryption evidence")).to_be_visible()

    # -- the managed key, through the page
    evidence.get_by_role("button", name="Generate RSA-OAEP-256 key").click()
    keys = page.locator("#keys")
    expect(keys.locator(".notice")).to_contain_text("generated (RSA-OAEP-256)")
    expect(keys.locator(".key-status--current")).to_be_visible()
    expect(keys).to_contain_text("RSA 3072")
    jwks_link = keys.get_by_role("link", name="jwks.json")
    public = page.request.get(jwks_link.get_attribute("href")).json()
    assert [k["alg"] for k in public["keys"]] == ["RSA-OAEP-256"]
    assert not any("d" in k for k in public["keys"])

    # -- the issuer's JWKS, pasted
    page.get_by_label("…or paste the JWK Set").fill(json.dumps(issuer.jwks()))
    page.get_by_role("button", name="Check and store JWKS").click()
    jwks_panel = page.locator("#issuer-jwks")
    expect(jwks_panel.locator(".notice")).to_contain_text("Issuer JWKS stored: 1 key")
    expect(jwks_panel).to_contain_text("Passes the key rules")

    # -- a sample token: analysis with decoded headers and the claims table
    token = issuer.token(public)
    page.get_by_role("textbox", name="Sample access token").fill(token)
    page.get_by_role("button", name="Analyse token").click()
    analysis = page.locator("#token-analysis")
    expect(analysis.locator(".verdict")).to_contain_text("Passes every token rule")
    outer, inner, claims = (analysis.locator("table.members").nth(i) for i in range(3))
    expect(outer.locator("tr", has_text="alg")).to_contain_text("RSA-OAEP-256")
    expect(outer.locator("tr", has_text="enc")).to_contain_text("A256GCM")
    expect(inner.locator("tr", has_text="typ")).to_contain_text("at+jwt")
    expect(inner.locator("tr", has_text="alg")).to_contain_text("ES256")
    expect(claims.locator("tr", has_text="sub")).to_contain_text("redacted")
    expect(claims.locator("tr", has_text="iss")).to_contain_text("https://auth.example.com")
    expect(analysis).to_contain_text("300 s (5 min)")
    expect(page.get_by_role("textbox", name="Sample access token")).to_have_value("")
    assert page.evaluate("window.__stagegateMarker === 'still here'"), \
        "the analysis reloaded the page instead of swapping"
    _token_nowhere(page, token)

    # -- the same token again: recognised, not counted twice
    page.get_by_role("textbox", name="Sample access token").fill(token)
    page.get_by_role("button", name="Analyse token").click()
    expect(page.locator("#sample-tokens .notice")).to_contain_text("Already analysed")
    _token_nowhere(page, token)
    listed = page.request.get(f"/api/v1{path}/evidence/tokens").json()["analyses"]
    assert len(listed) == 1

    # -- a bad token: the failing rule beside its claim
    bad = issuer.token(public, iss="https://evil.example")
    page.get_by_role("textbox", name="Sample access token").fill(bad)
    page.get_by_role("button", name="Analyse token").click()
    expect(analysis.locator(".verdict")).to_contain_text("Fails")
    failing_row = claims.locator("tr.is-failing", has_text="iss")
    expect(failing_row.locator(".rule-chip")).to_have_text("CLM-ISS")
    expect(analysis.locator(".finding", has_text="CLM-ISS")).to_contain_text("How to fix")
    _token_nowhere(page, bad)
    _token_nowhere(page, token)
    _screenshot(page)


def test_without_javascript_the_analysis_comes_back_after_a_redirect(browser, base_url: str,
                                                                     signed_in: dict) -> None:
    context = browser.new_context(base_url=base_url, java_script_enabled=False, **signed_in)
    page = context.new_page()
    try:
        path = _compliant_version(page.request, "nojs-orders")
        issuer = Issuer()
        page.goto(path)
        page.get_by_role("button", name="Generate RSA-OAEP-256 key").click()
        expect(page.locator("#keys .key-status--current")).to_be_visible()
        page.get_by_label("…or paste the JWK Set").fill(json.dumps(issuer.jwks()))
        page.get_by_role("button", name="Check and store JWKS").click()
        public = page.request.get(f"/api/v1{path}/jwks.json").json()
        token = issuer.token(public)
        page.get_by_role("textbox", name="Sample access token").fill(token)
        page.get_by_role("button", name="Analyse token").click()
        expect(page.locator("#token-analysis .verdict")).to_contain_text("Passes every token rule")
        expect(page.locator("#sample-tokens .notice")).to_contain_text("Token analysed")
        assert page.url.endswith("#token-analysis")
        _token_nowhere(page, token)
    finally:
        context.close()


def _screenshot(page: Page) -> None:
    """Write a picture of the page when ``STAGEGATE_EVIDENCE_SCREENSHOT`` names a path."""
    target = os.environ.get("STAGEGATE_EVIDENCE_SCREENSHOT")
    if not target:
        return
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    page.mouse.move(0, 0)
    page.locator("#evidence").screenshot(path=str(path))

"""The Gateway panel of the version page (issue 11 point 5) through the Flask test client:
settings (validation errors beside the fields, never a 500), generate / upload / download
(the same bytes as REST), static findings in context (file:line and the configuration lines),
what to add before a proof can run, a proof job with the REAL nginx and its attack table,
roles (a viewer sees the state, no forms and no hints), CSRF, and the board's "enforced and
proven" badge read from the stored summaries.

The ``app`` / ``client`` fixtures of ``tests/conftest.py`` (CSRF off; the default client is a
developer of the owning team); the CSRF test builds its own app with it on.
"""

from __future__ import annotations

import io
import re
import threading
from datetime import timedelta

import pytest
from actorkit import TESTER
from evidencekit import GATEWAY_SETTINGS, SPEC, csrf_app, prove_gateway, store_gateway

from lifecycle import jobs
from lifecycle.catalog import services
from lifecycle.gateway import services as gateway
from lifecycle.jobs.backends import ThreadBackend

HX = {"HX-Request": "true"}
PAGE = "/apis/orders/versions/1.0.0"
REST = "/api/v1/apis/orders/versions/1.0.0"
#: a configuration that proxies without any token check (GW-ENFORCES-TOKEN at nginx.conf:5)
OPEN_CONFIG = b"""events {}
http {
    server {
        listen 443 ssl;
        location / { proxy_pass http://127.0.0.1:8080; }
    }
}
"""
#: SPEC without its token profile
NO_PROFILE = re.sub(rb"\n +x-token-encryption:(\n {8}.*)+", b"", SPEC)
assert b"x-token-encryption" not in NO_PROFILE
SETTINGS_FORM = {f"gw-{k}": v for k, v in GATEWAY_SETTINGS.items()} | {"gw-target": "nginx"}


def _body(response) -> str:
    return response.get_data(as_text=True)


def _gateway(body: str) -> str:
    """The Gateway panel's markup."""
    return body.split('<section id="gateway"', 1)[1]


@pytest.fixture
def version(app, client):
    """API ``orders`` v1.0.0 (team shop) with a spec declaring a token profile."""
    with app.app_context():
        services.create_api("orders", "Orders", team="shop", actor=TESTER)
        services.create_version("orders", "1.0.0", actor=TESTER)
        services.upload_spec("orders", "1.0.0", SPEC, uploader=TESTER)
    return client


# ------------------------------------------------------------------ roles
def test_a_viewer_sees_the_state_without_forms_or_hints(app, version, auth):
    store_gateway(version, REST)
    viewer = auth.client("viewer")
    panel = _gateway(_body(viewer.get(PAGE)))
    assert '<h2 id="gateway-h">Gateway</h2>' in panel
    assert "api.example.com" in panel and "127.0.0.1:8081" in panel  # the settings, read-only
    assert "Download the configuration" in panel
    assert "<form" not in panel
    for hint in ("Run proof", "Save the gateway settings", "Generate configuration",
                 "Upload your own", "Before a proof can run", "POST "):
        assert hint not in panel, hint
    assert "not proven" in panel and "no recent passing proof" in panel
    # and the views refuse them
    assert viewer.post(PAGE + "/gateway/settings", data=SETTINGS_FORM).status_code == 403
    assert viewer.post(PAGE + "/gateway/proofs").status_code == 403


def test_the_developer_sees_the_forms_and_what_to_add_first(version):
    panel = _gateway(_body(version.get(PAGE)))
    assert 'id="gateway-settings-form"' in panel
    assert "No gateway settings saved yet." in panel
    assert "Save the gateway settings first." in panel  # instead of Generate
    assert "Generate or upload a gateway configuration first." in panel
    assert 'id="gateway-generate-form"' not in panel and 'id="gateway-proof-form"' not in panel
    refused = version.post(PAGE + "/gateway/proofs", headers=HX)  # the service's refusal
    assert refused.status_code == 409
    assert "no gateway configuration to prove" in _body(refused)


def test_a_spec_without_a_token_profile_says_so_instead_of_a_button(app, version):
    with app.app_context():
        services.upload_spec("orders", "1.0.0", NO_PROFILE, uploader=TESTER)
    version.put(REST + "/gateway/settings", json=GATEWAY_SETTINGS)
    assert version.put(REST + "/gateway/config", data=OPEN_CONFIG,
                       content_type="text/plain").status_code == 201
    panel = _gateway(_body(version.get(PAGE)))
    assert "x-token-encryption" in panel and "signing-alg" in panel
    assert 'id="gateway-generate-form"' not in panel and 'id="gateway-proof-form"' not in panel
    refused = version.post(PAGE + "/gateway/generate", data={"gwgen-target": "nginx"})
    assert refused.status_code == 422 and "x-token-encryption" in _body(refused)


# ------------------------------------------------------------------ settings
def test_settings_errors_are_shown_beside_the_fields(version):
    missing = version.post(PAGE + "/gateway/settings", data={"gw-server_name": "a.example",
                                                            "gw-target": "nginx"})
    assert missing.status_code == 422
    body = _gateway(_body(missing))
    assert 'id="gw-upstream-error"' in body and 'aria-invalid="true"' in body
    unsafe = version.post(PAGE + "/gateway/settings",
                          data={**SETTINGS_FORM, "gw-upstream": "ftp://x/y;"}, headers=HX)
    assert unsafe.status_code == 422
    field = re.search(r'<p class="field__error" id="gw-upstream-error">([^<]*)</p>',
                      _body(unsafe))
    assert field and "upstream must be http(s)://host[:port]" in field.group(1)
    late = version.post(PAGE + "/gateway/settings",
                        data={**SETTINGS_FORM, "gw-deprecated_at": "tomorrow"})
    assert late.status_code == 422 and 'id="gw-deprecated_at-error"' in _body(late)
    sunset = version.post(PAGE + "/gateway/settings",
                          data={**SETTINGS_FORM, "gw-sunset_at": "2027-01-01T00:00:00Z"})
    assert sunset.status_code == 422 and 'id="gw-sunset_at-error"' in _body(sunset)
    assert version.get(REST + "/gateway/settings").get_json() == {"settings": None}


def test_saving_settings_then_generating_and_downloading(version):
    saved = version.post(PAGE + "/gateway/settings",
                         data={**SETTINGS_FORM, "gw-deprecated_at": "2027-01-01T00:00:00Z"})
    assert saved.status_code == 303
    assert saved.headers["Location"].endswith(PAGE + "#gateway")
    page = _body(version.get(PAGE))
    assert "Gateway settings saved." in page
    stored = version.get(REST + "/gateway/settings").get_json()["settings"]
    assert stored["server_name"] == "api.example.com" and stored["deprecated_at"]
    # the form comes back filled with what is stored
    assert 'value="2027-01-01T00:00:00Z"' in _gateway(page)

    generated = version.post(PAGE + "/gateway/generate", data={"gwgen-target": "nginx"},
                             headers=HX)
    assert generated.status_code == 200
    panel = _gateway(_body(generated))
    assert "Configuration generated for nginx" in panel
    assert "✓ Passes the static checks" in panel
    assert 'id="gateway-proof-form"' in panel and "Run proof" in panel
    again = version.post(PAGE + "/gateway/generate", data={"gwgen-target": "nginx"},
                         headers=HX)
    assert "nothing new stored" in _body(again)

    web = version.get(PAGE + "/gateway/config")
    rest = version.get(REST + "/gateway/config")
    assert web.status_code == rest.status_code == 200
    assert web.get_data() == rest.get_data() and b"auth_request" in web.get_data()
    assert web.headers["Content-Disposition"] == rest.headers["Content-Disposition"]
    assert web.headers["ETag"] == rest.headers["ETag"]

    plus = version.post(PAGE + "/gateway/generate", data={"gwgen-target": "nginx-plus"})
    assert plus.status_code == 303
    assert b"auth_jwt_type nested" in version.get(PAGE + "/gateway/config").get_data()
    assert version.post(PAGE + "/gateway/generate",
                        data={"gwgen-target": "kong"}).status_code == 422


def test_download_without_a_configuration_is_404(version):
    assert version.get(PAGE + "/gateway/config").status_code == 404


# ------------------------------------------------------------------ upload and findings
def test_an_uploaded_configuration_shows_findings_in_context(version):
    answer = version.post(PAGE + "/gateway/upload", headers=HX, data={
        "gwup-target": "nginx", "gwup-config_file": (io.BytesIO(OPEN_CONFIG), "nginx.conf")})
    assert answer.status_code == 200
    panel = _gateway(_body(answer))
    assert "Configuration uploaded" in panel and "✕ Fails static checks" in panel
    findings = panel.split('id="gateway-findings"', 1)[1].split("</section>", 1)[0]
    item = next(li for li in re.findall(r'<li class="finding.*?</li>', findings, flags=re.S)
                if "GW-ENFORCES-TOKEN" in li)
    assert "nginx.conf, line 5" in item
    hit = re.search(r'excerpt__line--hit"><span class="excerpt__no" aria-hidden="true">5</span>'
                    r'([^\n]*)', item)
    assert hit and "proxy_pass http://127.0.0.1:8080;" in hit.group(1)
    assert "How to fix:" in item
    assert version.get(PAGE + "/gateway/config").get_data() == OPEN_CONFIG


def test_a_bad_upload_is_refused_beside_the_field(version):
    empty = version.post(PAGE + "/gateway/upload", data={"gwup-target": "nginx"})
    assert empty.status_code == 422 and 'id="gwup-config_file-error"' in _body(empty)
    binary = version.post(PAGE + "/gateway/upload", data={
        "gwup-target": "nginx", "gwup-config_file": (io.BytesIO(b"\xff\xfe\x00"), "x.conf")})
    assert binary.status_code == 422
    error = re.search(r'id="gwup-config_file-error">([^<]*)<', _body(binary))
    assert error and "not UTF-8" in error.group(1)


# ------------------------------------------------------------------ proof
def test_run_proof_queues_a_job_polls_it_and_shows_the_attack_table(app, version):
    app.config["JOBS_BACKEND"] = "thread"  # also on PostgreSQL: the job runs in this process
    jobs.init_app(app)
    store_gateway(version, REST)
    started = version.post(PAGE + "/gateway/proofs", headers=HX)
    assert started.status_code == 200
    panel = _gateway(_body(started))
    job_id = re.search(r'hx-get="/jobs/([0-9a-f]+)"', panel).group(1)
    assert 'hx-trigger="load delay:500ms"' in panel
    assert 'id="gateway-proof-form"' not in panel  # no second proof while one runs
    backend = app.extensions["stagegate.jobs"]
    assert isinstance(backend, ThreadBackend)
    backend.join(timeout=120)

    polled = _body(version.get(f"/jobs/{job_id}", headers=HX))
    assert "cases as expected" in polled and "passed" in polled
    assert f'hx-get="{PAGE}?gwjob={job_id}"' in polled and 'hx-target="#version"' in polled
    assert version.get(f"/jobs/{job_id}").status_code == 303  # no JavaScript: the page

    panel = _gateway(_body(version.get(f"{PAGE}?gwjob={job_id}")))
    assert "Enforced and proven" in panel
    table = panel.split('class="table gateway__cases"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r'<tr class="case case--(pass|fail)" data-case="([^"]+)">(.*?)</tr>',
                      table, flags=re.S)
    assert len(rows) >= 24 and all(state == "pass" for state, _, _ in rows)
    good = next(cells for _, case, cells in rows if case == "good-token")
    assert "<td>allowed</td>" in good and "<td>yes</td>" in good and "✓" in good
    attack = next(cells for _, case, cells in rows if case != "good-token")
    assert "<td>refused</td>" in attack and "<td>no</td>" in attack
    assert "the current configuration" in panel and "nginx/" in panel
    assert '<th scope="col">Expected</th>' in table and '<th scope="col">Observed</th>' in table


def test_without_javascript_run_proof_redirects_to_a_page_that_refreshes_itself(
        app, version, monkeypatch):
    app.config["JOBS_BACKEND"] = "thread"
    jobs.init_app(app)
    release = threading.Event()
    original = gateway.prove

    def held(*args, **kwargs):
        release.wait(timeout=60)
        return original(*args, **kwargs)

    monkeypatch.setattr(gateway, "prove", held)
    store_gateway(version, REST)
    try:
        answer = version.post(PAGE + "/gateway/proofs")
        assert answer.status_code == 303
        location = answer.headers["Location"]
        assert re.search(r"\?gwjob=[0-9a-f]+#gateway$", location)
        running = _body(version.get(location))
        assert '<noscript><meta http-equiv="refresh" content="2"></noscript>' in running
        assert "Proof queued" in running and "Running the proof with a real nginx" in running
        assert 'id="gateway-proof-form"' not in running
    finally:
        release.set()
    app.extensions["stagegate.jobs"].join(timeout=120)
    done = _body(version.get(location))
    assert 'http-equiv="refresh"' not in done
    assert "cases as expected" in done and 'class="table gateway__cases"' in done


def test_a_failed_proof_is_red_in_text_and_an_earlier_one_is_listed(app, version):
    store_gateway(version, REST)
    assert prove_gateway(version, REST)["passed"] is True
    generated = version.get(REST + "/gateway/config").get_data(as_text=True)
    unchecked = "\n".join(line for line in generated.splitlines()
                          if not line.strip().startswith("auth_request /"))
    assert version.put(REST + "/gateway/config", data=unchecked.encode(),
                       content_type="text/plain").status_code == 201
    assert prove_gateway(version, REST)["passed"] is False
    panel = _gateway(_body(version.get(PAGE)))
    assert "✕ Failed" in panel and "FAIL" in panel
    assert 'class="case case--fail"' in panel
    assert "Enforced and proven" not in panel
    listing = panel.split('id="gateway-proofs-h"', 1)[1]
    assert listing.count('<th scope="row"><a href=') == 2
    assert "(current)" in listing and "✓ passed" in listing and "✕ failed" in listing
    earlier = re.findall(r'href="([^"]*gwproof=\d+)#gateway-proof"', listing)[-1]
    old = _gateway(_body(version.get(earlier.replace("&amp;", "&"))))
    assert "an earlier configuration (does not count)" in old and "✓ Passed" in old


# ------------------------------------------------------------------ the board badge
def _card(body: str, api: str) -> str:
    return next(li for li in re.findall(r'<li class="card.*?</li>', body, flags=re.S)
                if f"/apis/{api}/versions/" in li)


def test_the_board_badge_follows_proofs_configuration_changes_and_age(app, version, clock):
    assert "Enforced and proven" not in _card(_body(version.get("/")), "orders")
    store_gateway(version, REST)
    assert "Enforced and proven" not in _card(_body(version.get("/")), "orders")
    assert prove_gateway(version, REST)["passed"] is True
    card = _card(_body(version.get("/")), "orders")
    assert "Enforced and proven" in card and '<span class="visually-hidden">Gateway </span>' in card
    cards = version.get("/api/v1/versions").get_json()["versions"]
    assert [c["gateway_proven"] for c in cards if c["api"] == "orders"] == [True]

    clock.now += timedelta(days=31)  # the proof ages out: no refresh needed for the badge
    assert "Enforced and proven" not in _card(_body(version.get("/")), "orders")
    clock.now -= timedelta(days=31)
    assert "Enforced and proven" in _card(_body(version.get("/")), "orders")

    assert version.put(REST + "/gateway/config", data=OPEN_CONFIG,
                       content_type="text/plain").status_code == 201  # the proof no longer counts
    assert "Enforced and proven" not in _card(_body(version.get("/")), "orders")
    assert version.get("/api/v1/versions").get_json()["versions"][0]["gateway_proven"] is False


# ------------------------------------------------------------------ CSRF
@pytest.mark.parametrize("path", ["/gateway/settings", "/gateway/generate", "/gateway/upload",
                                  "/gateway/proofs"])
def test_gateway_posts_without_a_csrf_token_are_refused(tmp_path, path):
    app = csrf_app(tmp_path)
    client = app.test_client()
    refused = client.post(PAGE + path, data=SETTINGS_FORM)
    assert refused.status_code == 400
    assert client.get(REST + "/gateway/settings").status_code in (401, 200)
    page = _body(client.get(PAGE))
    panel = _gateway(page)
    assert re.search(r'name="gw-csrf_token"', panel)
    token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
    accepted = client.post(PAGE + "/gateway/settings", data=SETTINGS_FORM,
                           headers={"X-CSRFToken": token})
    assert accepted.status_code == 303

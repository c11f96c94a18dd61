"""The "Encryption evidence" area of the version page through the Flask test client: managed
keys (generate, rotate), the issuer JWKS, sample-token analysis — full page vs fragment,
post-redirect-get, refusals as 422/409/503 messages, and the raw token never shown back.

Uses the ``app`` / ``client`` fixtures of ``tests/conftest.py`` (CSRF off there; the CSRF
test builds its own app with it on).  Tokens are built with ``tests/evidencekit.py``.
"""

from __future__ import annotations

import io
import json
import re
import time

import pytest
from actorkit import TESTER
from evidencekit import ECDH_SPEC, SPEC, Issuer, csrf_app

from lifecycle.catalog import services
from lifecycle.evidence import keys
from lifecycle.evidence import services as evidence
from lifecycle.gates import moves

HX = {"HX-Request": "true"}
PAGE = "/apis/orders/versions/1.0.0"
REST = "/api/v1/apis/orders/versions/1.0.0"


def _body(response) -> str:
    return response.get_data(as_text=True)


def _notices(body: str) -> list[str]:
    return re.findall(r'<p class="notice notice--\w+"[^>]*>([^<]*)</p>', body)


def _row(body: str, name: str) -> str:
    """The table row whose header cell is ``<code>name</code>`` (first match)."""
    for row in re.findall(r"<tr[^>]*>.*?</tr>", body, flags=re.S):
        if re.search(rf'<th scope="row"><code>{re.escape(name)}</code></th>', row):
            return row
    raise AssertionError(f"no row for {name!r}")


@pytest.fixture
def version(app, client):
    """API ``orders`` v1.0.0 (team shop: the default client's) with a spec declaring
    RSA-OAEP-256 / A256GCM / ES256."""
    with app.app_context():
        services.create_api("orders", "Orders", team="shop", actor=TESTER)
        services.create_version("orders", "1.0.0", actor=TESTER)
        services.upload_spec("orders", "1.0.0", SPEC, uploader=TESTER)
    return PAGE


@pytest.fixture
def issuer() -> Issuer:
    return Issuer()


@pytest.fixture
def ready(client, version, issuer):
    """A generated key and the issuer's JWKS, supplied through the forms; returns the
    version's public encryption JWKS."""
    assert client.post(f"{PAGE}/keys").status_code == 303
    response = client.post(f"{PAGE}/evidence/jwks",
                           data={"jwks-jwks_text": json.dumps(issuer.jwks())})
    assert response.status_code == 303, _body(response)
    return client.get(f"{REST}/jwks.json").get_json()


def _analyses(app) -> list:
    with app.app_context():
        return evidence.list_token_evidence(services.get_version("orders", "1.0.0"))


# ------------------------------------------------------------------ full page vs fragment
def test_the_version_page_has_the_evidence_area_as_page_and_fragment(client, version):
    page = _body(client.get(PAGE))
    assert "<html" in page and 'id="evidence"' in page
    assert "Generate RSA-OAEP-256 key" in page
    assert 'id="token-form"' in page and 'id="jwks-form"' in page
    fragment = client.get(PAGE, headers=HX)
    assert "<html" not in _body(fragment)
    assert _body(fragment).lstrip().startswith('<div id="version"')
    assert 'id="evidence"' in _body(fragment)


@pytest.mark.parametrize(("path", "data", "anchor"), [
    ("/keys", {}, "#keys"),
    ("/evidence/jwks", None, "#issuer-jwks"),
    ("/evidence/tokens", None, "#token-analysis"),
])
def test_each_evidence_form_redirects_without_htmx_and_answers_a_fragment_with_it(
        client, version, issuer, path, data, anchor):
    if path == "/evidence/tokens":
        client.post(f"{PAGE}/keys")
        data = {"sample-token": issuer.token(client.get(f"{REST}/jwks.json").get_json())}
    elif data is None:
        data = {"jwks-jwks_text": json.dumps(issuer.jwks())}
    plain = client.post(PAGE + path, data=data)
    assert plain.status_code == 303
    assert PAGE in plain.headers["Location"] and plain.headers["Location"].endswith(anchor)
    shown = _body(client.get(plain.headers["Location"]))
    assert "<html" in shown and len(_notices(shown)) == 1  # the outcome, once
    assert _notices(_body(client.get(PAGE))) == []  # and not again on reload

    again = client.post(PAGE + path, data=data, headers=HX)
    body = _body(again)
    assert again.status_code in (200, 409)
    assert "<html" not in body
    assert 'id="evidence"' in body and 'id="gate"' in body  # what the forms swap
    assert "HX-Request" in again.headers["Vary"]


# ------------------------------------------------------------------ managed keys
def test_generate_and_rotate_keys_through_the_forms(app, client, version):
    response = client.post(f"{PAGE}/keys")
    page = _body(client.get(response.headers["Location"]))
    with app.app_context():
        obj = services.get_version("orders", "1.0.0")
        first = keys.current_key(obj)
        private = keys.decryption_keys(obj)[0].export_private(as_dict=True)
    assert f'title="{first.kid}"' in page and "RSA 3072" in page
    assert "key-status--current" in page
    assert "Rotate the key" in page and "Generate RSA-OAEP-256 key" not in page
    jwks_url = f"http://localhost{REST}/jwks.json"
    assert f'href="{jwks_url}"' in page and f"<code>{jwks_url}</code>" in page
    for member in ("d", "p", "q", "dp", "dq", "qi"):
        assert private[member] not in page

    rotated = client.post(f"{PAGE}/keys/rotate", data={"rotate-grace": "3", "rotate-unit": "days"},
                          headers=HX)
    body = _body(rotated)
    assert rotated.status_code == 200
    assert "decrypts for 3 more days" in " ".join(_notices(body))
    with app.app_context():
        obj = services.get_version("orders", "1.0.0")
        listed = keys.list_keys(obj)
        assert [k.state for k in listed] == ["current", "grace"]
        until = listed[1].grace_until
        assert [e.kind for e in keys.key_events(obj)] == ["generated", "rotated", "generated"]
    assert "in grace" in body and f"{until.day} {until:%b %Y, %H:%M} UTC" in body

    client.post(f"{PAGE}/keys/rotate", data={"rotate-grace": "0", "rotate-unit": "hours"})
    with app.app_context():
        states = [k.state for k in keys.list_keys(services.get_version("orders", "1.0.0"))]
    assert states == ["current", "retired", "grace"]
    assert "key-status--retired" in _body(client.get(PAGE))


@pytest.mark.parametrize(("grace", "unit", "message"), [
    ("-1", "days", "cannot be negative"),
    ("abc", "days", "Not a valid integer"),
    ("", "hours", "whole number"),
    ("91", "days", "At most 90 days"),
    ("2161", "hours", "At most 90 days"),
    ("3", "weeks", "Not a valid choice"),
])
def test_rotation_refuses_a_bad_grace_period(app, client, version, grace, unit, message):
    client.post(f"{PAGE}/keys")
    response = client.post(f"{PAGE}/keys/rotate", data={"rotate-grace": grace, "rotate-unit": unit},
                           headers=HX)
    assert response.status_code == 422
    assert message in _body(response)
    assert 'aria-invalid="true"' in _body(response)
    with app.app_context():
        assert len(keys.list_keys(services.get_version("orders", "1.0.0"))) == 1


def test_generating_twice_is_a_409_message(client, version):
    client.post(f"{PAGE}/keys")
    response = client.post(f"{PAGE}/keys", headers=HX)
    assert response.status_code == 409
    assert "rotate it" in " ".join(_notices(_body(response)))


def test_without_a_declared_alg_the_page_says_what_to_declare(app, client):
    with app.app_context():
        services.create_api("orders", "Orders", team="shop", actor=TESTER)
        services.create_version("orders", "1.0.0", actor=TESTER)
        services.upload_spec("orders", "1.0.0", SPEC.replace(b"        alg: RSA-OAEP-256\n", b""),
                             uploader=TESTER)
    page = _body(client.get(PAGE))
    assert f'action="{PAGE}/keys"' not in page and "x-token-encryption.alg" in page
    response = client.post(f"{PAGE}/keys")
    assert response.status_code == 422
    assert "declares no" in " ".join(_notices(_body(response)))


def test_an_ecdh_profile_gets_an_ec_key(app, client):
    with app.app_context():
        services.create_api("orders", "Orders", team="shop", actor=TESTER)
        services.create_version("orders", "1.0.0", actor=TESTER)
        services.upload_spec("orders", "1.0.0", ECDH_SPEC, uploader=TESTER)
    client.post(f"{PAGE}/keys")
    page = _body(client.get(PAGE))
    assert "EC P-256" in page and "<code>ECDH-ES+A256KW</code>" in page


def test_an_unusable_key_store_is_a_503_message_not_a_500(app, client, version, issuer):
    client.post(f"{PAGE}/keys")
    token = issuer.token(client.get(f"{REST}/jwks.json").get_json())
    app.config["KEY_ENCRYPTION_KEY"] = "not base64url!"
    for path, data in (("/keys/rotate", {"rotate-grace": "1", "rotate-unit": "days"}),
                       ("/evidence/tokens", {"sample-token": token})):
        for headers in ({}, HX):
            response = client.post(PAGE + path, data=data, headers=headers)
            body = _body(response)
            assert response.status_code == 503, body
            assert "unavailable" in " ".join(_notices(body))
            assert 'role="alert"' in body
            assert token not in body
    assert _analyses(app) == []


# ------------------------------------------------------------------ issuer JWKS
def test_paste_and_upload_the_issuer_jwks(client, version, issuer):
    response = client.post(f"{PAGE}/evidence/jwks",
                           data={"jwks-jwks_text": json.dumps(issuer.jwks())})
    page = _body(client.get(response.headers["Location"]))
    assert "Issuer JWKS stored: 1 key" in " ".join(_notices(page))
    assert f'title="{issuer.kid}"' in page and "EC P-256" in page
    assert "Replace the issuer JWKS" in page

    same = client.post(f"{PAGE}/evidence/jwks", headers=HX, content_type="multipart/form-data",
                       data={"jwks-jwks_file": (io.BytesIO(json.dumps(issuer.jwks()).encode()),
                                                "jwks.json")})
    assert same.status_code == 200
    assert "Identical to the stored JWKS" in " ".join(_notices(_body(same)))


def test_a_jwks_with_private_members_shows_the_failing_key_rule_and_never_the_private_key(
        client, version, issuer):
    careless = issuer.jwks_with_private_members()
    client.post(f"{PAGE}/evidence/jwks", data={"jwks-jwks_text": json.dumps(careless)})
    page = _body(client.get(PAGE))
    failing = page.split('id="issuer-jwks"')[1].split("</section>")[0]
    assert "KEY-JWKS-HYGIENE" in failing and "How to fix" in failing
    assert "Fails key rules" in failing
    assert careless["keys"][0]["d"] not in page


@pytest.mark.parametrize("text", ['{"keys": "nope"}', "not json at all {", '{"keys": []}'])
def test_an_unreadable_jwks_is_a_422_field_error_without_echo(app, client, version, text):
    response = client.post(f"{PAGE}/evidence/jwks", data={"jwks-jwks_text": text}, headers=HX)
    body = _body(response)
    assert response.status_code == 422
    assert "Not a readable JWK Set" in body and 'aria-invalid="true"' in body
    assert text not in body
    with app.app_context():
        assert evidence.latest_jwks(services.get_version("orders", "1.0.0")) is None


def test_an_empty_jwks_form_is_refused(client, version):
    response = client.post(f"{PAGE}/evidence/jwks", data={"jwks-jwks_text": "  "})
    assert response.status_code == 422
    assert "Choose a JWKS file or paste" in _body(response)


# ------------------------------------------------------------------ sample tokens
def test_a_good_token_shows_its_analysis_and_never_the_token(app, client, ready, issuer):
    token = issuer.token(ready)
    response = client.post(f"{PAGE}/evidence/tokens", data={"sample-token": "Bearer " + token})
    location = response.headers["Location"]
    assert response.status_code == 303 and token not in location and token[-40:] not in location
    with client.session_transaction() as carried:  # the notice crossing the redirect
        assert carried and token[-40:] not in json.dumps(dict(carried))
    page = _body(client.get(location))
    analysis = page.split('id="token-analysis"')[1]
    assert "Passes every token rule" in analysis
    assert "Token analysed: it passes every token rule." in _notices(page)
    assert "RSA-OAEP-256" in _row(analysis, "alg") and "A256GCM" in _row(analysis, "enc")
    assert "at+jwt" in _row(analysis, "typ")
    assert "redacted" in _row(analysis, "sub") and "user-4711" not in page
    assert "https://auth.example.com" in _row(analysis, "iss")
    assert "300 s (5 min)" in analysis
    assert "Failing rules" not in analysis
    (record,) = _analyses(app)
    assert record.fingerprint[:16] in analysis
    assert token not in page and token[-40:] not in page
    for part in token.split("."):
        if len(part) > 20:
            assert part not in page


@pytest.mark.parametrize(("changes", "claim", "rule"), [
    ({"iss": "https://evil.example"}, "iss", "CLM-ISS"),
    ({"aud": "https://other.example"}, "aud", "CLM-AUD"),
    ({"now": int(time.time()) - 7200}, "exp", "CLM-EXP"),
    ({"jti": None}, "jti", "CLM-JTI"),
])
def test_a_bad_token_shows_the_failing_rule_beside_its_claim(client, ready, issuer, changes,
                                                             claim, rule):
    token = issuer.token(ready, **changes)
    response = client.post(f"{PAGE}/evidence/tokens", data={"sample-token": token}, headers=HX)
    body = _body(response)
    assert response.status_code == 200
    analysis = body.split('id="token-analysis"')[1]
    assert "Fails" in analysis and "verdict--fail" in analysis
    row = _row(analysis, claim)
    assert 'class="is-failing"' in row and rule in row
    findings = analysis.split("Failing rules")[1]
    assert f"<code>{rule}</code>" in findings
    assert "How to fix" in findings and "Sources:" in findings
    assert token not in body and token[-40:] not in body


def test_a_signed_only_token_is_not_accepted(client, ready, issuer):
    token = issuer.signed(issuer.claims())
    body = _body(client.post(f"{PAGE}/evidence/tokens", data={"sample-token": token},
                             headers=HX))
    assert "TOK-NESTED-JWE" in body.split('id="token-analysis"')[1]
    assert token not in body


def test_the_same_token_again_is_already_analysed_and_not_counted_twice(app, client, ready,
                                                                        issuer):
    token = issuer.token(ready)
    client.post(f"{PAGE}/evidence/tokens", data={"sample-token": token})
    again = client.post(f"{PAGE}/evidence/tokens", data={"sample-token": token + "\n"},
                        headers=HX)
    body = _body(again)
    assert again.status_code == 200
    assert "Already analysed" in " ".join(_notices(body)) and "not counted again" in body
    assert len(_analyses(app)) == 1
    plain = client.post(f"{PAGE}/evidence/tokens", data={"sample-token": token})
    assert "Already analysed" in " ".join(_notices(_body(client.get(plain.headers["Location"]))))
    assert len(_analyses(app)) == 1


def test_earlier_analyses_are_listed_and_selectable(app, client, ready, issuer):
    client.post(f"{PAGE}/evidence/tokens", data={"sample-token": issuer.token(ready)})
    client.post(f"{PAGE}/evidence/tokens",
                data={"sample-token": issuer.token(ready, iss="https://evil.example")})
    first, second = sorted(a.id for a in _analyses(app))
    newest = _body(client.get(PAGE)).split('id="token-analysis"')[1]
    assert f"Analysis #{second}" in newest and "verdict--fail" in newest
    older = _body(client.get(f"{PAGE}?analysis={first}")).split('id="token-analysis"')[1]
    assert f"Analysis #{first}" in older and "Passes every token rule" in older
    unknown = _body(client.get(f"{PAGE}?analysis=99999")).split('id="token-analysis"')[1]
    assert f"Analysis #{second}" in unknown


@pytest.mark.parametrize("text", ["hello", "a.b.c.d.e", "x" * 5000])
def test_garbage_is_analysed_as_a_failing_token_and_never_echoed(client, ready, text):
    response = client.post(f"{PAGE}/evidence/tokens", data={"sample-token": text}, headers=HX)
    body = _body(response)
    assert response.status_code == 200
    assert "TOK-SYNTAX" in body.split('id="token-analysis"')[1]
    assert f">{text}<" not in body and f'value="{text}"' not in body
    if len(text) > 10:
        assert text not in body


def test_an_empty_token_is_a_422_field_error(client, version):
    response = client.post(f"{PAGE}/evidence/tokens", data={"sample-token": "   "}, headers=HX)
    assert response.status_code == 422
    assert "Paste a sample access token" in _body(response)
    assert 'id="sample-token-error"' in _body(response)


def test_the_token_field_is_rendered_empty_and_without_autocomplete(client, version):
    page = _body(client.get(PAGE))
    field = re.search(r'<textarea id="sample-token"[^>]*>([^<]*)</textarea>', page, flags=re.S)
    assert field is not None and field.group(1) == ""
    assert 'autocomplete="off"' in field.group(0) and 'spellcheck="false"' in field.group(0)


# ------------------------------------------------------------------ the gate's links
def test_missing_evidence_in_the_gate_links_to_the_forms(app, client, version):
    with app.app_context():
        moves.transition("orders", "1.0.0", "development", actor=TESTER)
        moves.transition("orders", "1.0.0", "testing", actor=TESTER)
    page = _body(client.get(PAGE))
    gate = page.split('id="gate"')[1].split("</section>")[0]
    assert 'href="#token-form"' in gate and "Paste a sample access token" in gate
    assert 'href="#jwks-form"' in gate and "Paste the issuer&#39;s signing JWKS" in gate
    assert 'id="token-form"' in page and 'id="jwks-form"' in page


# ------------------------------------------------------------------ CSRF
@pytest.mark.parametrize("path", ["/keys", "/keys/rotate", "/evidence/jwks", "/evidence/tokens"])
def test_evidence_posts_without_a_csrf_token_are_refused(tmp_path, path):
    app = csrf_app(tmp_path)
    client = app.test_client()
    refused = client.post(PAGE + path, data={"rotate-grace": "1", "rotate-unit": "days"})
    assert refused.status_code == 400
    with app.app_context():
        assert keys.list_keys(services.get_version("orders", "1.0.0")) == []
    page = _body(client.get(PAGE))
    evidence_area = page.split('id="evidence"')[1]
    # the generate, JWKS and token forms carry it (prefixed field names)
    assert len(re.findall(r'name="(keygen|jwks|sample)-csrf_token"', evidence_area)) == 3
    token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
    accepted = client.post(f"{PAGE}/keys", headers={"X-CSRFToken": token})
    assert accepted.status_code == 303

"""The htmx web UI through the Flask test client: full pages vs fragments, forms, CSRF.

Uses the ``app`` / ``client`` fixtures of ``tests/conftest.py`` (CSRF off there; the CSRF
test builds its own app with it on).
"""

from __future__ import annotations

import io
import re

import pytest
from actorkit import TESTER
from documents import compliant
from flask_migrate import upgrade

from lifecycle.app import create_app
from lifecycle.catalog import services

HX = {"HX-Request": "true"}
HX_RESTORE = {"HX-Request": "true", "HX-History-Restore-Request": "true"}

#: an OpenAPI 3.1 document that passes the spec rules (bearer + x-token-encryption, https)
GOOD = compliant("Pets", "pets", """\
  /pets:
    get:
      operationId: listPets
      responses:
        "200":
          description: All pets
    post:
      operationId: addPet
      responses:
        "201":
          description: Added
""")

#: the same document with one operation opened to anonymous callers (``security: []``)
BAD = GOOD.replace(
    '      operationId: addPet\n',
    '      operationId: addPet\n      security: []\n',
)
#: 1-based line of the offending ``security: []``
BAD_LINE = BAD.splitlines().index("      security: []") + 1

#: not YAML at all: an unclosed flow sequence on line 3
BROKEN = "openapi: 3.1.0\ninfo: {title: x, version: '1'}\npaths: [\n"


def _page(response) -> str:
    return response.get_data(as_text=True)


def _promote(client, url, to):
    response = client.post(f"{url}/promote", data={"promote-to": to})
    assert response.status_code == 303, _page(response)


@pytest.fixture
def client(auth):
    """A developer of team Animals, which owns ``pets`` (least privilege for these pages)."""
    return auth.client("developer", teams=("Animals",))


@pytest.fixture
def version(app):
    """An API ``pets`` with version ``1.0.0`` in design, no document yet."""
    with app.app_context():
        services.create_api("pets", "Pet Store", team="Animals", actor=TESTER)
        services.create_version("pets", "1.0.0", actor=TESTER)
    return "/apis/pets/versions/1.0.0"


def _upload(client, url, text, headers=None, as_file=True):
    data = {"spec_file": (io.BytesIO(text.encode()), "openapi.yaml")} if as_file else {
        "spec_text": text}
    return client.post(f"{url}/spec", data=data, headers=headers or {},
                       content_type="multipart/form-data")


# ------------------------------------------------------------------ full page vs fragment
PAGES = ["/", "/?q=pet&stage=design", "/apis/pets/versions/1.0.0"]


@pytest.mark.parametrize("path", PAGES)
def test_page_without_htmx_is_a_full_document(client, version, path):
    response = client.get(path)
    assert response.status_code == 200
    assert "<html" in _page(response)
    assert "HX-Request" in response.headers["Vary"]


@pytest.mark.parametrize(("path", "marker"), [
    ("/", 'id="board"'), ("/?q=pet", 'id="board"'), ("/apis/pets/versions/1.0.0", 'id="version"'),
])
def test_htmx_request_gets_only_the_fragment(client, version, path, marker):
    response = client.get(path, headers=HX)
    body = _page(response)
    assert response.status_code == 200
    assert "<html" not in body
    assert body.lstrip().startswith(f"<div {marker}")
    assert "HX-Request" in response.headers["Vary"]


@pytest.mark.parametrize("path", PAGES)
def test_history_restore_gets_the_full_page(client, version, path):
    body = _page(client.get(path, headers=HX_RESTORE))
    assert "<html" in body


def test_boosted_request_gets_the_full_page(client, version):
    body = _page(client.get("/", headers={**HX, "HX-Boosted": "true"}))
    assert "<html" in body


@pytest.mark.parametrize("path", ["/rules", "/apis/pets"])
def test_other_pages_render(client, version, path):
    response = client.get(path)
    assert response.status_code == 200
    assert "<html" in _page(response)


def test_unknown_version_is_a_404_page(client, version):
    response = client.get("/apis/pets/versions/9.9.9")
    assert response.status_code == 404
    assert "<html" in _page(response)


# ------------------------------------------------------------------ board
def test_board_shows_the_version_in_its_stage_column(client, version):
    body = _page(client.get("/"))
    design = body.split('id="col-design"')[1].split("</section>")[0]
    assert "Pet Store" in design and "v1.0.0" in design
    assert "No spec yet" in design
    assert client.user_email in body and "Sign out" in body  # who is signed in


def test_board_filter_by_query_and_stage(client, version):
    assert "Pet Store" in _page(client.get("/?q=PET", headers=HX))
    assert "Pet Store" not in _page(client.get("/?q=zebra", headers=HX))
    assert "Pet Store" not in _page(client.get("/?stage=testing", headers=HX))
    # an unknown stage is ignored rather than an error page
    assert client.get("/?stage=nowhere").status_code == 200


def test_board_badge_says_ready_or_blocked(client, version):
    # the default pack lets a valid document into development; testing blocks on high
    _upload(client, version, BAD)
    assert "Ready for Development" in _page(client.get("/"))
    _promote(client, version, "development")
    body = _page(client.get("/"))
    column = body.split('id="col-development"')[1].split("</section>")[0]
    assert re.search(r"Blocked · 1 failing rule\b", column)


def test_create_api_and_version_through_the_forms(auth):
    client = auth.client("developer", teams=("Shop",))
    r = client.post("/apis", data={"name": "orders", "title": "Orders", "team": "Shop"})
    assert r.status_code == 303 and r.headers["Location"].endswith("/apis/orders")
    r = client.post("/versions", data={"api": "orders", "version": "2.0.0"})
    assert r.status_code == 303
    assert r.headers["Location"].endswith("/apis/orders/versions/2.0.0")
    body = _page(client.get(r.headers["Location"]))
    assert "Version 2.0.0 created" in body


def test_create_api_with_a_bad_name_shows_the_error(client):
    r = client.post("/apis", data={"name": "Bad Name", "title": "x", "team": "Animals"})
    assert r.status_code == 422
    assert "Lower-case letters" in _page(r)


def test_duplicate_api_is_refused_on_the_form(client, version):
    r = client.post("/apis", data={"name": "pets", "title": "Again", "team": "Animals"})
    assert r.status_code == 422
    assert "exists already" in _page(r)


def test_version_from_the_api_page(client, version):
    r = client.post("/apis/pets/versions", data={"version": "1.1.0"})
    assert r.status_code == 303
    r = client.post("/apis/pets/versions", data={"version": "1.1.0"})
    assert r.status_code == 422 and "already has version" in _page(r)


# ------------------------------------------------------------------ CSRF
def test_post_without_csrf_token_is_refused(tmp_path):
    app = create_app({
        "TESTING": True,
        "WTF_CSRF_ENABLED": True,
        "SECRET_KEY": "test",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'csrf.sqlite'}",
    })
    with app.app_context():
        upgrade()
    client = app.test_client()  # the default developer, of team shop
    response = client.post("/apis", data={"name": "x", "title": "X", "team": "shop"})
    assert response.status_code == 400
    # the page itself hands htmx the token in a header, and forms carry it as a field
    page = _page(client.get("/"))
    token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
    assert 'name="csrf_token"' in page
    ok = client.post("/apis", data={"name": "x", "title": "X", "team": "shop"},
                     headers={"X-CSRFToken": token})
    assert ok.status_code == 303


# ------------------------------------------------------------------ upload
def test_upload_by_file_creates_a_revision(app, client, version):
    r = _upload(client, version, GOOD)
    assert r.status_code == 303
    body = _page(client.get(version))
    assert "Revision 1 stored" in body
    with app.app_context():
        obj = services.get_version("pets", "1.0.0")
        assert [rev.number for rev in obj.revisions] == [1]
        assert bytes(obj.revisions[0].raw) == GOOD.encode()


def test_pasted_text_is_stored_with_plain_newlines(app, client, version):
    r = _upload(client, version, GOOD.replace("\n", "\r\n"), headers=HX, as_file=False)
    assert r.status_code == 200
    assert "Revision 1 stored" in _page(r)
    with app.app_context():
        assert bytes(services.get_version("pets", "1.0.0").revisions[0].raw) == GOOD.encode()


def test_same_bytes_twice_make_no_second_revision(client, version):
    _upload(client, version, GOOD)
    r = _upload(client, version, GOOD, headers=HX)
    assert "Identical to revision 1" in _page(r)


def test_upload_without_a_document_asks_for_one(client, version):
    r = client.post(f"{version}/spec", data={}, headers=HX)
    assert r.status_code == 422
    assert "Choose a file" in _page(r)


@pytest.mark.parametrize("headers", [{}, HX])
def test_unreadable_upload_shows_the_error_with_its_line(app, client, version, headers):
    r = _upload(client, version, BROKEN, headers=headers)
    body = _page(r)
    assert r.status_code == 422
    assert ("<html" in body) == (not headers)
    assert "could not be read (line " in body
    assert "Nothing was stored" in body
    with app.app_context():
        assert services.get_version("pets", "1.0.0").revisions == []


# ------------------------------------------------------------------ gate and moves
def test_gate_panel_explains_each_blocking_finding(client, version):
    _upload(client, version, BAD)
    _promote(client, version, "development")
    body = _page(client.get(version, headers=HX))
    assert "Gate into Testing" in body and "Blocked in revision 1: 1 failing rule." in body
    assert "SPEC-OPERATIONS-SECURED" in body
    finding = body.split("SPEC-OPERATIONS-SECURED", 1)[1].split("</li>", 1)[0]
    assert f"line {BAD_LINE}" in finding
    # the offending line is shown, highlighted, with its neighbours
    assert re.search(
        rf'excerpt__line--hit"><span class="excerpt__no" aria-hidden="true">{BAD_LINE}</span>'
        r'\s+(<mark class="excerpt__at"[^>]*>s</mark>)?(s)?ecurity: \[\]', finding)
    assert "How to fix" in finding
    assert "https://" in finding  # a source link


def test_failures_the_gate_lets_through_are_warnings(client, version):
    _upload(client, version, BAD)  # into development only validity blocks (default pack)
    body = _page(client.get(version, headers=HX))
    assert "Passes" in body
    warnings = body.split("Warnings (do not block)")[1].split("</ol>")[0]
    assert "SPEC-OPERATIONS-SECURED" in warnings
    assert "What blocks it" not in body


def test_promote_blocked_shows_the_findings_with_409(client, version):
    """Recorded choice: a refused promotion answers 409 with the re-rendered fragment, and
    base.html's htmx-config makes htmx swap 409 and 422 (htmx 2 does not by default)."""
    _upload(client, version, BAD)
    _promote(client, version, "development")
    r = client.post(f"{version}/promote", data={"promote-to": "testing"}, headers=HX)
    body = _page(r)
    assert r.status_code == 409
    assert "<html" not in body and 'id="version"' in body
    assert "gate blocks" in body and "SPEC-OPERATIONS-SECURED" in body
    page = _page(client.get(version))
    config = re.search(r'<meta name="htmx-config" content=\'([^\']+)\'', page).group(1)
    assert '{"code": "409", "swap": true, "error": false}' in config
    assert '{"code": "422", "swap": true, "error": false}' in config
    assert "Development" in _page(client.get(version)).split('aria-current="step"')[1][:300]


def test_promote_after_fixing_moves_to_the_next_stage(client, version):
    _upload(client, version, BAD)
    _promote(client, version, "development")
    _upload(client, version, GOOD)
    r = client.post(f"{version}/promote", data={"promote-to": "testing"})
    assert r.status_code == 303
    body = _page(client.get(version))
    assert "Promoted to Testing" in body
    assert "Testing" in body.split('aria-current="step"')[1][:300]


def test_a_stale_promote_button_cannot_skip_a_stage(client, version):
    _upload(client, version, GOOD)
    assert client.post(f"{version}/promote", data={"promote-to": "development"}).status_code == 303
    r = client.post(f"{version}/promote", data={"promote-to": "development"}, headers=HX)
    assert r.status_code == 422
    assert "already in development" in _page(r)


def test_demote_needs_a_reason(app, client, version):
    _upload(client, version, GOOD)
    client.post(f"{version}/promote", data={"promote-to": "development"})
    demote = f"{version}/demote"
    r = client.post(demote, data={"demote-to": "design", "demote-reason": "  "}, headers=HX)
    assert r.status_code == 422
    assert "Say why it moves back." in _page(r)
    with app.app_context():
        assert services.get_version("pets", "1.0.0").stage == "development"
    r = client.post(demote, data={"demote-to": "design", "demote-reason": "API review found gaps"},
                    headers=HX)
    assert r.status_code == 200
    body = _page(r)
    assert "Moved back to Design" in body
    assert "API review found gaps" in body  # the history shows the reason


def test_abandon_from_design_with_a_reason(app, client, version):
    r = client.post(f"{version}/retire", data={"retire-reason": "Superseded by v2"})
    assert r.status_code == 303
    body = _page(client.get(version))
    assert "No further gates" in body
    assert "Abandoned in Design; its lifecycle has ended." in body
    assert "its documents are kept as they are" in body and 'id="upload-form"' not in body
    with app.app_context():
        assert services.get_version("pets", "1.0.0").stage == "retirement"


def test_rule_catalog_lists_every_rule(client):
    from markupsafe import Markup

    from policies.rules import all_rules

    body = _page(client.get("/rules"))
    text = " ".join(Markup(body).striptags().split())
    for rule in all_rules():
        assert f'id="{rule.id}"' in body
        assert f'<span class="sev sev--{rule.severity}">' in body.split(f'id="{rule.id}"')[1]
        first = rule.remediation.split("\n\n")[0].replace("`", "")
        assert " ".join(first.split()) in text
        for source in rule.sources:
            assert f'href="{source.url}"' in body

"""Issue 9 point 16, the small things users noticed: the sign-in card when the rate limit
refuses an attempt, human dates, plurals, JSON pointers, file sizes, the CLI's wording, SARIF
URIs, Swagger 2.0 sources and the actor of a PAT created on the command line."""

from __future__ import annotations

import json
import re
import uuid

import sqlalchemy as sa
from accountkit import PASSWORD

from lifecycle.audit.models import AuditEntry
from lifecycle.core.extensions import db
from lifecycle.web.accounts import TOO_MANY_ATTEMPTS


def _login(client, email, password=PASSWORD):
    return client.post("/login", data={"email": email, "password": password})


def test_a_rate_limited_sign_in_shows_a_sentence_on_the_sign_in_card(make_app, auth):
    app = make_app(RATELIMIT_KEY_PREFIX=f"t-{uuid.uuid4().hex[:8]}")
    user = auth.user("viewer")
    client = app.test_client(user=None)
    for _ in range(5):
        assert _login(client, user.email, "wrong password!").status_code == 422
    refused = _login(client, user.email)
    html = refused.get_data(as_text=True)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "60"
    assert re.search(r'<h1 id="login-h">Sign in</h1>', html)  # the sign-in card, not an error page
    assert TOO_MANY_ATTEMPTS in html
    assert f'value="{user.email}"' in html  # what was typed stays (the password does not)
    assert PASSWORD not in html


def test_a_rate_limited_password_change_shows_the_sentence_on_the_account_page(make_app, auth):
    app = make_app(RATELIMIT_KEY_PREFIX=f"t-{uuid.uuid4().hex[:8]}")
    user = auth.user("viewer")
    client = app.test_client(user=user.email)
    wrong = {"current": "wrong password!", "new": "a new password of some length"}
    for _ in range(5):
        assert client.post("/account/password", data=wrong).status_code == 422
    refused = client.post("/account/password", data=wrong)
    assert refused.status_code == 429
    html = refused.get_data(as_text=True)
    assert "<h1>Your account</h1>" in html and TOO_MANY_ATTEMPTS in html


def _audited(app, action):
    with app.app_context():
        rows = db.session.execute(sa.select(AuditEntry).where(AuditEntry.action == action)
                                  .order_by(AuditEntry.seq)).scalars()
        return [(r.actor, r.subject) for r in rows]


def test_a_pat_created_on_the_command_line_is_audited_as_done_by_the_operator(app, runner,
                                                                           auth):
    user = auth.user("developer")
    result = runner.invoke(args=["tokens", "create", "--email", user.email, "--name", "ci"])
    assert result.exit_code == 0, result.output
    assert _audited(app, "token.created") == [("cli", f"user:{user.email}")]


def test_a_pat_created_on_the_account_page_is_audited_as_done_by_its_owner(app, auth):
    user = auth.user("developer")
    client = app.test_client(user=user.email)
    assert client.post("/account/tokens", data={"name": "laptop", "expires_days": "30"}) \
        .status_code == 201
    assert _audited(app, "token.created") == [(user.email, f"user:{user.email}")]


# ------------------------------------------------------------------ the command line
BLOCKED_DOC = b"""\
openapi: 3.0.3
info: {title: t, version: "1"}
servers: [{url: "https://api.example.com"}]
paths:
  /items/{id}:
    get:
      security: []
      parameters: [{name: id, in: path, required: true, schema: {type: string}}]
      responses: {"200": {description: ok}}
"""


def _check(tmp_path, monkeypatch, *args):
    from click.testing import CliRunner

    from lifecycle.offline import check_command

    folder = tmp_path / "repo" / "specs dir"
    folder.mkdir(parents=True)
    (folder / "api.yaml").write_bytes(BLOCKED_DOC)
    monkeypatch.chdir(tmp_path / "repo")
    return CliRunner().invoke(check_command, ["specs dir/api.yaml", *args])


def test_check_says_it_judged_the_spec_rules_of_the_gate_only(tmp_path, monkeypatch):
    result = _check(tmp_path, monkeypatch)
    first = result.stdout.splitlines()[0]
    assert result.exit_code == 1
    assert "fails the spec rules of the deployment gate" in first
    assert "may not enter" not in result.stdout and "finding(s)" not in result.stdout
    assert re.search(r": \d+ blocking findings? \(policy pack default\)\.$", first)
    assert "at paths › /items/{id} › get › security  (JSON pointer " \
        "/paths/~1items~1{id}/get/security)" in result.stdout


def test_sarif_uses_repository_relative_uris_with_a_uri_base_id(tmp_path, monkeypatch):
    result = _check(tmp_path, monkeypatch, "--format", "sarif")
    run = json.loads(result.stdout)["runs"][0]
    root = (tmp_path / "repo").resolve().as_uri() + "/"
    assert run["originalUriBaseIds"] == {"SRCROOT": {"uri": root}}
    assert run["artifacts"][0]["location"] == {"uri": "specs%20dir/api.yaml",
                                               "uriBaseId": "SRCROOT"}
    locations = [loc["physicalLocation"]["artifactLocation"]
                 for r in run["results"] for loc in r["locations"]]
    assert locations and all(loc["uri"] == "specs%20dir/api.yaml"
                             and loc["uriBaseId"] == "SRCROOT" for loc in locations)
    assert str(tmp_path) not in json.dumps(run["results"])  # no machine path in a result


def test_sarif_of_a_file_outside_the_folder_is_an_absolute_file_uri(tmp_path, monkeypatch):
    from lifecycle.offline import sarif_uri

    (tmp_path / "here").mkdir()
    outside = tmp_path / "elsewhere.yaml"
    assert sarif_uri(str(outside), tmp_path / "here") == (outside.as_uri(), None)
    assert sarif_uri("-") == ("-", None)


# ------------------------------------------------------------------ Swagger 2.0 sources
SWAGGER = """\
swagger: "2.0"
info: {title: Pets, version: "1"}
host: api.example.com
schemes: [https]
paths:
  /pets:
    get:
      security: []
      responses: {"200": {description: ok}}
"""


def test_a_swagger_document_finding_cites_swagger_2_0_not_openapi_3(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from lifecycle.offline import check_command

    (tmp_path / "pets.yaml").write_text(SWAGGER)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(check_command, ["pets.yaml", "--format", "json"])
    secured = next(f for f in json.loads(result.stdout)["findings"]
                   if f["rule_id"] == "SPEC-OPERATIONS-SECURED" and f["status"] == "fail")
    urls = [s["url"] for s in secured["sources"]]
    assert "https://spec.openapis.org/oas/v2.0#security-requirement-object" in urls
    assert not [u for u in urls if "/oas/v3" in u]
    text = CliRunner().invoke(check_command, ["pets.yaml"]).stdout
    assert "Why: Swagger 2.0 Security Requirement Object" in text and "/oas/v3" not in text


def test_the_version_page_of_a_swagger_document_cites_swagger_2_0(app, auth):
    from lifecycle.catalog import services
    from lifecycle.core.actor import Actor

    client = auth.client("developer", teams=("Animals",))
    with app.app_context():
        services.create_api("pets", "Pet Store", team="Animals", actor=Actor.cli())
        services.create_version("pets", "1.0.0", actor=Actor.cli())
    url = "/apis/pets/versions/1.0.0"
    client.post(f"{url}/spec", data={"spec_text": SWAGGER}, content_type="multipart/form-data")
    html = client.get(url).get_data(as_text=True)
    assert "Swagger 2.0 Security Requirement Object" in html
    assert "spec.openapis.org/oas/v3" not in html


def test_a_body_over_the_limit_is_refused_with_the_limit_in_true_units(make_app):
    app = make_app(SPEC_MAX_BYTES=1024 * 1024)  # the body limit is the spec limit + 1 MiB
    client = app.test_client()
    response = client.post("/apis/x/versions/1/spec", data=b"#" * (3 * 1024 * 1024),
                           content_type="application/yaml")
    assert response.status_code == 413
    assert "at most 1048576 bytes (1.0 MiB)." in response.get_data(as_text=True)


def test_check_names_sizes_in_true_units(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from lifecycle.offline import check_command

    (tmp_path / "big.yaml").write_bytes(b"openapi: 3.1.0\n" + b"#" * 3000)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(check_command, ["big.yaml", "--max-bytes", "2048"])
    assert result.exit_code == 2
    assert "The document is 3,015 bytes (2.9 KiB); the limit is 2,048 bytes (2.0 KiB)" \
        in result.stderr


def test_dates_read_as_people_write_them_with_the_iso_instant_kept(app, auth):
    user = auth.user("developer")
    client = app.test_client(user=user.email)
    assert client.post("/account/tokens", data={"name": "laptop", "expires_days": "30"}) \
        .status_code == 201
    html = client.get("/account").get_data(as_text=True)
    found = re.search(r'<time datetime="(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00)">'
                      r"(\d{1,2}) ([A-Z][a-z]{2}) (\d{4}), (\d\d:\d\d) UTC</time>", html)
    assert found, "the expiry is a <time> with a human date"
    iso, day, month, year, hhmm = found.groups()
    assert iso.startswith(f"{year}-") and iso[11:16] == hhmm and int(iso[8:10]) == int(day)

"""Fixes from a new user's first session (web UI): the New API team field, grouped missing
evidence, read-only evidence panels, no retirement promotion, small markup fixes.

Uses the ``app`` / ``client`` / ``auth`` fixtures of ``tests/conftest.py``.
"""

from __future__ import annotations

import json
import re

import pytest
from actorkit import TESTER
from evidencekit import SPEC

from lifecycle.catalog import services
from lifecycle.catalog.models import ApiVersion
from lifecycle.core.extensions import db

PAGE = "/apis/orders/versions/1.0.0"


def _body(response) -> str:
    return response.get_data(as_text=True)


def _set_stage(app, stage: str) -> None:
    with app.app_context():
        db.session.execute(db.update(ApiVersion).where(ApiVersion.version == "1.0.0")
                           .values(stage=stage))
        db.session.commit()


@pytest.fixture
def client(auth):
    """A developer of team Owners, which owns ``orders``."""
    return auth.client("developer", teams=("Owners",))


@pytest.fixture
def orders(app):
    """API ``orders`` (team ``Owners``) v1.0.0 with a spec declaring token encryption."""
    with app.app_context():
        services.create_api("orders", "Orders", team="Owners", actor=TESTER)
        services.create_version("orders", "1.0.0", actor=TESTER)
        services.upload_spec("orders", "1.0.0", SPEC, uploader=TESTER)
    return PAGE


# ---------------------------------------------------------------- 1. New API: owning team
def test_a_developer_picks_the_team_from_a_select_of_their_teams(app, auth):
    dev = auth.client("developer", teams=("Payments", "Billing"))
    body = _body(dev.get("/"))
    select = re.search(r'<select[^>]*name="team"[^>]*>(.*?)</select>', body, re.S)
    assert select, "the owning team is a <select> for developers"
    assert re.findall(r'<option[^>]*value="([^"]*)"', select.group(1)) == ["Billing", "Payments"]


def test_a_foreign_team_is_refused_on_the_field_keeping_the_input(app, auth):
    dev = auth.client("developer", teams=("Payments",))
    response = dev.post("/apis", data={"name": "ledger", "title": "Ledger API",
                                       "team": "NoSuchTeam", "description": "Books"})
    assert response.status_code == 403  # refused by authz, but answered on the form
    body = _body(response)
    assert "You are not a member of team NoSuchTeam" in body
    assert re.search(r'id="team-error"[^>]*>[^<]*Name a team you belong to: Payments', body)
    assert 'value="ledger"' in body and 'value="Ledger API"' in body and "Books</textarea>" in body
    assert "Error 403" not in body
    with app.app_context():
        assert services.list_apis() == []


def test_an_admin_types_any_team_with_existing_ones_suggested(app, auth, orders):
    admin = auth.client("admin")
    body = _body(admin.get("/"))
    assert re.search(r'<input[^>]*list="team-names"[^>]*name="team"|'
                     r'<input[^>]*name="team"[^>]*list="team-names"', body)
    assert re.search(r'<datalist id="team-names"><option value="Owners">', body)
    assert admin.post("/apis", data={"name": "new", "title": "New", "team": "Fresh"}
                      ).status_code == 303


def test_rest_create_api_says_which_teams_to_name(app, auth):
    dev = auth.client("developer", teams=("Payments", "Billing"))
    foreign = dev.post("/api/v1/apis", json={"name": "x", "title": "X", "team": "Other"})
    assert foreign.status_code == 403
    assert foreign.get_json()["message"] == (
        "You are not a member of team Other. Name a team you belong to: Billing, Payments.")
    none = dev.post("/api/v1/apis", json={"name": "x", "title": "X"})
    assert none.status_code == 403
    assert "Name a team you belong to: Billing, Payments." in none.get_json()["message"]


# ---------------------------------------------------------------- 3. grouped missing evidence
def _blocking_items(body: str) -> list[str]:
    gate = body[body.index('id="gate"'):body.index("</section>", body.index('id="gate"'))]
    blocks = gate.split('<h3 class="findings__head">What blocks it</h3>')[1]
    blocks = blocks.split("</ol>")[0]
    return re.findall(r'<li class="finding[ "].*?(?=<li class="finding[ "]|\Z)', blocks, re.S)


def test_missing_token_evidence_is_one_item_with_the_rules_folded(app, client, orders):
    _set_stage(app, "testing")
    body = _body(client.get(orders))
    items = _blocking_items(body)
    token = [i for i in items if 'id="missing-token"' in i]
    assert len(token) == 1
    assert len([i for i in items if "missing-evidence" in i]) == \
        len([i for i in items if "finding--missing" in i])  # none listed one by one
    rules = re.search(r"<details class=\"finding__rules\">\s*<summary>(\d+) rules wait for "
                      r"this evidence</summary>(.*?)</details>", token[0], re.S)
    assert rules and int(rules.group(1)) > 1
    assert len(re.findall(r"<code>[A-Z]", rules.group(2))) == int(rules.group(1))
    assert token[0].count("No sample access token") == 1
    assert 'href="#token-form"' in token[0]
    # the REST compliance JSON keeps one finding per rule
    report = client.get("/api/v1/apis/orders/versions/1.0.0/compliance").get_json()
    assert report is not None


def test_a_refused_promotion_flashes_a_summary_not_every_rule_id(app, auth, orders):
    _set_stage(app, "testing")
    approver = auth.client("approver")
    response = approver.post(orders + "/promote", data={"promote-to": "deployment"})
    body = _body(response)
    flash = re.search(r'class="flash flash--error"[^>]*>(.*?)</', body, re.S)
    assert response.status_code == 409 and flash, (response.status_code, body[:300])
    text = flash.group(1)
    assert "gate blocks this version" in text
    assert re.search(r"missing token evidence \(\d+ rules\)", text)
    assert "CLM-AUD" not in text


def test_gate_summary_counts_failing_rules_and_missing_groups():
    from lifecycle.web.presenters import FindingView, GatePanel, group_missing

    def view(rule_id: str, status: str, evidence: str) -> FindingView:
        return FindingView(rule_id, "t", "high", status, "Supply it.", None, None, None, "",
                           (), evidence=evidence)

    blocking = [view("A", "fail", "spec"), view("B", "fail", "spec"), view("B", "fail", "spec")]
    blocking += [view(f"T{i}", "missing-evidence", "token") for i in range(31)]
    panel = GatePanel(target="deployment", blocking=blocking, missing=group_missing(blocking))
    assert [f.rule_id for f in panel.failing] == ["A", "B", "B"]
    assert panel.summary == ("The Deployment gate blocks this version: 2 failing rules and "
                             "missing token evidence (31 rules).")
    assert len(panel.missing) == 1 and len(panel.missing[0].rule_ids) == 31


# ---------------------------------------------------------------- 4. read-only users
EDIT_CONTROLS = ("Generate ", "Check and store JWKS", "Analyse token", 'id="token-form"',
                 'id="jwks-form"', "Rotate the key")


def test_a_viewer_sees_no_evidence_forms_but_a_read_only_note(app, auth, orders):
    viewer = auth.client("viewer")
    body = _body(viewer.get(orders))
    assert [c for c in EDIT_CONTROLS if c in body] == []
    assert body.count("read-only-note") >= 3
    assert 'href="#token-form"' not in body  # no link to a form that is not there
    developer = auth.client("developer", teams=("Owners",))
    dev_body = _body(developer.get(orders))
    assert "Analyse token" in dev_body and "Check and store JWKS" in dev_body
    assert "Generate " in dev_body and "read-only-note" not in dev_body


# ---------------------------------------------------------------- 5. deployment
def test_a_deployed_version_offers_retire_but_no_promotion(app, client, orders):
    _set_stage(app, "deployment")
    body = _body(client.get(orders))
    assert "Promote to Retirement" not in body
    assert "Retire…" in body
    board = _body(client.get("/"))
    assert "Ready for Retirement" not in board
    assert re.search(r'class="badge badge--production">\s*In production', board)


# ---------------------------------------------------------------- 6, 7, 2. markup
def test_small_markup_fixes(app, client, orders):
    board = _body(client.get("/"))
    assert 'aria-label="1 version"' in board and 'aria-label="0 versions"' in board
    assert "1 versions" not in board
    placeholder = re.search(
        r'name="q"[^>]*placeholder="([^"]*)"|placeholder="([^"]*)"[^>]*name="q"', board)
    assert placeholder and len(next(g for g in placeholder.groups() if g)) <= 22
    page = _body(client.get(orders))
    assert re.search(r'class="table-wrap revisions__wrap" tabindex="0" role="region" '
                     r'aria-labelledby="revisions-h"', page)
    assert 'class="revisions__when"' in page


def test_a_blocked_promotion_button_is_disabled_and_says_why_beside_it(app, client):
    with app.app_context():
        services.create_api("orders", "Orders", team="Owners", actor=TESTER)
        services.create_version("orders", "1.0.0", actor=TESTER)
        services.upload_spec("orders", "1.0.0", b"openapi: 3.1.0\ninfo: {title: O, version: '1'}\n"
                             b"paths:\n  /a:\n    get:\n      security: []\n"
                             b"      responses: {'200': {description: ok}}\n", uploader=TESTER)
    _set_stage(app, "development")
    body = _body(client.get(PAGE))
    assert "gate__status--blocked" in body
    button = re.search(r'<button class="([^"]*)" type="submit" disabled '
                       r'aria-describedby="promote-why">Promote to Testing', body)
    assert button and "btn--secondary" in button.group(1) and "btn--promote" not in button.group(1)
    why = body.split('id="promote-why">')[1].split("</p>")[0]
    assert re.search(r"The gate blocks it: \d+ failing rules?\.", why) and 'href="#gate"' in why
    assert re.search(r'class="gate__status gate__status--blocked" id="gate-verdict"', body)


def test_recovery_codes_do_not_wrap(client):
    response = client.get("/static/css/accounts.css")
    css = _body(response)
    response.close()
    rule = re.search(r"\.recovery-codes li \{([^}]*)\}", css)
    assert rule and "white-space: nowrap" in rule.group(1)
    assert not re.search(r"\.recovery-codes \{[^}]*columns", css)


def test_htmx_never_settles_style_attributes(client):
    """htmx copies settled attributes with setAttribute; a style attribute (a resized
    textarea) would then break style-src 'self'."""
    body = _body(client.get("/"))
    config = re.search(r'<meta name="htmx-config" content=\'([^\']*)\'', body).group(1)
    settle = json.loads(config)["attributesToSettle"]
    assert "style" not in settle and "class" in settle

"""Signed gate records: one per gate decision, downloadable as the exact signed bytes,
verifiable offline with ``stagegate verify-record`` against the published JWKS; one changed
byte fails verification (issue 4 point 5)."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from evidencekit import SPEC

from lifecycle.catalog import services
from lifecycle.catalog.models import CheckRun, Transition
from lifecycle.cli import main
from lifecycle.core import crypto_store
from lifecycle.core.db import AppendOnlyError
from lifecycle.core.extensions import db
from lifecycle.trust import records
from lifecycle.trust.models import GateRecord, SigningKey
from policies.packs import load_pack

V = "/api/v1/apis/orders/versions/1.0.0"


@pytest.fixture
def promoted(client):
    """orders@1.0.0: a blocked promotion (no document), then a passed one to development."""
    assert client.post("/api/v1/apis", json={"name": "orders", "title": "Orders", "team": "shop"}
                       ).status_code == 201
    assert client.post("/api/v1/apis/orders/versions", json={"version": "1.0.0"}
                       ).status_code == 201
    assert client.post(V + "/transitions", json={"to": "development"}).status_code == 409
    assert client.put(V + "/spec", data=SPEC).status_code == 201
    assert client.post(V + "/transitions", json={"to": "development"}).status_code == 201
    return client


def listing(client) -> list[dict]:
    response = client.get(V + "/gate-records")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["records"]


def download(client, record: dict) -> bytes:
    response = client.get(record["url"])
    assert response.status_code == 200
    return response.get_data()


def published_jwks(client) -> dict:
    response = client.get("/api/v1/signing-keys.json")
    assert response.status_code == 200
    assert response.mimetype == "application/jwk-set+json"
    return response.get_json()


def test_every_gated_attempt_has_a_record_passed_or_blocked(promoted, app):
    got = listing(promoted)
    assert [(r["target"], r["decision"]) for r in got] == [("development", "blocked"),
                                                           ("development", "passed")]
    with app.app_context():
        runs = db.session.execute(sa.select(CheckRun).order_by(CheckRun.id)).scalars().all()
        transition = db.session.execute(sa.select(Transition)).scalar_one()
    assert [r["check_run"] for r in got] == [run.id for run in runs]
    assert transition.check_run_id == got[1]["check_run"]


def test_a_demotion_is_not_gated_and_has_no_record(promoted):
    assert promoted.post(V + "/transitions", json={"to": "design", "reason": "redo"}
                         ).status_code == 201
    assert len(listing(promoted)) == 2


def test_the_download_is_the_stored_jws_as_an_attachment(promoted, app):
    first = listing(promoted)[1]
    response = promoted.get(first["url"])
    assert response.status_code == 200
    assert response.mimetype == "application/jose"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and first["id"] in disposition
    body = response.get_data()
    assert hashlib.sha256(body).hexdigest() == first["sha256"]
    with app.app_context():
        stored = db.session.get(GateRecord, first["id"])
        assert body == stored.jws.encode()
    assert download(promoted, first) == body  # every download: the same bytes


def test_the_record_holds_the_decision_and_everything_it_was_based_on(promoted, app):
    blocked, passed = listing(promoted)
    jwks = published_jwks(promoted)
    record = records.verify_record(download(promoted, passed), jwks).record
    pack = load_pack("default")
    with app.app_context():
        run = db.session.get(CheckRun, passed["check_run"])
        findings = run.findings
        actor = db.session.execute(sa.select(Transition.actor)).scalar_one()
    assert record["record_id"] == passed["id"]
    assert (record["api"], record["version"]) == ("orders", "1.0.0")
    assert record["spec"] == {"revision": 1, "sha256": hashlib.sha256(SPEC).hexdigest()}
    assert record["policy_pack"] == {"name": pack.name, "sha256": pack.sha256}
    assert (record["from_stage"], record["target_stage"], record["decision"]) == \
        ("design", "development", "passed")
    assert [{k: v for k, v in f.items() if k != "blocking"} for f in record["findings"]] \
        == findings
    assert not any(f["blocking"] for f in record["findings"])
    assert record["approvals"] == [] and record["requested_by"] == actor
    assert record["check_run"] == passed["check_run"]
    assert record["decided_at"].endswith("Z")

    refused = records.verify_record(download(promoted, blocked), jwks).record
    assert refused["decision"] == "blocked" and refused["spec"] is None
    assert {f["rule_id"] for f in refused["findings"] if f["blocking"]} == {"SPEC-VALID"}


def test_the_signing_key_is_generated_once_and_published_without_private_parts(promoted,
                                                                               app):
    jwks = published_jwks(promoted)
    (key,) = jwks["keys"]
    assert set(key) == {"kty", "crv", "x", "y", "kid", "use", "alg"}
    assert (key["kty"], key["crv"], key["use"], key["alg"]) == ("EC", "P-256", "sig", "ES256")
    assert {r["kid"] for r in listing(promoted)} == {key["kid"]}
    with app.app_context():
        row = db.session.execute(sa.select(SigningKey)).scalar_one()
        kek = crypto_store.current_kek()
        private = json.loads(crypto_store.unseal(row.sealed_private, records._aad(row.kid),
                                                 kek))
    from jwcrypto import jwk

    assert jwk.JWK(**key).thumbprint() == key["kid"]  # RFC 7638
    d = private["d"]
    assert d.encode() not in row.sealed_private
    assert base64.urlsafe_b64decode(d + "==") not in row.sealed_private
    assert d not in json.dumps(jwks)


def test_the_jwks_can_be_fetched_before_any_decision(client):
    (key,) = published_jwks(client)["keys"]
    assert published_jwks(client)["keys"] == [key]


def test_a_record_verifies_with_the_cli_and_a_changed_byte_does_not(promoted, tmp_path):
    record = listing(promoted)[1]
    body = download(promoted, record)
    path, keys = tmp_path / "record.jws", tmp_path / "signing-keys.json"
    path.write_bytes(body)
    keys.write_text(json.dumps(published_jwks(promoted)))
    ok = CliRunner().invoke(main, ["verify-record", str(path), "--jwks", str(keys)])
    assert ok.exit_code == 0, ok.output
    assert ok.output.startswith("VALID")
    assert "orders@1.0.0" in ok.output and "passed into development" in ok.output
    assert record["id"] in ok.output

    header_end = body.index(b".")
    payload_end = body.index(b".", header_end + 1)
    for where in (5, header_end - 1, header_end + 7, payload_end - 1, payload_end + 3,
                  len(body) - 1):
        changed = bytearray(body)
        changed[where] = ord("A") if changed[where] != ord("A") else ord("B")
        path.write_bytes(bytes(changed))
        bad = CliRunner().invoke(main, ["verify-record", str(path), "--jwks", str(keys)])
        assert bad.exit_code == 1, (where, bad.output)
        assert bad.output.startswith("INVALID")


def test_a_record_edited_in_the_database_no_longer_verifies(promoted, app):
    record = listing(promoted)[0]
    with app.app_context():
        stored = db.session.get(GateRecord, record["id"]).jws
    header, payload, signature = stored.split(".")
    forged_payload = json.loads(base64.urlsafe_b64decode(payload + "=="))
    forged_payload["decision"] = "passed"
    forged = ".".join([header, records.b64url(json.dumps(forged_payload).encode()), signature])
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE gate_record SET jws = :j WHERE id = :i"),
                     {"j": forged, "i": record["id"]})
    with pytest.raises(records.RecordInvalid, match="signature does not verify"):
        records.verify_record(download(promoted, record), published_jwks(promoted))


def test_records_are_append_only(promoted, app):
    with app.app_context():
        row = db.session.execute(sa.select(GateRecord)).scalars().first()
        row.decision = "passed"
        with pytest.raises(AppendOnlyError):
            db.session.flush()
        db.session.rollback()


def test_verify_record_exit_codes_for_unreadable_input(promoted, tmp_path):
    body = download(promoted, listing(promoted)[1])
    path, keys = tmp_path / "record.jws", tmp_path / "keys.json"
    path.write_bytes(body)
    keys.write_text(json.dumps(published_jwks(promoted)))
    missing = CliRunner().invoke(main, ["verify-record", str(tmp_path / "none.jws"),
                                        "--jwks", str(keys)])
    assert missing.exit_code == 2
    keys_bad = tmp_path / "bad.json"
    keys_bad.write_text("<html>not a key set</html>")
    assert CliRunner().invoke(main, ["verify-record", str(path), "--jwks", str(keys_bad)]
                              ).exit_code == 2
    stdin = CliRunner().invoke(main, ["verify-record", "-", "--jwks", str(keys)], input=body)
    assert stdin.exit_code == 0, stdin.output
    other = tmp_path / "other.json"
    from jwcrypto import jwk

    stranger = jwk.JWK.generate(kty="EC", crv="P-256")
    other.write_text(json.dumps({"keys": [stranger.export_public(as_dict=True)]}))
    assert CliRunner().invoke(main, ["verify-record", str(path), "--jwks", str(other)]
                              ).exit_code == 1


def test_an_unknown_record_is_404(promoted):
    response = promoted.get(V + "/gate-records/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 404 and response.get_json()["error"] == "not_found"
    assert promoted.get("/api/v1/apis/orders/versions/9.9.9/gate-records").status_code == 404


def test_without_a_usable_kek_no_decision_is_recorded_unsigned(promoted, app):
    app.config["KEY_ENCRYPTION_KEY"] = crypto_store.encode_kek(b"\1" * 32)  # another KEK
    response = promoted.post(V + "/transitions", json={"to": "testing"})
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.get_json()["error"] == "key_store_unavailable"
    with app.app_context():
        assert services.get_version("orders", "1.0.0").stage == "development"
        assert len(db.session.execute(sa.select(CheckRun)).scalars().all()) == 2

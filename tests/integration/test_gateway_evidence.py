"""Gateway evidence through the REST API and the gate: settings, the generated or uploaded
configuration with its static findings (file:line), proofs with the REAL nginx (as a job and
with ``Prefer: wait``), ``GW-PROOF`` in the deployment gate (missing, failed, stale, changed
configuration), and the admin-only key export for NGINX Plus."""

from __future__ import annotations

import os
import stat
from datetime import timedelta

import pytest
from accountkit import make_user
from evidencekit import (
    ECDH_SPEC,
    GATEWAY_SETTINGS,
    SPEC,
    new_version,
    prove_gateway,
    store_gateway,
)

from lifecycle import jobs
from lifecycle.audit.models import AuditEntry
from lifecycle.cli import main
from lifecycle.core.extensions import db
from lifecycle.gateway.models import GatewayProof
from lifecycle.jobs.backends import ThreadBackend

V = "/api/v1/apis/orders/versions/1.0.0"
G = V + "/gateway"
#: a configuration that proxies without any token check (GW-ENFORCES-TOKEN at nginx.conf:5)
OPEN_CONFIG = b"""events {}
http {
    server {
        listen 443 ssl;
        location / { proxy_pass http://127.0.0.1:8080; }
    }
}
"""


@pytest.fixture
def version(client):
    new_version(client, SPEC, team="Checkout")
    return client


def _gateway_proof(client):
    findings = client.get(G + "/check").get_json()["findings"]
    return next(f for f in findings if f["rule"] == "GW-PROOF")


# ------------------------------------------------------------------------------ settings
def test_settings_are_validated_and_stored(version):
    assert version.get(G + "/settings").get_json() == {"settings": None}
    bad = version.put(G + "/settings", json={**GATEWAY_SETTINGS, "upstream": "ftp://x/y;",
                                             "colour": "red"})
    assert bad.status_code == 422
    assert set(bad.get_json()["details"]["fields"]) == {"colour"}
    bad = version.put(G + "/settings", json={**GATEWAY_SETTINGS, "upstream": "ftp://x/y;"})
    assert bad.status_code == 422 and "upstream" in bad.get_json()["details"]["fields"]["settings"]
    assert version.put(G + "/settings", json={"server_name": "a.example"}).status_code == 422
    ok = version.put(G + "/settings", json={**GATEWAY_SETTINGS,
                                            "deprecated_at": "2027-01-01T00:00:00Z"})
    assert ok.status_code == 200
    assert ok.get_json()["settings"]["target"] == "nginx"
    assert version.get(G + "/settings").get_json()["settings"]["server_name"] == \
        "api.example.com"


# ------------------------------------------------------------------------------ configuration
def test_render_download_and_generate(version):
    assert version.get(G + "/config?target=nginx").status_code == 422  # no settings yet
    assert version.get(G + "/config").status_code == 404
    version.put(G + "/settings", json=GATEWAY_SETTINGS)
    rendered = version.get(G + "/config?target=nginx")
    assert rendered.status_code == 200 and rendered.mimetype == "text/plain"
    assert "auth_request" in rendered.get_data(as_text=True)
    assert "auth_jwt_type nested" in version.get(G + "/config?target=nginx-plus") \
        .get_data(as_text=True)
    assert version.get(G + "/config?target=kong").status_code == 422
    config = store_gateway(version, V)
    assert config["source"] == "generated" and config["passed"] is True
    again = version.put(G + "/config", json={"generate": "nginx"})
    assert again.status_code == 200 and again.get_json()["created"] is False
    download = version.get(G + "/config")
    assert download.headers["ETag"] == f'"{config["sha256"]}"'
    assert download.get_data() == rendered.get_data()


def test_nginx_plus_refuses_a_profile_it_cannot_enforce(version):
    assert version.put(V + "/spec", data=ECDH_SPEC).status_code == 201
    version.put(G + "/settings", json=GATEWAY_SETTINGS)
    answer = version.put(G + "/config", json={"generate": "nginx-plus"})
    assert answer.status_code == 422
    assert "NGINX Plus cannot enforce" in answer.get_json()["details"]["fields"]["target"]


def test_an_uploaded_configuration_is_checked_with_file_and_line(version):
    answer = version.put(G + "/config", data=OPEN_CONFIG, content_type="text/plain")
    assert answer.status_code == 201
    body = answer.get_json()
    assert body["config"]["source"] == "uploaded" and body["config"]["passed"] is False
    enforce = next(f for f in body["findings"] if f["rule"] == "GW-ENFORCES-TOKEN"
                   and f["status"] == "fail")
    assert (enforce["file"], enforce["line"]) == ("nginx.conf", 5)
    bundle = version.put(G + "/config", json={
        "files": {"nginx.conf": "events {}\nhttp { include conf.d/*.conf; }\n",
                  "conf.d/api.conf": OPEN_CONFIG.decode().split("http {\n", 1)[1]
                  .rsplit("}", 1)[0]},
        "entry": "nginx.conf"})
    assert bundle.status_code == 201, bundle.get_data(as_text=True)
    files = {f["file"] for f in bundle.get_json()["findings"] if f["status"] == "fail"}
    assert "conf.d/api.conf" in files
    for files in ({"../etc/passwd": "x"}, {"/etc/nginx/nginx.conf": "x"}, {}):
        assert version.put(G + "/config", json={"files": files}).status_code == 422
    big = {"nginx.conf": "#" * (1024 * 1024 + 1)}
    assert version.put(G + "/config", json={"files": big}).status_code == 422
    assert version.put(G + "/config", data=b"\xff\xfe", content_type="text/plain") \
        .status_code == 422


# ------------------------------------------------------------------------------ the gate
def test_without_configuration_every_gateway_rule_is_missing_evidence(version):
    body = version.get(G + "/check").get_json()
    assert body["config"] is None
    assert {f["status"] for f in body["findings"]} == {"missing-evidence"}
    assert "GW-PROOF" in {f["rule"] for f in body["findings"]}
    assert "/gateway/settings" in body["findings"][0]["message"]


def test_a_proof_job_runs_the_real_nginx_and_opens_gw_proof(app, version):
    app.config["JOBS_BACKEND"] = "thread"  # also on PostgreSQL: the job runs in this process
    jobs.init_app(app)
    store_gateway(version, V)
    assert _gateway_proof(version)["status"] == "missing-evidence"
    answer = version.post(G + "/proofs")
    assert answer.status_code == 202
    job_url = answer.headers["Location"]
    assert job_url == f"/api/v1/jobs/{answer.get_json()['id']}"  # the one job endpoint
    backend = app.extensions["stagegate.jobs"]
    assert isinstance(backend, ThreadBackend)
    backend.join()
    job = version.get(job_url).get_json()
    assert job["state"] == "succeeded", job
    assert job["result"]["passed"] is True and job["result"]["failed"] == 0
    proofs = version.get(G + "/proofs").get_json()["proofs"]
    assert len(proofs) == 1 and proofs[0]["current"] is True and proofs[0]["job"]
    assert version.get(G + f"/proofs/{proofs[0]['id']}").status_code == 200
    finding = _gateway_proof(version)
    assert finding["status"] == "pass"
    assert proofs[0]["config_sha256"] in finding["message"]


def test_a_failed_proof_fails_gw_proof_and_a_stale_one_is_missing(app, version, clock):
    store_gateway(version, V)
    generated = version.get(G + "/config").get_data(as_text=True)
    unchecked = "\n".join(line for line in generated.splitlines()
                          if not line.strip().startswith("auth_request /"))
    assert unchecked != generated
    assert version.put(G + "/config", data=unchecked.encode(), content_type="text/plain") \
        .status_code == 201
    proof = prove_gateway(version, V)
    assert proof["passed"] is False and proof["error"] is None
    assert any(c["expected"] == "deny" and c["reached_upstream"] for c in proof["cases"])
    finding = _gateway_proof(version)
    assert finding["status"] == "fail" and "run the proof again" in finding["message"]
    store_gateway(version, V)
    assert prove_gateway(version, V)["passed"] is True
    assert _gateway_proof(version)["status"] == "pass"
    clock.now += timedelta(days=31)
    finding = _gateway_proof(version)
    assert finding["status"] == "missing-evidence" and "older than 30 days" in finding["message"]


def test_proving_without_configuration_is_a_conflict(version):
    assert version.post(G + "/proofs").status_code == 409
    assert version.post(G + "/proofs", headers={"Prefer": "wait"}).status_code == 409


def test_proofs_store_no_token(app, version):
    store_gateway(version, V)
    prove_gateway(version, V)
    with app.app_context():
        rows = db.session.execute(db.select(GatewayProof)).scalars().all()
        text = repr([(r.cases, r.nginx_version, r.error, r.log_leaks) for r in rows])
    assert "eyJ" not in text and "Bearer" not in text


# ------------------------------------------------------------------------------ key export
def test_key_export_is_admin_only_audited_and_mode_0600(app, version, runner, tmp_path):
    assert version.post(V + "/keys").status_code == 201
    with app.app_context():
        make_user("root@stagegate.test", ["admin"])
        make_user("dev@stagegate.test", ["developer"], teams=("Checkout",))
        db.session.commit()
    out = tmp_path / "orders.jwks"
    args = ["gateway", "export-key", "--api", "orders", "--version", "1.0.0", "--out", str(out)]
    refused = runner.invoke(main, [*args, "--admin", "dev@stagegate.test"])
    assert refused.exit_code == 2 and not out.exists()
    assert "is not an active admin" in refused.output
    done = runner.invoke(main, [*args, "--admin", "root@stagegate.test"])
    assert done.exit_code == 0, done.output
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    assert '"d"' in out.read_text() and '"d"' not in done.output
    again = runner.invoke(main, [*args, "--admin", "root@stagegate.test"])
    assert again.exit_code == 2 and "cannot create the key file" in again.output
    with app.app_context():
        entry = db.session.execute(db.select(AuditEntry).where(
            AuditEntry.action == "key.exported_for_gateway")).scalar_one()
        assert entry.actor == "root@stagegate.test"
        assert '"d"' not in repr(entry.data)


def test_a_proof_of_a_revision_without_a_token_profile_is_refused_not_a_500(version):
    """Found by schemathesis: a revision without `x-token-encryption` (a newer upload)
    made both proof paths crash while building tokens."""
    store_gateway(version, V)
    bare = SPEC.replace(b"x-token-encryption", b"x-no-token-encryption")
    assert bare != SPEC
    assert version.put(V + "/spec", data=bare).status_code == 201
    for headers in ({"Prefer": "wait"}, {}):
        answer = version.post(G + "/proofs", headers=headers)
        assert answer.status_code == 409, answer.get_data(as_text=True)
        assert "x-token-encryption" in answer.get_json()["message"]

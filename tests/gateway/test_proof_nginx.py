"""The generated gateway under attack with Debian's real nginx (issue 11, acceptance 1).

Marked ``nginx``: these tests FAIL (never skip) when nginx is missing — ``make test``
installs it.  Everything runs on 127.0.0.1 with ephemeral ports and a temporary prefix.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import ssl
import subprocess
import threading
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest

from lifecycle.gateway.nginx import (
    NginxError,
    NginxProcess,
    StubUpstream,
    make_self_signed,
    prepare_bundle,
)
from lifecycle.gateway.proof import MIN_CASES, ProofResult, format_table, run_proof
from lifecycle.gateway.render import GatewaySettings, render_nginx
from policies.tokens import TokenProfile

pytestmark = pytest.mark.nginx

VERSION = "payments/1.4.0"
PROFILE = TokenProfile(alg="RSA-OAEP-256", enc="A256GCM", signing_alg="ES256",
                       issuer="https://as.example", audience=("https://api.example",),
                       max_lifetime=600)
SETTINGS = GatewaySettings(
    server_name="api.example.com", upstream="https://backend.internal:8443",
    certificate="/etc/ssl/stagegate/api.pem", certificate_key="/etc/ssl/stagegate/api.key",
    validator="/run/stagegate/validator.sock", api_version=VERSION, base_paths=("/v1/",))
NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")


def clock() -> datetime:
    return datetime.now(UTC)


def generated() -> str:
    return render_nginx(SETTINGS, PROFILE, now=clock())


def prove(conf: str, *, single_use: bool = True) -> ProofResult:
    assert NGINX, "Debian's nginx is required (make test installs it)"
    return run_proof({"nginx.conf": conf.encode()}, entry="nginx.conf", version=VERSION,
                     profile=replace(PROFILE, single_use=single_use), clock=clock,
                     nginx=NGINX)


@pytest.fixture(scope="module")
def good_proof() -> ProofResult:
    return prove(generated())


def test_nginx_is_installed():
    assert NGINX, "Debian's nginx is required for the gateway proof (make test installs it)"
    out = subprocess.run([NGINX, "-V"], capture_output=True, text=True, timeout=10)
    assert "--with-http_auth_request_module" in out.stderr


def test_generated_configuration_passes_nginx_t(tmp_path):
    """The generated file itself (certificates and log dir made real), not a rewrite."""
    assert NGINX, "Debian's nginx is required (make test installs it)"
    cert, key = make_self_signed(tmp_path)
    (tmp_path / "logs").mkdir()
    settings = GatewaySettings(
        server_name="api.example.com", upstream="https://127.0.0.1:9",
        certificate=str(cert), certificate_key=str(key), validator="127.0.0.1:9",
        upstream_ca=str(cert),
        api_version=VERSION, base_paths=("/v1/", "/v1-beta/"), log_dir=str(tmp_path / "logs"))
    conf = tmp_path / "nginx.conf"
    conf.write_text(render_nginx(settings, PROFILE, now=clock()))
    done = subprocess.run([NGINX, "-t", "-p", str(tmp_path), "-c", str(conf), "-g",
                           f"pid {tmp_path}/nginx.pid;"], capture_output=True, text=True,
                          timeout=20)
    assert done.returncode == 0, done.stderr
    assert "test is successful" in done.stderr


def test_proof_of_the_generated_configuration_passes(good_proof):
    print(format_table(good_proof))
    assert good_proof.error is None
    assert good_proof.passed, format_table(good_proof)
    matrix = [c for c in good_proof.cases if not c.id.startswith("no-token@")]
    assert len(matrix) >= MIN_CASES
    assert good_proof.nginx_version.startswith("nginx version: nginx/")
    assert len(good_proof.config_sha256) == 64
    assert good_proof.started_at <= good_proof.finished_at
    assert good_proof.decisions > 0
    assert good_proof.log_leaks == ()  # no credential in any of nginx's logs


def test_good_token_reaches_upstream_without_authorization(good_proof):
    good = next(c for c in good_proof.cases if c.id == "good-token")
    assert (good.expected, good.observed_status, good.reached_upstream) == ("allow", 200, True)
    assert good.authorization_upstream is False
    assert {"X-Authenticated-Sub", "X-Authenticated-Client-Id"} <= set(good.forwarded)


def test_every_attack_is_refused_and_never_reaches_upstream(good_proof):
    denied = [c for c in good_proof.cases if c.expected == "deny"]
    assert len(denied) >= MIN_CASES - 1
    for case in denied:
        assert not case.reached_upstream, case
        assert case.observed_status is None or 400 <= case.observed_status < 500, case
    by_id = {c.id: c for c in good_proof.cases}
    assert by_id["plain-http"].observed_status == 403  # refused, never redirected
    assert by_id["query-token"].observed_status == 400
    assert by_id["tls-1.1"].observed_status is None  # the handshake is refused


def test_an_ecdh_es_profile_without_single_use_is_proven_too():
    """The profile NGINX Plus cannot enforce: open-source nginx + validator proves it."""
    profile = TokenProfile(alg="ECDH-ES+A256KW", enc="A256GCM", signing_alg="ES256",
                           issuer="https://as.example", audience=("https://api.example",),
                           max_lifetime=600)
    assert NGINX, "Debian's nginx is required (make test installs it)"
    result = run_proof({"nginx.conf": render_nginx(SETTINGS, profile, now=clock()).encode()},
                       entry="nginx.conf", version=VERSION, profile=profile,
                       clock=clock, nginx=NGINX)
    assert result.passed, format_table(result)
    # the profile does not demand single use: a second client's reuse must get through
    (replay,) = [c for c in result.cases if c.id.startswith("replay")]
    assert (replay.expected, replay.reached_upstream, replay.passed) == ("allow", True, True)


def test_proof_result_round_trips(good_proof):
    again = ProofResult.from_dict(good_proof.to_dict())
    assert again == good_proof


def weakened(old: str, new: str) -> str:
    text = generated()
    assert old in text
    return text.replace(old, new, 1)


def test_a_location_without_auth_request_fails_the_proof():
    conf = weakened("        auth_request /_stagegate_check;\n", "")
    result = prove(conf)
    assert not result.passed
    failed = {c.id for c in result.failed_cases}
    # every token attack now reaches the upstream; transport refusals still hold
    assert {"expired", "wrong-issuer", "signed-only-jws", "missing-token",
            "no-token@/v1/"} <= failed
    assert "query-token" not in failed and "plain-http" not in failed
    expired = next(c for c in result.cases if c.id == "expired")
    assert expired.reached_upstream and expired.note == "a denied request reached the upstream"


def test_forwarding_authorization_fails_the_good_token():
    conf = weakened('proxy_set_header Authorization "";',
                    "proxy_set_header Authorization $http_authorization;")
    result = prove(conf)
    assert not result.passed
    good = next(c for c in result.cases if c.id == "good-token")
    assert good.authorization_upstream and not good.passed
    assert good.note == "Authorization reached the upstream"


def test_an_unprotected_second_location_fails_its_probe():
    conf = weakened("        location / {\n",
                    "        location /v1/admin/ {\n"
                    "            proxy_pass https://backend.internal:8443;\n"
                    "        }\n"
                    "        location / {\n")
    result = prove(conf)
    assert not result.passed
    failed = {c.id: c for c in result.failed_cases}
    assert set(failed) == {"no-token@/v1/admin/"}
    assert failed["no-token@/v1/admin/"].reached_upstream


def test_a_return_in_the_rewrite_phase_answers_before_the_check():
    conf = weakened("        auth_request /_stagegate_check;\n",
                    "        auth_request /_stagegate_check;\n        return 200 'ok';\n")
    result = prove(conf)
    assert not result.passed
    expired = next(c for c in result.cases if c.id == "expired")
    assert expired.observed_status == 200 and not expired.reached_upstream
    assert expired.note == "expected a refusal (4xx), got 200"


@pytest.mark.parametrize(("old", "new", "case", "note"), [
    ("ssl_protocols TLSv1.2 TLSv1.3;\n        ssl_ciphers",
     "ssl_protocols TLSv1.1 TLSv1.2 TLSv1.3;\n        ssl_ciphers DEFAULT:@SECLEVEL=0;\n"
     "        #", "tls-1.1", "a denied request reached the upstream"),
    ("        return 403;\n", "        location / { proxy_pass http://backend.internal:8080; }\n",
     "plain-http", "a denied request reached the upstream"),
    ("    return 403;\n", "    return 301 https://$host$request_uri;\n", "plain-http",
     "expected a refusal (4xx), got 301"),
], ids=["tls-1.1-allowed", "plaintext-proxies", "plaintext-redirects"])
def test_weak_transport_fails_the_transport_case(old, new, case, note):
    conf = weakened(old, new)
    result = prove(conf)
    failed = {c.id: c for c in result.failed_cases}
    assert not result.passed and set(failed) == {case}
    assert failed[case].note == note


@pytest.mark.parametrize(("old", "new", "leaked"), [
    ('"uri":"$sg_log_uri"', '"request":"$request"', "query-token"),
    ('"uri":"$sg_log_uri"', '"authorization":"$http_authorization"', "good-token"),
], ids=["request-line", "authorization"])
def test_a_log_format_with_the_token_fails_the_proof(old, new, leaked):
    result = prove(weakened(old, new))
    assert all(c.passed for c in result.cases)  # the requests are refused as before...
    assert not result.passed  # ...but the token is in the access log
    assert any(leak.endswith(f"-stagegate-access.json: {leaked}") for leak in result.log_leaks)


def test_a_broken_configuration_gives_a_failed_result_not_an_exception():
    result = prove(generated().replace("ssl_protocols", "ssl_protocolz", 1))
    assert not result.passed and result.cases == ()
    assert "nginx -t failed" in (result.error or "")
    assert "ssl_protocolz" in (result.error or "")


# ---------------------------------------------------------------------------- the runner
def test_runner_rewrites_only_listeners_certificates_upstreams_and_prefix(tmp_path):
    files = {
        "nginx.conf": b"""
user www-data;
pid /run/nginx.pid;
error_log /var/log/nginx/error.log;
events {}
http {
    include conf.d/*.conf;
    access_log /var/log/nginx/access.log;
    upstream backend { server backend.internal:8443; }
}
""",
        "conf.d/api.conf": b"""
server {
    listen 443 ssl;
    listen [::]:443 ssl;
    server_name api.example.com;
    ssl_certificate /etc/ssl/api.pem;
    ssl_certificate_key /etc/ssl/api.key;
    location /v1/ { auth_request /_check; proxy_pass https://backend; }
    location = /_check { internal; proxy_pass http://unix:/run/v.sock:/auth; }
}
server { listen 80; return 403; }
""",
    }
    bundle = prepare_bundle(files, entry="nginx.conf", prefix=tmp_path, stub_port=1111,
                            validator_port=2222)
    main, api = bundle.rewritten["nginx.conf"], bundle.rewritten["conf.d/api.conf"]
    assert "pid" not in main.split() and "/var/log" not in main and "/run" not in api
    assert "user www-data;" in main and "include conf.d/*.conf;" in main
    assert "server 127.0.0.1:1111;" in main
    assert f"client_body_temp_path {tmp_path}/tmp/client_body_temp_path;" in main
    assert "proxy_pass http://127.0.0.1:1111;" in api
    assert "proxy_pass http://127.0.0.1:2222/auth;" in api
    assert f"ssl_certificate {tmp_path}/proof-cert.pem;" in api
    assert api.count("listen 127.0.0.1:") == 2  # [::]:443 folded into 443
    ssl = [lst for lst in bundle.listeners if lst.ssl]
    plain = [lst for lst in bundle.listeners if not lst.ssl]
    assert [lst.original for lst in ssl] == [443] and [lst.original for lst in plain] == [80]
    assert [(loc.path, loc.authenticated, loc.file, loc.line) for loc in bundle.locations] == [
        ("/v1/", True, "conf.d/api.conf", 8)]


def test_runner_refuses_includes_outside_the_bundle(tmp_path):
    files = {"nginx.conf": b"events {}\nhttp { include /etc/nginx/mime.types; }\n"}
    with pytest.raises(NginxError, match="outside the bundle|No such file"):
        prepare_bundle(files, entry="nginx.conf", prefix=tmp_path, stub_port=1,
                       validator_port=2)
    with pytest.raises(NginxError, match="relative"):
        prepare_bundle({"../x.conf": b"", "nginx.conf": b""}, entry="nginx.conf",
                       prefix=tmp_path, stub_port=1, validator_port=2)


def test_nginx_starts_and_is_stopped_by_its_pid_file(tmp_path):
    assert NGINX, "Debian's nginx is required (make test installs it)"
    conf = b"events {}\nhttp { server { listen 8080; location / { proxy_pass http://b; } } }\n"
    with StubUpstream() as stub:
        bundle = prepare_bundle({"nginx.conf": conf}, entry="nginx.conf", prefix=tmp_path,
                                stub_port=stub.port, validator_port=1)
        with NginxProcess(bundle, nginx=NGINX) as proc:
            pid = int(bundle.pid_file.read_text())
            assert Path(f"/proc/{pid}").exists()
            assert proc.test().endswith("test is successful")
        assert not Path(f"/proc/{pid}").exists() or _zombie(pid)


def _zombie(pid: int) -> bool:
    try:
        return " Z " in Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True


def test_nginx_missing_fails_the_proof_with_a_message():
    result = run_proof({"nginx.conf": generated().encode()}, entry="nginx.conf",
                       version=VERSION, profile=replace(PROFILE, single_use=True), clock=clock,
                       nginx=os.path.join("/nonexistent", "nginx"))
    assert not result.passed and "cannot run" in (result.error or "")


# ---------------------------------------------------------------------------- the logs
def _stand_in_validator(environ, start_response):
    """Answers like the validator contract: ``Bearer good-token-0123456789`` is allowed."""
    common = [("X-Stagegate-Token-Fp", "0123456789abcdef")]
    if environ.get("HTTP_AUTHORIZATION") == "Bearer good-token-0123456789":
        start_response("204 No Content", [("X-Stagegate-Decision", "allow"),
                                          ("X-Stagegate-Sub", "alice"),
                                          ("X-Stagegate-Client-Id", "app-1"), *common])
    else:
        start_response("401 Unauthorized", [
            ("WWW-Authenticate", 'Bearer realm="stagegate", error="invalid_token"'),
            ("X-Stagegate-Deny", "CLM-EXP"), *common])
    return [b""]


def _request(port: int, *, tls: bool, headers: dict[str, str]) -> tuple[int, dict[str, str]]:
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            "127.0.0.1", port, timeout=10, context=ctx)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/v1/orders", headers={"Host": "api.example.com", **headers})
        response = conn.getresponse()
        response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}
    finally:
        conn.close()


class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


def test_logs_hold_decisions_and_exposures_never_the_token_or_deny_reason(tmp_path):
    assert NGINX, "Debian's nginx is required (make test installs it)"
    validator = make_server("127.0.0.1", 0, _stand_in_validator, handler_class=Quiet)
    thread = threading.Thread(target=validator.serve_forever, daemon=True)
    thread.start()
    try:
        with StubUpstream() as stub:
            bundle = prepare_bundle({"nginx.conf": generated().encode()}, entry="nginx.conf",
                                    prefix=tmp_path, stub_port=stub.port,
                                    validator_port=validator.server_address[1])
            tls = next(lst.port for lst in bundle.listeners if lst.ssl)
            plain = next(lst.port for lst in bundle.listeners if not lst.ssl)
            with NginxProcess(bundle, nginx=NGINX):
                ok = _request(tls, tls=True,
                              headers={"Authorization": "Bearer good-token-0123456789"})
                bad = _request(tls, tls=True,
                               headers={"Authorization": "Bearer bad-token-0123456789"})
                clear = _request(plain, tls=False,
                                 headers={"Authorization": "Bearer good-token-0123456789"})
            arrived = stub.requests
    finally:
        validator.shutdown()
        validator.server_close()
    assert ok[0] == 200 and bad[0] == 401 and clear[0] == 403
    assert "x-stagegate-deny" not in bad[1]  # logged, never sent
    assert bad[1]["www-authenticate"] == 'Bearer realm="stagegate", error="invalid_token"'
    assert "location" not in clear[1]  # no redirect
    assert len(arrived) == 1 and not arrived[0].header("Authorization")
    assert arrived[0].header("X-Authenticated-Sub") == ["alice"]
    logs = {p.name.split("-", 1)[1]: p.read_text() for p in (tmp_path / "logs").iterdir()
            if "-" in p.name}
    assert "token-0123456789" not in "".join(logs.values())
    access = [json.loads(line) for line in logs["stagegate-access.json"].splitlines()]
    decided = {(e["status"], e["decision"], e["deny"], e["token_fp"], e["sub"])
               for e in access if e["uri"] == "/v1/orders" and e["status"] != "403"}
    assert decided == {("200", "allow", "", "0123456789abcdef", "alice"),
                       ("401", "", "CLM-EXP", "0123456789abcdef", "")}
    exposure = [json.loads(line)
                for line in logs["stagegate-credential-exposure.json"].splitlines()]
    assert [(e["event"], e["authorization_header"], e["uri"]) for e in exposure] == [
        ("credential_exposure", "1", "/v1/orders")]

"""``stagegate gateway render|check|prove`` through click's CliRunner on the group itself
(no app, no database).  The nginx-marked tests run Debian's real nginx (they FAIL, never
skip, when it is missing — ``make test`` installs it)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result
from flask.cli import FlaskGroup

from lifecycle.gateway.cli import gateway, gateway_pack, judge
from lifecycle.gateway.nginx import make_self_signed
from lifecycle.gateway.proof import MIN_CASES
from policies.findings import Status
from policies.gateway import GATEWAY_RULE_IDS, check_nginx

FIXTURES = Path(__file__).resolve().parents[1] / "unit" / "gateway" / "fixtures"
NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
VERSION = "payments/1.0.0"

SPEC = """\
openapi: 3.1.0
info: {{title: Payments, version: 1.0.0}}
servers:
  - url: https://api.example.com/v1
paths:
  /orders:
    get:
      security: [{{bearer: []}}]
      responses:
        '200': {{description: ok}}
components:
  securitySchemes:
    bearer:
      type: http
      scheme: bearer
      bearerFormat: JWT
      x-token-encryption:
        alg: {alg}
        enc: A256GCM
        signing-alg: ES256
        issuer: https://as.example
        audience: https://api.example
        max-lifetime: 600
"""


def run(*args: str) -> Result:
    return CliRunner().invoke(gateway, list(args), catch_exceptions=False)


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "openapi.yaml"
    path.write_text(SPEC.format(alg="RSA-OAEP-256"))
    return path


@pytest.fixture
def single_use_spec(tmp_path: Path) -> Path:
    """The RSA spec whose profile demands single-use tokens."""
    path = tmp_path / "single-use.yaml"
    path.write_text(SPEC.format(alg="RSA-OAEP-256").replace(
        "        max-lifetime: 600\n", "        max-lifetime: 600\n        single-use: true\n"))
    return path


@pytest.fixture
def ecdh_spec(tmp_path: Path) -> Path:
    path = tmp_path / "ecdh.yaml"
    path.write_text(SPEC.format(alg="ECDH-ES+A256KW"))
    return path


def render_args(spec: Path, *extra: str) -> list[str]:
    return ["render", "--spec", str(spec), "--api-version", VERSION,
            "--server-name", "api.example.com", "--upstream", "https://10.0.0.5:8443",
            "--certificate", "/etc/ssl/stagegate/api.pem",
            "--certificate-key", "/etc/ssl/stagegate/api.key",
            "--validator", "unix:/run/stagegate/validator.sock", *extra]


@pytest.fixture
def rendered(tmp_path: Path, spec: Path) -> Path:
    out = tmp_path / "gw" / "nginx.conf"
    out.parent.mkdir()
    result = run(*render_args(spec, "--output", str(out)))
    assert result.exit_code == 0, result.output
    return out


def one_line(result: Result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert result.stdout == ""
    return lines[0]


# ---------------------------------------------------------------------------- render
def test_render_reads_profile_and_base_paths_from_the_spec(spec):
    result = run(*render_args(spec))
    assert result.exit_code == 0, result.stderr
    text = result.stdout
    assert "alg=RSA-OAEP-256 enc=A256GCM signing_alg=ES256 issuer=https://as.example" in text
    assert "location /v1/ {" in text and "auth_request /_stagegate_check;" in text
    assert "proxy_pass http://stagegate_validator/auth;" in text
    assert "server unix:/run/stagegate/validator.sock;" in text
    assert f'proxy_set_header X-Stagegate-Api-Version "{VERSION}";' in text


def test_render_output_passes_check(rendered):
    result = run("check", str(rendered))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("PASS: the nginx configuration")


def test_render_deprecation_and_sunset(spec):
    result = run(*render_args(spec, "--deprecated-at", "2026-01-01",
                              "--sunset-at", "2026-06-01T00:00:00Z",
                              "--successor-url", "https://api.example.com/v2/",
                              "--policy-url", "https://example.com/deprecation"))
    assert result.exit_code == 0, result.stderr
    assert 'add_header Deprecation "@1767225600" always;' in result.stdout
    assert 'add_header Sunset "Mon, 01 Jun 2026 00:00:00 GMT" always;' in result.stdout
    assert "return 410;" in result.stdout  # the sunset has passed: nothing is proxied


def test_render_nginx_plus(spec):
    result = run(*render_args(spec, "--target", "nginx-plus"))
    assert result.exit_code == 0, result.stderr
    assert "auth_jwt_type nested;" in result.stdout


def test_render_nginx_plus_refuses_an_ecdh_es_profile(ecdh_spec):
    result = run(*render_args(ecdh_spec, "--target", "nginx-plus"))
    assert result.exit_code == 2
    line = one_line(result)
    assert line.startswith("stagegate gateway render: NGINX Plus cannot enforce this token "
                           "profile: NGINX Plus cannot decrypt ECDH-ES+A256KW")


@pytest.mark.parametrize(("option", "value", "message"), [
    ("--upstream", "https://10.0.0.5:8443/api", "upstream must be http(s)://host[:port]"),
    ("--certificate", "relative.pem", "file path 'relative.pem' is not allowed"),
    ("--sunset-at", "next week", "--sunset-at 'next week' is not an ISO 8601"),
    ("--successor-url", "https://x.example/v2", "need --deprecated-at"),
])
def test_render_bad_settings_exit_2_with_one_line(spec, option, value, message):
    args = render_args(spec)
    if option in args:
        args[args.index(option) + 1] = value
    else:
        args += [option, value]
    result = run(*args)
    assert result.exit_code == 2
    assert message in one_line(result)


def test_render_needs_a_declared_profile(tmp_path):
    plain = tmp_path / "plain.yaml"
    plain.write_text("openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths: {}\n")
    result = run(*render_args(plain))
    assert result.exit_code == 2
    assert "declares an x-token-encryption profile" in one_line(result)
    broken = tmp_path / "broken.yaml"
    broken.write_text("openapi: 3.1.0\ninfo: [\n")
    result = run(*render_args(broken))
    assert result.exit_code == 2 and "broken.yaml: line" in one_line(result)


# ---------------------------------------------------------------------------- check
@pytest.mark.parametrize(("fixture", "rule", "line"), [
    ("no-enforcement", "GW-ENFORCES-TOKEN", 27),
    ("rewrite-phase", "GW-NO-EARLY-ANSWER", 22),
    ("token-in-url", "GW-NO-TOKEN-IN-URL", 23),
    ("auth-cache", "GW-AUTH-NOT-CACHED", 32),
    ("plaintext", "GW-HTTPS-ONLY", 14),
    ("tls-legacy", "TRN-TLS-CONFIG", 19),
    ("authorization-forwarded", "GW-STRIP-AUTHORIZATION", 25),
    ("log-token", "GW-LOG-NO-TOKEN", 6),
    ("deny-reason", "GW-DENY-REASON-HIDDEN", 20),
    ("escaping-include", "GW-CONFIG-SELF-CONTAINED", 6),
])
def test_check_blocks_each_bad_fixture_at_its_file_and_line(fixture, rule, line):
    path = FIXTURES / fixture / "nginx.conf"
    result = run("check", str(path))
    assert result.exit_code == 1, result.output
    assert result.stdout.startswith("BLOCKED: the nginx configuration")
    assert f"{rule}  {path}:{line}:1" in result.stdout


def test_check_good_fixture_passes():
    result = run("check", str(FIXTURES / "good" / "nginx.conf"))
    assert result.exit_code == 0, result.output


def test_check_a_bundle_names_the_included_file():
    base = FIXTURES / "bundle"
    files = [str(base / "nginx.conf"), str(base / "conf.d" / "api.conf"),
             str(base / "snippets" / "validator.conf")]
    result = run("check", *files)
    assert result.exit_code == 1, result.output
    assert f"GW-ENFORCES-TOKEN  {base / 'conf.d' / 'api.conf'}:18:1" in result.stdout
    assert "(3 files" in result.stdout
    # without its includes (an empty glob) the entry file has no API server to check
    alone = run("check", str(base / "nginx.conf"))
    assert alone.exit_code == 1 and "GW-ENFORCES-TOKEN" in alone.stdout
    named = run("check", files[1], files[0], "--entry", "nginx.conf")
    assert named.exit_code == 2  # nginx.conf is outside conf.d/, the first file's folder
    assert "inside the folder of the first file" in one_line(named)


def test_check_json_and_sarif():
    base = FIXTURES / "bundle"
    files = [str(base / "nginx.conf"), str(base / "conf.d" / "api.conf"),
             str(base / "snippets" / "validator.conf")]
    data = json.loads(run("check", *files, "--format", "json").stdout)
    assert data["kind"] == "gateway" and data["passed"] is False
    assert data["gateway"]["files"] == ["nginx.conf", "conf.d/api.conf",
                                        "snippets/validator.conf"]
    blocking = data["decision"]["blocking"]
    assert [(f["rule_id"], f["file"], f["line"]) for f in blocking] == [
        ("GW-ENFORCES-TOKEN", "conf.d/api.conf", 18)]
    assert blocking[0]["remediation"] and blocking[0]["blocking"] is True
    assert {f["rule_id"] for f in data["findings"] if f["status"] == "pass"} >= {
        "GW-HTTPS-ONLY", "GW-LOG-NO-TOKEN"}

    result = run("check", *files, "--format", "sarif")
    assert result.exit_code == 1
    sarif = json.loads(result.stdout)
    assert sarif["version"] == "2.1.0"
    run_ = sarif["runs"][0]
    assert run_["originalUriBaseIds"]["BUNDLEROOT"]["uri"] == base.as_uri() + "/"
    assert [a["location"] for a in run_["artifacts"]] == [
        {"uri": name, "uriBaseId": "BUNDLEROOT"}
        for name in ("conf.d/api.conf", "nginx.conf", "snippets/validator.conf")]
    [finding] = run_["results"]
    location = finding["locations"][0]["physicalLocation"]
    assert finding["ruleId"] == "GW-ENFORCES-TOKEN" and finding["level"] == "error"
    assert location == {"artifactLocation": {"uri": "conf.d/api.conf",
                                             "uriBaseId": "BUNDLEROOT", "index": 0},
                        "region": {"startLine": 18, "startColumn": 1}}
    assert run_["properties"]["gate"]["passed"] is False


def test_check_unreadable_or_unparsable_input_exits_2(tmp_path):
    missing = tmp_path / "missing.conf"
    result = run("check", str(missing))
    assert result.exit_code == 2
    assert one_line(result) == (f"stagegate gateway check: {missing}: cannot read the nginx "
                                "configuration: No such file or directory")
    broken = tmp_path / "nginx.conf"
    broken.write_text("http {\n    server {\n")
    result = run("check", str(broken))
    assert result.exit_code == 2
    assert "nginx.conf does not parse" in one_line(result)
    result = run("check", str(broken), "--entry", "other.conf")
    assert result.exit_code == 2 and "--entry 'other.conf'" in one_line(result)



def test_check_unparsable_input_in_sarif_format_is_a_sarif_log_saying_why(tmp_path):
    broken = tmp_path / "nginx.conf"
    broken.write_text("http {\n    server {\n")
    result = CliRunner().invoke(gateway, ["check", str(broken), "--format", "sarif"])
    assert result.exit_code == 2
    (run_,) = json.loads(result.stdout)["runs"]
    assert run_["results"] == []
    (invocation,) = run_["invocations"]
    assert (invocation["executionSuccessful"], invocation["exitCode"]) == (False, 2)
    (note,) = invocation["toolExecutionNotifications"]
    assert note["descriptor"]["id"] == "unparsable"
    assert "nginx.conf does not parse" in note["message"]["text"]
    assert run_["artifacts"][0]["location"] == {"uri": "nginx.conf",
                                                "uriBaseId": "BUNDLEROOT"}
    assert run_["originalUriBaseIds"]["BUNDLEROOT"]["uri"] == tmp_path.as_uri() + "/"

# ---------------------------------------------------------------------------- nginx
@pytest.mark.nginx
def test_rendered_configuration_passes_nginx_t(tmp_path, spec):
    assert NGINX, "Debian's nginx is required (make test installs it)"
    cert, key = make_self_signed(tmp_path)
    logs = tmp_path / "logs"
    logs.mkdir()
    out = tmp_path / "nginx.conf"
    args = render_args(spec, "--output", str(out), "--log-dir", str(logs),
                       "--upstream-ca", str(cert))
    args[args.index("--certificate") + 1] = str(cert)
    args[args.index("--certificate-key") + 1] = str(key)
    assert run(*args).exit_code == 0
    assert run("check", str(out)).exit_code == 0
    done = subprocess.run([NGINX, "-t", "-p", str(tmp_path), "-c", str(out), "-g",
                           f"pid {tmp_path}/nginx.pid;"], capture_output=True, text=True,
                          timeout=20, check=False)
    assert done.returncode == 0, done.stderr
    assert "test is successful" in done.stderr


def prove(conf: Path, spec: Path, *extra: str) -> Result:
    assert NGINX, "Debian's nginx is required (make test installs it)"
    return run("prove", str(conf), "--spec", str(spec), "--api-version", VERSION,
               "--nginx", NGINX, *extra)


@pytest.mark.nginx
def test_prove_the_rendered_configuration(rendered, single_use_spec):
    result = prove(rendered, single_use_spec)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "nginx: nginx version: nginx/" in out
    assert "config sha256: " in out
    rows = [line for line in out.splitlines() if line.endswith("  pass")]
    assert len(rows) >= MIN_CASES
    # the spec says `single-use: true`: the second client's reuse is expected refused
    assert any(row.startswith("replay-second-client ") and " deny " in row for row in rows)
    assert "PASSED:" in out


@pytest.mark.nginx
def test_prove_json(rendered, ecdh_spec, spec):
    result = prove(rendered, ecdh_spec, "--format", "json")  # the ECDH-ES profile: nginx OK
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["passed"] is True and data["version"] == VERSION
    assert len(data["config_sha256"]) == 64 and len(data["cases"]) >= MIN_CASES


@pytest.mark.nginx
def test_prove_a_weakened_configuration_exits_1(rendered, spec):
    text = rendered.read_text()
    assert "            auth_request /_stagegate_check;\n" in text
    rendered.write_text(text.replace("            auth_request /_stagegate_check;\n", "", 1))
    result = prove(rendered, spec)
    assert result.exit_code == 1, result.output
    assert "FAILED:" in result.stdout
    assert any(line.startswith("expired ") and "FAIL a denied request reached the upstream"
               in line for line in result.stdout.splitlines())


@pytest.mark.nginx
def test_prove_shows_nginx_t_error_and_exits_2(rendered, spec):
    rendered.write_text(rendered.read_text().replace("ssl_protocols", "ssl_protocolz", 1))
    result = prove(rendered, spec)
    assert result.exit_code == 2
    line = one_line(result)
    assert line.startswith('stagegate gateway prove: nginx -t failed: [emerg] unknown '
                           'directive "ssl_protocolz" in nginx.conf:')


def test_prove_without_nginx_exits_2(rendered, spec, tmp_path):
    result = run("prove", str(rendered), "--spec", str(spec), "--api-version", VERSION,
                 "--nginx", str(tmp_path / "no-nginx"))
    assert result.exit_code == 2
    assert "cannot run" in one_line(result)


def test_the_group_needs_no_app_and_imports_no_other_lifecycle_module():
    assert isinstance(gateway, click.Group) and not isinstance(gateway, FlaskGroup)
    assert set(gateway.commands) == {"render", "check", "prove"}
    code = ("import sys, lifecycle.gateway.cli; print(sorted(m for m in sys.modules "
            "if m.startswith('lifecycle.') and not m.startswith('lifecycle.gateway')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout.strip() == "[]"


def test_the_gate_applies_exactly_the_checked_rules_and_blocks_any_failure():
    policy = gateway_pack().stage("deployment")
    assert policy.rules == frozenset(GATEWAY_RULE_IDS) and not policy.evidence
    assert policy.require == {"GW-ENFORCES-TOKEN", "GW-NO-EARLY-ANSWER"}
    good = check_nginx({"nginx.conf": (FIXTURES / "good" / "nginx.conf").read_bytes()})
    assert judge(good).passed
    for rule_id in GATEWAY_RULE_IDS:  # one failure of any gateway rule blocks
        failed = [replace(f, status=Status.FAIL) if f.rule_id == rule_id else f
                  for f in good.findings]
        assert not judge(replace(good, findings=tuple(failed))).passed, rule_id

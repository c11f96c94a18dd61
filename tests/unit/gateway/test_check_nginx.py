"""Static verification of nginx configurations: one fixture per failure class (issue 11,
acceptance 2), each finding at the right file:line; the good configuration has none."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from gwfixtures import FIXTURES, bundle, line_of

from lifecycle.gateway.render import GatewaySettings, render_nginx
from policies.findings import Finding, Status
from policies.gate import decide
from policies.gateway import GATEWAY_RULE_IDS, check_nginx, failures_of
from policies.packs import load_pack, parse_pack
from policies.report import render_evidence_sarif, render_evidence_text
from policies.rules import Evidence, Severity, get_rule
from policies.tokens import TokenProfile


def failed_at(name: str, rule_id: str) -> set[tuple[str | None, int | None]]:
    check = check_nginx(bundle(name))
    return {(f.file, f.line) for f in failures_of(check, rule_id)}


def failed_rules(name: str) -> set[str]:
    return {f.rule_id for f in check_nginx(bundle(name)).failures}


# ------------------------------------------------------------------------------ catalog
def test_gateway_rules_are_in_the_catalog_with_gateway_evidence() -> None:
    for rule_id in GATEWAY_RULE_IDS:
        rule = get_rule(rule_id)
        assert rule.evidence is Evidence.GATEWAY and rule.sources
    assert get_rule("GW-ENFORCES-TOKEN").severity is Severity.CRITICAL
    assert get_rule("GW-NO-EARLY-ANSWER").severity is Severity.CRITICAL
    assert get_rule("GW-HTTPS-ONLY").severity is Severity.CRITICAL
    assert get_rule("TRN-TLS-CONFIG").severity is Severity.HIGH
    assert get_rule("GW-NO-TOKEN-IN-URL").severity is Severity.HIGH
    assert get_rule("GW-LOG-NO-TOKEN").severity is Severity.HIGH


def test_default_pack_gates_deployment_only_on_gateway_evidence() -> None:
    pack = load_pack("default")
    for name, stage in pack.stages.items():
        applied = [rule_id for rule_id in (*GATEWAY_RULE_IDS, "GW-PROOF")
                   if stage.applies(rule_id)]
        assert applied == ([*GATEWAY_RULE_IDS, "GW-PROOF"] if name == "deployment" else [])


# ------------------------------------------------------------------------------ good
def test_good_configuration_passes_every_rule_and_lists_its_protected_location() -> None:
    check = check_nginx(bundle("good"))
    assert check.passed, [f.message for f in check.failures]
    assert {f.rule_id for f in check.findings} == set(GATEWAY_RULE_IDS)
    assert all(f.status is Status.PASS for f in check.findings)
    [protected] = check.protected
    assert (protected.file, protected.line) == ("nginx.conf", line_of("good", "location /api/"))
    assert protected.enforcement == "auth_request /_stagegate_check"
    assert protected.enforcement_line == line_of("good", "auth_request /_stagegate_check;")
    assert protected.upstream == "proxy_pass http://backend"
    assert protected.server_names == ("api.example.com",)
    assert check.to_dict()["protected"][0]["location"] == "/api/"
    assert len(check.sha256) == 64


# ------------------------------------------------------------------------------ bad classes
@pytest.mark.parametrize(("fixture", "rule_id", "snippets"), [
    ("no-enforcement", "GW-ENFORCES-TOKEN",
     ["location /api/reports/", "auth_request off;"]),
    ("rewrite-phase", "GW-NO-EARLY-ANSWER",
     ["rewrite ^/api/v1/(.*)$ /legacy/$1 last;", "return 200"]),
    ("rewrite-phase", "GW-ENFORCES-TOKEN", ["location /legacy/"]),
    ("token-in-url", "GW-NO-TOKEN-IN-URL",
     ['set $bearer "Bearer $arg_access_token";', "if ($cookie_jwt)",
      'set $bearer "Bearer $cookie_jwt";']),
    ("auth-cache", "GW-AUTH-NOT-CACHED", ["proxy_cache_key $scheme$host$request_uri;"]),
    ("plaintext", "GW-HTTPS-ONLY", ["listen 80;", "return 301 https://$host$request_uri;"]),
    ("tls-legacy", "TRN-TLS-CONFIG",
     ["ssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3;", "ssl_ciphers DEFAULT:@SECLEVEL=0;",
      "listen 8443 ssl;"]),
    ("authorization-forwarded", "GW-STRIP-AUTHORIZATION",
     ["proxy_set_header Authorization $http_authorization;",
      "nothing strips Authorization here"]),
    ("log-token", "GW-LOG-NO-TOKEN", ["log_format debug", "access_log logs/auth.log;"]),
    ("deny-reason", "GW-DENY-REASON-HIDDEN", ["add_header X-Debug-Deny $sg_deny always;"]),
    ("satisfy-any", "GW-ENFORCES-TOKEN", ["satisfy any;"]),
])
def test_each_bad_class_is_found_at_its_line(fixture: str, rule_id: str,
                                              snippets: list[str]) -> None:
    expected = {("nginx.conf", line_of(fixture, s)) for s in snippets}
    assert failed_at(fixture, rule_id) == expected


@pytest.mark.parametrize(("fixture", "rules"), [
    ("no-enforcement", {"GW-ENFORCES-TOKEN"}),
    ("rewrite-phase", {"GW-NO-EARLY-ANSWER", "GW-ENFORCES-TOKEN"}),
    ("token-in-url", {"GW-NO-TOKEN-IN-URL"}),
    ("auth-cache", {"GW-AUTH-NOT-CACHED"}),
    ("plaintext", {"GW-HTTPS-ONLY"}),
    ("tls-legacy", {"TRN-TLS-CONFIG"}),
    ("authorization-forwarded", {"GW-STRIP-AUTHORIZATION"}),
    ("log-token", {"GW-LOG-NO-TOKEN"}),
    ("deny-reason", {"GW-DENY-REASON-HIDDEN"}),
    ("satisfy-any", {"GW-ENFORCES-TOKEN"}),
])
def test_each_bad_fixture_fails_only_its_own_class(fixture: str, rules: set[str]) -> None:
    assert failed_rules(fixture) == rules


def test_messages_say_what_where_why_and_how_to_fix() -> None:
    [finding] = [f for f in failures_of(check_nginx(bundle("rewrite-phase")),
                                        "GW-NO-EARLY-ANSWER") if "return" in f.message]
    assert "location /api/status" in finding.message
    assert f"nginx.conf:{finding.line}" in finding.message
    assert "before the access phase" in finding.message and "Fix:" in finding.message
    [cache] = failures_of(check_nginx(bundle("auth-cache")), "GW-AUTH-NOT-CACHED")
    assert cache.severity is Severity.CRITICAL and "omits the token" in cache.message


# ------------------------------------------------------------------------------ bundles
def test_bundle_resolves_includes_and_locates_findings_in_the_included_file() -> None:
    check = check_nginx(bundle("bundle"))
    assert check.files == ("nginx.conf", "conf.d/api.conf", "snippets/validator.conf")
    [finding] = check.failures
    assert finding.rule_id == "GW-ENFORCES-TOKEN"
    assert (finding.file, finding.line) == (
        "conf.d/api.conf", line_of("bundle", "auth_request off;", "conf.d/api.conf"))
    [protected] = check.protected
    assert (protected.file, protected.location) == ("conf.d/api.conf", "/api/")
    assert protected.enforcement_file == "conf.d/api.conf"


def test_include_outside_the_bundle_is_a_finding_never_a_read() -> None:
    check = check_nginx(bundle("escaping-include"))
    where = {(f.file, f.line) for f in failures_of(check, "GW-CONFIG-SELF-CONTAINED")}
    assert where == {("nginx.conf", line_of("escaping-include", s)) for s in (
        "include /etc/nginx/mime.types;", "include ../secrets/upstreams.conf;",
        "include conf.d/missing.conf;")}
    assert check.files == ("nginx.conf",)
    assert not check.passed


def test_an_existing_server_file_is_not_read_through_an_absolute_include() -> None:
    conf = b"events {}\nhttp {\n    include /etc/hostname;\n}\n"
    check = check_nginx({"nginx.conf": conf})
    [finding] = failures_of(check, "GW-CONFIG-SELF-CONTAINED")
    assert finding.line == 3 and check.files == ("nginx.conf",)


def test_glob_include_matches_only_bundle_files_in_that_directory() -> None:
    files = bundle("bundle")
    files["conf.d/extra/deeper.conf"] = b"server { listen 9; }\n"
    assert check_nginx(files).files == ("nginx.conf", "conf.d/api.conf",
                                        "snippets/validator.conf")


def test_parse_error_is_located_and_other_rules_are_not_passed() -> None:
    conf = b"events {}\nhttp {\n    server {\n        listen 443 ssl;\n"
    check = check_nginx({"nginx.conf": conf})
    [finding] = failures_of(check, "GW-CONFIG-VALID")
    assert (finding.file, finding.line) == ("nginx.conf", 4)
    assert "does not parse" in finding.message and "/tmp" not in finding.message
    assert {f.status for f in check.findings if f.rule_id == "GW-ENFORCES-TOKEN"} == {
        Status.ERROR}


def test_a_syntax_error_in_an_include_is_reported_in_that_file() -> None:
    files = {"nginx.conf": b"events {}\nhttp {\n    include api.conf;\n}\n",
             "api.conf": b"server {\n    listen 443 ssl;\n    location / {\n}\n"}
    [finding] = failures_of(check_nginx(files), "GW-CONFIG-VALID")
    assert (finding.file, finding.line) == ("api.conf", 4)


@pytest.mark.parametrize("files", [
    {"../nginx.conf": b"events {}\n", "nginx.conf": b"events {}\n"},
    {"/etc/nginx/nginx.conf": b"events {}\n", "nginx.conf": b"events {}\n"},
])
def test_unsafe_bundle_names_are_refused(files: dict[str, bytes]) -> None:
    [finding] = failures_of(check_nginx(files), "GW-CONFIG-VALID")
    assert "not a safe relative path" in finding.message


def test_missing_entry_and_include_cycle() -> None:
    [missing] = failures_of(check_nginx({"other.conf": b"events {}\n"}), "GW-CONFIG-VALID")
    assert "entry file 'nginx.conf' is not in the bundle" in missing.message
    cycle = {"nginx.conf": b"events {}\nhttp { include a.conf; }\n",
             "a.conf": b"include a.conf;\n"}
    [loop] = failures_of(check_nginx(cycle), "GW-CONFIG-VALID")
    assert "cycle" in loop.message and (loop.file, loop.line) == ("a.conf", 1)


# ------------------------------------------------------------------------------ semantics
_TLS = """events {}
http {
    access_log off;
    upstream backend { server 127.0.0.1:9001; }
    server {
        listen 443 ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        add_header Strict-Transport-Security "max-age=31536000" always;
        proxy_set_header Authorization "";
%s
    }
}
"""

_VALIDATOR = """
        location = /_check { internal; proxy_pass http://127.0.0.1:9002; }
"""


def _check(body: str) -> dict[str, list[Finding]]:
    check = check_nginx({"nginx.conf": (_TLS % body).encode()})
    out: dict[str, list[Finding]] = {}
    for f in check.failures:
        out.setdefault(f.rule_id, []).append(f)
    return out


def test_nginx_plus_nested_auth_jwt_with_keys_enforces() -> None:
    good = """
        location /api/ {
            auth_jwt "api";
            auth_jwt_type nested;
            auth_jwt_key_file conf/api-enc.jwks;
            proxy_pass http://backend;
        }"""
    assert _check(good) == {}
    signed = good.replace("auth_jwt_type nested;", "auth_jwt_type signed;")
    assert "not `nested`" in _check(signed)["GW-ENFORCES-TOKEN"][0].message
    keyless = good.replace("auth_jwt_key_file conf/api-enc.jwks;", "")
    assert "signature is never verified" in _check(keyless)["GW-ENFORCES-TOKEN"][0].message
    query = good.replace('auth_jwt "api";', 'auth_jwt "api" token=$arg_jwt;')
    assert set(_check(query)) == {"GW-NO-TOKEN-IN-URL"}


def test_validator_location_must_be_internal_and_proxy() -> None:
    body = """
        auth_request /_check;
        location /api/ { proxy_pass http://backend; }
        location = /_check { proxy_pass http://127.0.0.1:9002; }"""
    [finding] = _check(body)["GW-ENFORCES-TOKEN"]
    assert "is not `internal`" in finding.message
    missing = """
        auth_request /_nowhere;
        location = /api/ { proxy_pass http://backend; }"""
    assert "goes to no location" in _check(missing)["GW-ENFORCES-TOKEN"][0].message


def test_rewrite_break_stays_in_the_protected_location() -> None:
    body = """
        auth_request /_check;
        location /api/ {
            rewrite ^/api/v1/(.*)$ /api/$1 break;
            if ($request_method = TRACE) { return 405; }
            proxy_pass http://backend;
        }""" + _VALIDATOR
    assert _check(body) == {}


def test_server_level_rewrite_into_an_unprotected_location_is_found() -> None:
    body = """
        rewrite ^/v1/(.*)$ /open/$1 last;
        location /api/ { auth_request /_check; proxy_pass http://backend; }
        location /open/ { proxy_pass http://backend; }""" + _VALIDATOR
    found = _check(body)
    assert found["GW-NO-EARLY-ANSWER"][0].line == 11
    assert found["GW-ENFORCES-TOKEN"][0].line == 13


def test_location_add_header_hides_the_servers_hsts() -> None:
    body = """
        auth_request /_check;
        location /api/ {
            add_header Deprecation "@1767225600" always;
            proxy_pass http://backend;
        }""" + _VALIDATOR
    [finding] = _check(body)["TRN-TLS-CONFIG"]
    assert finding.line == 12 and "not inherited" in finding.message


def test_weak_hsts_is_found_at_its_header() -> None:
    body = """
        auth_request /_check;
        location /api/ {
            add_header Strict-Transport-Security "max-age=600";
            proxy_pass http://backend;
        }""" + _VALIDATOR
    [finding] = _check(body)["TRN-TLS-CONFIG"]
    assert finding.line == 13 and "below one year" in finding.message
    assert "always" in finding.message


def test_fastcgi_and_grpc_must_strip_authorization_too() -> None:
    body = """
        auth_request /_check;
        location /php/ { fastcgi_pass 127.0.0.1:9003; }
        location /grpc/ { grpc_pass grpc://127.0.0.1:9004; }
        location /ok/ {
            fastcgi_param HTTP_AUTHORIZATION "";
            fastcgi_pass 127.0.0.1:9003;
        }""" + _VALIDATOR
    lines = sorted(f.line or 0 for f in _check(body)["GW-STRIP-AUTHORIZATION"])
    assert lines == [12, 13]


def test_auth_cache_keyed_by_the_token_is_still_a_high_finding() -> None:
    body = """
        auth_request /_check;
        location /api/ { proxy_pass http://backend; }
        location = /_check {
            internal;
            proxy_cache auth;
            proxy_cache_key "$http_authorization$request_uri";
            proxy_pass http://127.0.0.1:9002;
        }"""
    [finding] = _check(body)["GW-AUTH-NOT-CACHED"]
    assert finding.severity is Severity.HIGH and finding.line == 15


def test_no_access_log_means_the_combined_format() -> None:
    check = check_nginx({"nginx.conf": (_TLS % ("auth_request /_check;\n"
                                                "location /api/ { proxy_pass http://backend; }"
                                                + _VALIDATOR)
                                        ).replace("access_log off;", "").encode()})
    [finding] = failures_of(check, "GW-LOG-NO-TOKEN")
    assert finding.line == 2 and "combined" in finding.message


# ------------------------------------------------------------------------------ reports
def test_finding_file_round_trips_and_stays_optional() -> None:
    finding = Finding("GW-ENFORCES-TOKEN", Severity.CRITICAL, Status.FAIL, "m", line=3,
                      file="conf.d/api.conf")
    assert Finding.from_dict(finding.to_dict()) == finding
    plain = Finding("GW-ENFORCES-TOKEN", Severity.CRITICAL, Status.FAIL, "m", line=3)
    assert "file" not in plain.to_dict() and Finding.from_dict(plain.to_dict()) == plain
    with pytest.raises(ValueError):
        Finding.from_dict({**finding.to_dict(), "file": 3})


def test_text_and_sarif_reports_name_the_bundle_file() -> None:
    check = check_nginx(bundle("bundle"))
    line = line_of("bundle", "auth_request off;", "conf.d/api.conf")
    text = render_evidence_text("gateway", "bundle", check.findings, check.passed)
    assert f"conf.d/api.conf:{line}" in text and "GW-ENFORCES-TOKEN" in text
    sarif = render_evidence_sarif("nginx.conf", check.findings, check.passed)
    [result] = sarif["runs"][0]["results"]
    physical = result["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"] == {"uri": "conf.d/api.conf"}
    assert physical["region"]["startLine"] == line


# ------------------------------------------------------------------------------ hostile input
def test_deep_nesting_is_a_finding_not_a_crash() -> None:
    deep = b"events {}\nhttp { server { " + b"location /a { " * 40 + b"}" * 40 + b" } }\n"
    [finding] = failures_of(check_nginx({"nginx.conf": deep}), "GW-CONFIG-VALID")
    assert "levels deep" in finding.message


def test_catastrophic_location_regex_is_not_evaluated() -> None:
    body = """
        auth_request /_check;
        location ~ ^(a+)+$ { proxy_pass http://backend; }
        rewrite ^ /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab last;""" + _VALIDATOR
    assert "GW-CONFIG-VALID" not in _check(body)  # returns at once instead of backtracking


def test_many_locations_are_checked_in_reasonable_time() -> None:
    locations = "".join(f'location /a{i}/ {{ proxy_pass http://backend; }}\n'
                        for i in range(3000))
    check = check_nginx({"nginx.conf": (_TLS % ("auth_request /_check;\n" + locations
                                                 + _VALIDATOR)).encode()})
    assert check.passed and len(check.protected) == 3000


def test_named_fallback_location_that_proxies_needs_enforcement_too() -> None:
    body = """
        location /api/ {
            auth_request /_check;
            error_page 401 = @login;
            proxy_pass http://backend;
        }
        location @login { proxy_pass http://backend; }""" + _VALIDATOR
    [finding] = _check(body)["GW-ENFORCES-TOKEN"]
    assert finding.line == 16 and "location @login" in finding.message


# ------------------------------------------------------------------------------ gate
_PACK_WITH_GATEWAY = b"""
name: with-gateway
description: the static part of the default deployment gate's gateway evidence (no proof)
stages:
  development: {description: open, apply: {}, block_on: null}
  testing: {description: open, apply: {}, block_on: null}
  retirement: {description: open, apply: {}, block_on: null}
  deployment:
    description: nothing medium or worse on the gateway configuration
    apply:
      rules: [RULES]
    require: [GW-ENFORCES-TOKEN, GW-NO-EARLY-ANSWER]
    block_on: medium
"""


def test_a_pack_gating_on_gateway_evidence_passes_the_good_config_only() -> None:
    pack = parse_pack(_PACK_WITH_GATEWAY.replace(b"RULES", ", ".join(GATEWAY_RULE_IDS).encode()),
                      "with-gateway.yaml")
    good = decide(pack, "deployment", check_nginx(bundle("good")).findings)
    assert good.passed, good.blocking
    bad = decide(pack, "deployment", check_nginx(bundle("rewrite-phase")).findings)
    assert not bad.passed
    assert {f.rule_id for f in bad.blocking} == {"GW-NO-EARLY-ANSWER", "GW-ENFORCES-TOKEN"}
    nothing = decide(pack, "deployment", [])
    assert not nothing.passed and {f.status for f in nothing.blocking} == {
        Status.MISSING_EVIDENCE}


def test_stream_proxy_is_a_bypass_of_any_http_check() -> None:
    stream = "stream { server { listen 9443; proxy_pass 127.0.0.1:9001; } }\n"
    conf = (_TLS % ("auth_request /_check;\nlocation /api/ { proxy_pass http://backend; }"
                    + _VALIDATOR)) + stream
    check = check_nginx({"nginx.conf": conf.encode()})
    [finding] = failures_of(check, "GW-ENFORCES-TOKEN")
    assert "raw TCP" in finding.message and finding.line == conf.count("\n")


# ------------------------------------------------------------------------------ internal locations
def test_the_auth_subrequest_location_is_exempt_and_an_unrouted_internal_one_is_low() -> None:
    check = check_nginx(bundle("internal-locations"))
    enforce = {f.line: f for f in failures_of(check, "GW-ENFORCES-TOKEN")}
    strip = {f.line: f for f in failures_of(check, "GW-STRIP-AUTHORIZATION")}
    auth_location = line_of("internal-locations", "location = /_check {")
    old = line_of("internal-locations", "location = /_old_check {")
    fallback = line_of("internal-locations", "location /fallback/ {")
    # the auth_request target forwards the token to the validator by design: no finding
    assert auth_location not in enforce and auth_location + 2 not in strip
    assert [p.location for p in check.protected] == ["/api/"]
    # a left-over internal location nothing routes to: no client request enters it, so no
    # bypass; forwarding the token there (an internal redirect keeps the headers) is low
    assert old not in enforce
    assert strip[old + 2].severity is Severity.LOW
    assert "X-Accel-Redirect" in strip[old + 2].message
    assert "left over" in strip[old + 2].message
    # internal, but error_page sends refused requests there: a bypass at full severity
    assert enforce[fallback].severity is Severity.CRITICAL
    assert "without the token check" in enforce[fallback].message
    assert set(enforce) == {fallback} and set(strip) == {old + 2}


def test_a_left_over_internal_location_does_not_block_the_deployment_gate() -> None:
    pack = parse_pack(_PACK_WITH_GATEWAY.replace(b"RULES", ", ".join(GATEWAY_RULE_IDS).encode()),
                      "with-gateway.yaml")
    text = (FIXTURES / "internal-locations" / "nginx.conf").read_text()
    without_fallback = text.replace("error_page 401 = /fallback/;", "")
    findings = check_nginx({"nginx.conf": without_fallback.encode()}).findings
    assert decide(pack, "deployment", findings).passed
    assert not decide(pack, "deployment",
                      check_nginx(bundle("internal-locations")).findings).passed


@pytest.mark.parametrize(("route", "target"), [
    ("error_page 502 /fallback/;", "/fallback/"),
    ("try_files $uri /fallback/;", "/fallback/"),
    ("rewrite ^/old/(.*)$ /fallback/$1 last;", "/fallback/"),
    ("error_page 401 = @fallback;", "@fallback"),
    ("rewrite ^ $arg_next last;", "/fallback/"),            # a variable target: could be any
])
def test_an_internal_location_something_routes_to_is_checked_in_full(route: str,
                                                                      target: str) -> None:
    body = f"""
        location /api/ {{
            auth_request /_check;
            {route}
            proxy_pass http://backend;
        }}
        location {target} {{
            internal;
            proxy_pass http://backend;
        }}""" + _VALIDATOR
    found = _check(body)
    [finding] = [f for f in found["GW-ENFORCES-TOKEN"] if target in f.message]
    assert finding.severity is Severity.CRITICAL


def test_an_x_accel_redirect_target_that_strips_the_token_has_no_finding() -> None:
    """The protected-download pattern: the backend (behind the check) answers with
    ``X-Accel-Redirect: /files/…``; nothing of the configuration routes there."""
    body = """
        location /api/ {
            auth_request /_check;
            proxy_pass http://backend;
        }
        location /files/ {
            internal;
            proxy_set_header Authorization "";
            proxy_pass http://127.0.0.1:9003;
        }""" + _VALIDATOR
    assert _check(body) == {}


def test_the_generated_configuration_with_its_validator_upstream_has_no_finding() -> None:
    for validator in ("/run/stagegate/validator.sock", "127.0.0.1:9100"):
        settings = GatewaySettings(
            server_name="api.example.com", upstream="https://10.0.0.5:8443",
            certificate="/etc/ssl/api.pem", certificate_key="/etc/ssl/api.key",
            validator=validator, api_version="payments/1.4.0", base_paths=("/v1/", "/v2/"))
        text = render_nginx(settings, TokenProfile(alg="RSA-OAEP-256", enc="A256GCM",
                                                   signing_alg="ES256"),
                            now=datetime(2026, 12, 6, tzinfo=UTC))
        check = check_nginx({"nginx.conf": text.encode()})
        assert check.failures == [], check.failures
        assert sorted(p.location for p in check.protected) == ["/v1/", "/v2/"]

"""Unit tests of the gateway renderers (no nginx needed; the ``nginx -t`` test is in
``test_proof_nginx.py``)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import crossplane
import pytest

from lifecycle.gateway.render import (
    CHECK_LOCATION,
    VALIDATOR_KEEPALIVE,
    VALIDATOR_KEEPALIVE_SECONDS,
    CapabilityError,
    Deprecation,
    GatewaySettings,
    SettingsError,
    base_paths_from_servers,
    base_paths_from_spec,
    render_nginx,
    render_nginx_plus,
)
from lifecycle.gateway.serve import KEEPALIVE_SECONDS, gunicorn_options
from policies.tokens import TokenProfile
from specs.index import SpecIndex
from specs.load import load_document

PROFILE = TokenProfile(alg="RSA-OAEP-256", enc="A256GCM", signing_alg="ES256",
                       issuer="https://as.example", audience=("https://api.example",),
                       max_lifetime=600)
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
DEPRECATION = Deprecation(datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 6, 1, tzinfo=UTC),
                          "https://api.example.com/v2/", "https://example.com/deprecation")


def settings(**changes: object) -> GatewaySettings:
    base: dict[str, object] = dict(
        server_name="api.example.com", upstream="https://backend.internal:8443",
        certificate="/etc/ssl/api.pem", certificate_key="/etc/ssl/api.key",
        validator="/run/stagegate/validator.sock", api_version="payments/1.4.0",
        base_paths=("/v1/",))
    base.update(changes)
    return GatewaySettings(**base)  # type: ignore[arg-type]


def parse(text: str, tmp_path) -> list[dict]:
    conf = tmp_path / "nginx.conf"
    conf.write_text(text)
    payload = crossplane.parse(str(conf), catch_errors=False, comments=False)
    assert payload["status"] == "ok", payload["errors"]
    return payload["config"][0]["parsed"]


def walk(block: list[dict]) -> list[dict]:
    out = []
    for d in block:
        out.append(d)
        out += walk(d.get("block") or [])
    return out


def locations(parsed: list[dict]) -> dict[str, dict]:
    return {d["args"][-1]: d for d in walk(parsed) if d["directive"] == "location"}


def test_every_api_location_is_behind_auth_request_and_strips_authorization(tmp_path):
    text = render_nginx(settings(base_paths=("/v1/", "/v1-beta/")), PROFILE, now=NOW)
    locs = locations(parse(text, tmp_path))
    for base in ("/v1/", "/v1-beta/"):
        body = locs[base]["block"]
        names = [d["directive"] for d in body]
        assert names[0] == "auth_request" and body[0]["args"] == [CHECK_LOCATION]
        assert "return" not in names and "rewrite" not in names and "if" not in names
        assert {"directive": "proxy_set_header", "args": ["Authorization", ""]} in [
            {"directive": d["directive"], "args": d["args"]} for d in body]
        forwarded = {d["args"][0] for d in body if d["directive"] == "proxy_set_header"}
        assert {"X-Authenticated-Sub", "X-Authenticated-Client-Id"} <= forwarded
        assert ["https://backend.internal:8443"] in [d["args"] for d in body
                                                     if d["directive"] == "proxy_pass"]
        upstream_tls = {d["directive"]: d["args"] for d in body
                        if d["directive"].startswith("proxy_ssl")}
        assert upstream_tls["proxy_ssl_verify"] == ["on"]
        assert upstream_tls["proxy_ssl_trusted_certificate"] == [
            "/etc/ssl/certs/ca-certificates.crt"]
    check = {d["directive"]: d["args"] for d in locs[CHECK_LOCATION]["block"]}
    assert "internal" in check
    assert check["proxy_pass"] == ["http://stagegate_validator/auth"]
    assert check["proxy_pass_request_body"] == ["off"]
    assert check["proxy_cache"] == ["off"]
    # kept-alive connections to the validator: HTTP/1.1 and no `Connection: close`
    assert check["proxy_http_version"] == ["1.1"]
    headers = {d["args"][0]: d["args"][1] for d in locs[CHECK_LOCATION]["block"]
               if d["directive"] == "proxy_set_header"}
    assert headers == {"Content-Length": "", "Connection": "", "X-Original-URI": "$request_uri",
                       "X-Original-Method": "$request_method", "X-Real-IP": "$remote_addr",
                       "X-Stagegate-Api-Version": "payments/1.4.0"}
    assert locs["/"]["block"] == [{"directive": "return", "line": locs["/"]["block"][0]["line"],
                                   "args": ["404"]}]


@pytest.mark.parametrize(("validator", "server"), [
    ("/run/stagegate/validator.sock", "unix:/run/stagegate/validator.sock"),
    ("127.0.0.1:9100", "127.0.0.1:9100"),
])
def test_the_validator_is_an_upstream_with_kept_alive_connections(tmp_path, validator, server):
    parsed = parse(render_nginx(settings(validator=validator), PROFILE, now=NOW), tmp_path)
    (block,) = [d for d in walk(parsed) if d["directive"] == "upstream"]
    assert block["args"] == ["stagegate_validator"]
    inner = {d["directive"]: d["args"] for d in block["block"]}
    assert inner["server"] == [server]
    assert inner["keepalive"] == [str(VALIDATOR_KEEPALIVE)]
    # nginx closes idle connections before the validator (gunicorn) would
    assert inner["keepalive_timeout"] == [f"{VALIDATOR_KEEPALIVE_SECONDS}s"]
    assert VALIDATOR_KEEPALIVE_SECONDS < KEEPALIVE_SECONDS
    assert gunicorn_options("unix:/s", workers=1, threads=4)["keepalive"] == KEEPALIVE_SECONDS


def test_no_validator_upstream_after_the_sunset(tmp_path):
    gone = Deprecation(deprecated_at=NOW - timedelta(days=90), sunset_at=NOW - timedelta(days=1))
    parsed = parse(render_nginx(settings(deprecation=gone), PROFILE, now=NOW), tmp_path)
    assert not [d for d in walk(parsed) if d["directive"] == "upstream"]


def test_tls_hsts_plaintext_refusal_and_no_redirect(tmp_path):
    parsed = parse(render_nginx(settings(), PROFILE, now=NOW), tmp_path)
    servers = [d for d in walk(parsed) if d["directive"] == "server" and "block" in d]
    plain, tls = servers
    assert [d["args"] for d in plain["block"] if d["directive"] == "listen"] == [
        ["80", "default_server"]]
    assert [d["args"] for d in plain["block"] if d["directive"] == "return"] == [["403"]]
    exposure = [d["args"] for d in plain["block"] if d["directive"] == "access_log"]
    assert ["/var/log/nginx/stagegate-credential-exposure.json", "stagegate_exposure",
            "if=$sg_credential_exposure"] in exposure
    tls_args = {d["directive"]: d["args"] for d in tls["block"]}
    assert tls_args["ssl_protocols"] == ["TLSv1.2", "TLSv1.3"]
    assert tls_args["listen"] == ["443", "ssl", "http2"]
    hsts = [d["args"] for d in tls["block"] if d["directive"] == "add_header"]
    assert ["Strict-Transport-Security", "max-age=63072000; includeSubDomains", "always"] in hsts
    text = render_nginx(settings(), PROFILE, now=NOW)
    assert "301" not in text and "302" not in text and "https://$host" not in text


def test_logs_never_hold_the_token_or_the_query(tmp_path):
    parsed = parse(render_nginx(settings(), PROFILE, now=NOW), tmp_path)
    formats = [d for d in walk(parsed) if d["directive"] == "log_format"]
    assert {f["args"][0] for f in formats} == {"stagegate_api", "stagegate_exposure"}
    for fmt in formats:
        assert fmt["args"][1] == "escape=json"
        body = "".join(fmt["args"][2:])
        for forbidden in ("$request\"", "$request_uri", "$args", "$http_authorization",
                          "$query_string", "$http_cookie", "$arg_"):
            assert forbidden not in body
    api = "".join(next(f for f in formats if f["args"][0] == "stagegate_api")["args"][2:])
    for field in ("$sg_decision", "$sg_deny", "$sg_token_fp", "$sg_sub", "$sg_client_id",
                  "$sg_log_uri"):
        assert field in api
    # the deny reason is captured for the log and never added to a response
    text = render_nginx(settings(), PROFILE, now=NOW)
    assert "auth_request_set $sg_deny $upstream_http_x_stagegate_deny;" in text
    assert not re.search(r"add_header\s+X-Stagegate", text)


def test_credentials_outside_authorization_are_refused_in_the_server_rewrite_phase(tmp_path):
    parsed = parse(render_nginx(settings(), PROFILE, now=NOW), tmp_path)
    tls = [d for d in walk(parsed) if d["directive"] == "server" and "block" in d][1]
    ifs = [d for d in tls["block"] if d["directive"] == "if"]
    assert [d["args"][:2] for d in ifs] == [["$sg_token_in_query"], ["$http_cookie", "~*"],
                                            ["$http_cookie", "~"], ["$sg_token_in_path"]]
    for d in ifs:  # they only refuse
        assert [(x["directive"], x["args"]) for x in d["block"]] == [("return", ["400"])]
    maps = {d["args"][1]: d for d in walk(parsed) if d["directive"] == "map"}
    assert maps["$sg_token_in_query"]["args"][0] == "$args"
    # a cookie never feeds a variable (only the refusing ifs read it)
    assert not [d for d in walk(parsed) if d["directive"] != "if"
                and "$http_cookie" in " ".join(d["args"])]


def test_header_buffers_hold_the_largest_accepted_token(tmp_path):
    parsed = parse(render_nginx(settings(), PROFILE, now=NOW), tmp_path)
    buffers = next(d["args"] for d in walk(parsed)
                   if d["directive"] == "large_client_header_buffers")
    assert buffers == ["4", "16k"]  # 8 KiB token + "Authorization: Bearer "


def test_deprecation_sunset_and_link_headers_then_410(tmp_path):
    text = render_nginx(settings(deprecation=DEPRECATION), PROFILE, now=NOW)
    assert 'add_header Deprecation "@1767225600" always;' in text
    assert 'add_header Sunset "Tue, 01 Jun 2027 00:00:00 GMT" always;' in text
    assert ("add_header Link '<https://example.com/deprecation>; rel=\"deprecation\"; "
            "type=\"text/html\", <https://api.example.com/v2/>; rel=\"successor-version\"' "
            "always;") in text
    assert "return 410" not in text
    gone = render_nginx(settings(deprecation=DEPRECATION), PROFILE,
                        now=datetime(2027, 6, 1, tzinfo=UTC))
    locs = locations(parse(gone, tmp_path))
    assert [(d["directive"], d["args"]) for d in locs["/v1/"]["block"]] == [("return", ["410"])]
    directives = {d["directive"] for d in walk(parse(gone, tmp_path))}
    assert "proxy_pass" not in directives and "auth_request" not in directives


@pytest.mark.parametrize("change", [
    {"server_name": "api.example.com; return 200"},
    {"upstream": "https://backend/path"},
    {"upstream": "ftp://backend"},
    {"validator": "validator"},
    {"api_version": "payments"},
    {"base_paths": ("/v1",)},
    {"base_paths": ("/v1/ { return 200; }",)},
    {"certificate": "relative.pem"},
    {"plaintext_port": 443},
    {"deprecation": Deprecation(datetime(2026, 1, 1, tzinfo=UTC),
                                successor_url="https://x/'; return 200;")},
    {"deprecation": Deprecation(datetime(2026, 1, 1))},
])
def test_settings_refuse_values_unsafe_in_nginx_syntax(change):
    with pytest.raises(SettingsError):
        settings(**change)


def test_tcp_validator_address():
    text = render_nginx(settings(validator="127.0.0.1:8081"), PROFILE, now=NOW)
    assert "proxy_pass http://stagegate_validator/auth;" in text
    assert "server 127.0.0.1:8081;" in text


def test_plain_http_upstream_has_no_upstream_tls():
    text = render_nginx(settings(upstream="http://127.0.0.1:8080"), PROFILE, now=NOW)
    assert "proxy_ssl" not in text and "proxy_pass http://127.0.0.1:8080;" in text


def test_no_plaintext_listener_when_disabled():
    text = render_nginx(settings(plaintext_port=None), PROFILE, now=NOW)
    assert "listen 80" not in text


def test_base_paths_from_spec_servers():
    doc = load_document(b"""
openapi: 3.1.0
info: {title: t, version: '1'}
servers:
  - url: https://api.example.com/v1
  - url: https://{region}.example.com/{base}/
    variables:
      region: {default: eu}
      base: {default: payments/v2}
  - url: /v1/
paths:
  /a:
    servers: [{url: https://other.example.com/ignored}]
    get: {responses: {'200': {description: ok}}}
""")
    assert base_paths_from_spec(SpecIndex(doc)) == ("/v1/", "/payments/v2/")


def test_base_paths_default_to_root():
    assert base_paths_from_servers([]) == ("/",)
    doc = load_document(b'{"swagger": "2.0", "info": {"title": "t", "version": "1"},'
                        b' "host": "api.example.com", "basePath": "/api", "schemes": ["https"],'
                        b' "paths": {}}')
    assert base_paths_from_spec(SpecIndex(doc)) == ("/api/",)


def test_nginx_plus_nested_with_claim_maps(tmp_path):
    text = render_nginx_plus(settings(), PROFILE, leeway=30)
    locs = locations(parse(text, tmp_path))
    body = {d["directive"]: d["args"] for d in locs["/v1/"]["block"]}
    assert body["auth_jwt_type"] == ["nested"]
    assert body["auth_jwt_leeway"] == ["30s"]
    assert body["auth_jwt_require"] == ["$sg_iss_ok", "$sg_aud_ok", "$sg_alg_ok", "$sg_enc_ok",
                                        "error=401"]
    key_files = [d["args"] for d in locs["/v1/"]["block"] if d["directive"] == "auth_jwt_key_file"]
    assert key_files == [["/etc/nginx/stagegate/payments-1.4.0-decryption.jwks"],
                         ["/etc/nginx/stagegate/payments-1.4.0-issuer.jwks"]]
    assert 'proxy_set_header Authorization "";' in text
    maps = {d["args"][0]: d for d in walk(parse(text, tmp_path)) if d["directive"] == "map"}
    assert set(maps) == {"$jwt_claim_iss", "$jwt_claim_aud", "$jwt_header_alg",
                         "$jwt_header_enc"}
    def entries(name: str) -> list[list[str]]:
        return [[d["directive"], *d["args"]] for d in maps[name]["block"]]

    assert entries("$jwt_claim_iss") == [["default", "0"], ["https://as.example", "1"]]
    assert entries("$jwt_header_alg") == [["default", "0"], ["RSA-OAEP-256", "1"]]
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in text and "$arg_" not in text


@pytest.mark.parametrize("alg", ["ECDH-ES", "ECDH-ES+A256KW", "ECDH-ES+A128KW"])
def test_nginx_plus_refuses_ecdh_es(alg):
    profile = TokenProfile(alg=alg, enc="A256GCM", signing_alg="ES256",
                           issuer="https://as.example", audience=("https://api.example",))
    with pytest.raises(CapabilityError, match=r"cannot decrypt ECDH-ES.*no ECDH-ES key"):
        render_nginx_plus(settings(), profile)


def test_nginx_plus_refuses_incomplete_profiles():
    with pytest.raises(CapabilityError, match="no issuer"):
        render_nginx_plus(settings(), TokenProfile(alg="RSA-OAEP-256", enc="A256GCM",
                                                   signing_alg="ES256",
                                                   audience=("https://api.example",)))
    with pytest.raises(SettingsError):
        render_nginx_plus(settings(), PROFILE, leeway=120)

"""Real nginx lets the bad classes through — then Stagegate's finding (issue 11, acceptance 2).

Each test starts Debian's nginx with one fixture of ``tests/unit/gateway/fixtures`` (listen
ports, stub addresses and temp paths rewritten, line numbers unchanged), a recording stub
upstream and a stub validator that DENIES every token (or allows exactly one, where the
attack needs a first good request), shows the attack get through, and then shows
:func:`policies.gateway.check_nginx` reporting the class at the right file:line.  The good
configuration runs too: there the same attacks are refused.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator

import pytest
from nginxkit import (
    GOOD_TOKEN,
    Nginx,
    Stub,
    bundle,
    get,
    handshake,
    line_of,
    nginx_binary,
    tls_context,
    upstream,
    validator,
)

from policies.gateway import check_nginx, failures_of

pytestmark = pytest.mark.nginx

BEARER = {"Authorization": f"Bearer {GOOD_TOKEN}"}
ATTACKER = {"Authorization": "Bearer forged.by.an.attacker"}


@pytest.fixture
def backend() -> Iterator[Stub]:
    stub = upstream()
    yield stub
    stub.stop()


@pytest.fixture
def deny_all() -> Iterator[Stub]:
    stub = validator()
    yield stub
    stub.stop()


@pytest.fixture
def allow_one() -> Iterator[Stub]:
    stub = validator(frozenset({GOOD_TOKEN}))
    yield stub
    stub.stop()


def start(name: str, backend: Stub, check: Stub) -> Nginx:
    nginx_binary()  # fails (never skips) when nginx is missing
    return Nginx(bundle(name), upstream_port=backend.port, validator_port=check.port).start()


def finding_lines(name: str, rule_id: str) -> set[int | None]:
    return {f.line for f in failures_of(check_nginx(bundle(name)), rule_id)}


# ------------------------------------------------------------------------------ good
def test_good_configuration_refuses_what_the_bad_ones_let_through(
        backend: Stub, allow_one: Stub) -> None:
    nginx = start("good", backend, allow_one)
    try:
        tls = tls_context(nginx.cert)
        https = nginx.port(443)
        ok = get(https, "/api/orders", headers=BEARER, tls=tls)
        assert ok.status == 200 and ok.body == b"upstream"
        assert ok.headers["strict-transport-security"] == "max-age=31536000"
        [seen] = backend.seen
        assert seen.header("Authorization") is None  # stripped before the upstream
        assert seen.header("X-Authenticated-Sub") == "alice"
        for attack in (
            get(https, "/api/orders", headers=ATTACKER, tls=tls),
            get(https, "/api/orders", tls=tls),
            get(https, f"/api/orders?access_token={GOOD_TOKEN}", tls=tls),
            get(https, "/api/orders", headers={"Cookie": f"access_token={GOOD_TOKEN}",
                                               **BEARER}, tls=tls),
            get(nginx.port(80), "/api/orders", headers=BEARER),
        ):
            assert attack.status in (400, 401, 403)
            assert "x-stagegate-deny" not in attack.headers
        assert len(backend.seen) == 1
        assert handshake(https, tls_context(nginx.cert, ssl.TLSVersion.TLSv1_1)) is None
        assert GOOD_TOKEN not in nginx.log("api.log", "/api/orders")
    finally:
        nginx.stop()
    assert check_nginx(bundle("good")).passed


# ------------------------------------------------------------------------------ bad classes
def test_location_without_enforcement_reaches_the_upstream(
        backend: Stub, deny_all: Stub) -> None:
    with start("no-enforcement", backend, deny_all) as nginx:
        tls, https = tls_context(nginx.cert), nginx.port(443)
        assert get(https, "/api/orders", headers=ATTACKER, tls=tls).status == 401
        assert backend.seen == []
        for path in ("/api/reports/2026", "/api/export/all"):
            answer = get(https, path, headers=ATTACKER, tls=tls)
            assert answer.status == 200 and answer.body == b"upstream"  # the attack got in
        assert [s.path for s in backend.seen] == ["/api/reports/2026", "/api/export/all"]
    assert finding_lines("no-enforcement", "GW-ENFORCES-TOKEN") == {
        line_of("no-enforcement", "location /api/reports/"),
        line_of("no-enforcement", "auth_request off;")}


def test_return_answers_before_the_access_check(backend: Stub, deny_all: Stub) -> None:
    with start("rewrite-phase", backend, deny_all) as nginx:
        answer = get(nginx.port(443), "/api/status", tls=tls_context(nginx.cert))
        assert answer.status == 200 and b'"orders":"open"' in answer.body  # no token at all
        assert deny_all.seen == []  # the validator was never asked
    assert line_of("rewrite-phase", "return 200") in finding_lines(
        "rewrite-phase", "GW-NO-EARLY-ANSWER")


def test_rewrite_last_moves_the_request_into_an_unprotected_location(
        backend: Stub, deny_all: Stub) -> None:
    with start("rewrite-phase", backend, deny_all) as nginx:
        tls, https = tls_context(nginx.cert), nginx.port(443)
        assert get(https, "/api/orders", headers=ATTACKER, tls=tls).status == 401
        answer = get(https, "/api/v1/orders", headers=ATTACKER, tls=tls)
        assert answer.status == 200 and answer.body == b"upstream"
        assert [s.path for s in backend.seen] == ["/legacy/orders"]
        assert len(deny_all.seen) == 1  # asked for /api/orders only, never for /api/v1/…
    assert line_of("rewrite-phase", "rewrite ^/api/v1/") in finding_lines(
        "rewrite-phase", "GW-NO-EARLY-ANSWER")
    assert finding_lines("rewrite-phase", "GW-ENFORCES-TOKEN") == {
        line_of("rewrite-phase", "location /legacy/")}


def test_token_is_taken_from_the_query_string_and_a_cookie(
        backend: Stub, allow_one: Stub) -> None:
    with start("token-in-url", backend, allow_one) as nginx:
        tls, https = tls_context(nginx.cert), nginx.port(443)
        by_query = get(https, f"/api/orders?access_token={GOOD_TOKEN}", tls=tls)
        by_cookie = get(https, "/api/orders", headers={"Cookie": f"jwt={GOOD_TOKEN}"}, tls=tls)
        assert by_query.status == by_cookie.status == 200  # accepted as credentials
        assert [s.header("Authorization") for s in allow_one.seen] == [
            f"Bearer {GOOD_TOKEN}"] * 2
        assert len(backend.seen) == 2
    assert finding_lines("token-in-url", "GW-NO-TOKEN-IN-URL") == {
        line_of("token-in-url", '"Bearer $arg_access_token"'),
        line_of("token-in-url", "if ($cookie_jwt)"),
        line_of("token-in-url", '"Bearer $cookie_jwt"')}


def test_cached_auth_answer_lets_anyone_in_after_one_good_request(
        backend: Stub, allow_one: Stub) -> None:
    with start("auth-cache", backend, allow_one) as nginx:
        tls, https = tls_context(nginx.cert), nginx.port(443)
        assert get(https, "/api/orders", headers=ATTACKER, tls=tls).status == 401
        assert get(https, "/api/orders", headers=BEARER, tls=tls).status == 200
        stolen = get(https, "/api/orders", headers=ATTACKER, tls=tls)
        anonymous = get(https, "/api/orders", tls=tls)
        assert stolen.status == anonymous.status == 200  # served from the cached allow
        assert len(backend.seen) == 3 and len(allow_one.seen) == 2
    assert finding_lines("auth-cache", "GW-AUTH-NOT-CACHED") == {
        line_of("auth-cache", "proxy_cache_key")}


def test_plaintext_listener_proxies_and_redirects(backend: Stub, allow_one: Stub) -> None:
    with start("plaintext", backend, allow_one) as nginx:
        clear = get(nginx.port(80), "/api/orders", headers=BEARER)
        assert clear.status == 200 and clear.body == b"upstream"  # token travelled in clear
        redirect = get(nginx.port(8080), "/api/orders", headers=BEARER)
        assert redirect.status == 301  # ... after the token already crossed in clear
        assert redirect.headers["location"].startswith("https://")
    assert finding_lines("plaintext", "GW-HTTPS-ONLY") == {
        line_of("plaintext", "listen 80;"),
        line_of("plaintext", "return 301 https://")}


def test_tls_1_1_is_accepted_when_allowed(backend: Stub, deny_all: Stub) -> None:
    """``ssl_protocols TLSv1 TLSv1.1 …`` plus ``ssl_ciphers DEFAULT:@SECLEVEL=0`` (how people
    "fix" old clients): Debian's nginx handshakes TLS 1.1 and TLS 1.0.  The second server,
    with no ``ssl_protocols`` (nginx 1.22's default lists TLSv1/TLSv1.1), still refuses them
    on Debian 12: OpenSSL 3.0 at its default security level will not negotiate below TLS 1.2
    — the finding stands (it depends on the OpenSSL build and system configuration), but
    only the lowered security level is exploitable here."""
    with start("tls-legacy", backend, deny_all) as nginx:
        tls11 = tls_context(nginx.cert, ssl.TLSVersion.TLSv1_1)
        tls10 = tls_context(nginx.cert, ssl.TLSVersion.TLSv1)
        assert handshake(nginx.port(443), tls11) == "TLSv1.1"
        assert handshake(nginx.port(443), tls10) == "TLSv1"
        assert handshake(nginx.port(8443), tls11) is None
    assert finding_lines("tls-legacy", "TRN-TLS-CONFIG") == {
        line_of("tls-legacy", "ssl_protocols TLSv1 TLSv1.1"),
        line_of("tls-legacy", "ssl_ciphers DEFAULT:@SECLEVEL=0"),
        line_of("tls-legacy", "listen 8443 ssl")}


def test_authorization_reaches_the_upstream_when_not_stripped(
        backend: Stub, allow_one: Stub) -> None:
    with start("authorization-forwarded", backend, allow_one) as nginx:
        tls, https = tls_context(nginx.cert), nginx.port(443)
        assert get(https, "/api/orders", headers=BEARER, tls=tls).status == 200
        assert get(https, "/api/legacy/x", headers=BEARER, tls=tls).status == 200
        assert [s.header("Authorization") for s in backend.seen] == [
            f"Bearer {GOOD_TOKEN}"] * 2
    assert finding_lines("authorization-forwarded", "GW-STRIP-AUTHORIZATION") == {
        line_of("authorization-forwarded", "nothing strips Authorization here"),
        line_of("authorization-forwarded", "proxy_set_header Authorization $http_authorization")}


def test_token_is_written_to_the_access_log(backend: Stub, deny_all: Stub) -> None:
    with start("log-token", backend, deny_all) as nginx:
        tls, https = tls_context(nginx.cert), nginx.port(443)
        assert get(https, "/api/orders", headers=BEARER, tls=tls).status == 401
        assert get(https, "/api/orders?access_token=query-secret", tls=tls).status == 400
        log = nginx.log("api.log", GOOD_TOKEN, "query-secret")
        assert GOOD_TOKEN in log and "query-secret" in log  # refused, but on disk
    assert line_of("log-token", "log_format debug") in finding_lines(
        "log-token", "GW-LOG-NO-TOKEN")


def test_deny_reason_reaches_the_client(backend: Stub, deny_all: Stub) -> None:
    with start("deny-reason", backend, deny_all) as nginx:
        answer = get(nginx.port(443), "/api/orders", headers=ATTACKER,
                     tls=tls_context(nginx.cert))
        assert answer.status == 401 and answer.headers["x-debug-deny"] == "TOK-SYNTAX"
    assert finding_lines("deny-reason", "GW-DENY-REASON-HIDDEN") == {
        line_of("deny-reason", "add_header X-Debug-Deny")}


def test_satisfy_any_lets_an_allowed_address_in_without_a_token(
        backend: Stub, deny_all: Stub) -> None:
    with start("satisfy-any", backend, deny_all) as nginx:
        answer = get(nginx.port(443), "/api/orders", tls=tls_context(nginx.cert))
        assert answer.status == 200 and answer.body == b"upstream"  # no token at all
    assert finding_lines("satisfy-any", "GW-ENFORCES-TOKEN") == {
        line_of("satisfy-any", "satisfy any;")}


def test_every_fixture_is_a_configuration_nginx_accepts(backend: Stub, deny_all: Stub) -> None:
    for name in ("good", "no-enforcement", "rewrite-phase", "token-in-url", "auth-cache",
                 "plaintext", "tls-legacy", "authorization-forwarded", "log-token",
                 "deny-reason", "satisfy-any", "bundle"):
        nginx = Nginx(bundle(name), upstream_port=backend.port, validator_port=deny_all.port)
        try:
            assert "syntax is ok" in nginx.test_config()
        finally:
            nginx.stop()

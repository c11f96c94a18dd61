"""``stagegate validator`` served by gunicorn over the database (issue 11 point 1,
acceptance 5): a real nginx asks it through ``auth_request`` with a managed key and the
issuer JWKS from the database; single-use tokens are refused across two validator processes
sharing the database or Redis; no token ever reaches a table or a log.

Each test starts its own processes on loopback ephemeral ports (gunicorn in a subprocess,
Debian's nginx) and stops them by their own pids.
"""

from __future__ import annotations

import http.client
import ssl
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa
from evidencekit import SINGLE_USE_SPEC, SPEC, Issuer
from nginxkit import nginx_binary
from validatorkit import LABEL, Minted, Served, database_text, leaks, make_version, mint, tampered

from lifecycle.core.extensions import db
from lifecycle.gateway.nginx import NginxProcess, StubUpstream, prepare_bundle
from lifecycle.gateway.render import GatewaySettings, render_nginx
from lifecycle.gateway.validator import RedisReplayStore
from lifecycle.gateway.validator_models import DecisionEvent
from policies.tokens import TokenProfile, replay_key

HOST = "api.example.com"


def _request(port: int, path: str, token: str | None) -> tuple[int, dict[str, str]]:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=30)
    headers = {"Host": HOST}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    response.read()
    conn.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}


@pytest.mark.nginx
def test_nginx_asks_the_gunicorn_validator_and_no_token_is_stored_or_logged(
        app, database_url, tmp_path: Path) -> None:
    nginx = nginx_binary()
    issuer = Issuer()
    with app.app_context():
        recipient = make_version(SPEC, issuer)          # RSA-OAEP-256 managed key (3072)
    now = int(datetime.now(UTC).timestamp())
    good = mint(issuer, recipient, sub="alice", client_id="shop-app")
    expired = mint(issuer, recipient, now=now - 7200)
    forged = tampered(mint(issuer, recipient).token)
    served = Served(database_url, app.config["KEY_ENCRYPTION_KEY"], tmp_path / "validator.log",
                    workers=2)
    with served, StubUpstream() as stub:
        settings = GatewaySettings(
            server_name=HOST, upstream="http://127.0.0.1:9000",
            certificate="/etc/ssl/stagegate/api.pem", certificate_key="/etc/ssl/stagegate/api.key",
            validator=f"127.0.0.1:{served.port}", api_version=LABEL, base_paths=("/v1/",))
        profile = TokenProfile(alg="RSA-OAEP-256", enc="A256GCM", signing_alg="ES256")
        conf = render_nginx(settings, profile, now=datetime.now(UTC))
        bundle = prepare_bundle({"nginx.conf": conf.encode()}, entry="nginx.conf",
                                prefix=tmp_path / "nginx", stub_port=stub.port,
                                validator_port=served.port)
        tls = next(lst.port for lst in bundle.listeners if lst.ssl)
        with NginxProcess(bundle, nginx=nginx):
            allowed = [_request(tls, f"/v1/orders/{i}", good.token) for i in range(3)]
            denied = [_request(tls, "/v1/orders/x", t) for t in (expired.token, forged, None)]
        logs = "\n".join(p.read_text(errors="replace")
                         for p in sorted((tmp_path / "nginx" / "logs").glob("*")))
        arrived = stub.requests
    output = served.stop()                                  # workers write their decisions

    assert [status for status, _ in allowed] == [200, 200, 200]
    assert [status for status, _ in denied] == [401, 401, 401]
    assert all('error="invalid_token"' in h["www-authenticate"] for _, h in denied[:2])
    assert not any("x-stagegate-deny" in h for _, h in denied)   # the reason stays inside
    assert len(arrived) == 3 and all(r.path.startswith("/v1/orders/") for r in arrived)
    for request in arrived:                              # identity forwarded, token not
        assert request.header("Authorization") in ([], [""])
        assert request.header("X-Authenticated-Sub") == ["alice"]
        assert request.header("X-Authenticated-Client-Id") == ["shop-app"]
    with app.app_context():
        rows = db.session.execute(sa.select(DecisionEvent).order_by(DecisionEvent.id)
                                  ).scalars().all()
        assert sorted(r.allowed for r in rows) == [False] * 3 + [True] * 3
        allow = next(r for r in rows if r.allowed)
        assert (allow.version, allow.sub, allow.client_id) == (LABEL, "alice", "shop-app")
        assert allow.kid == recipient["keys"][0]["kid"]
        assert allow.jti_hash == replay_key(good.claims["iss"], good.claims["jti"])
        assert allow.client_address == "127.0.0.1"
        assert {r.rule_id for r in rows if not r.allowed} >= {"GW-NO-TOKEN"}
        everything = database_text(db.engine)
    assert "Booting worker" in output                    # the captured log is gunicorn's
    for haystack in (everything, output, logs):
        assert leaks(haystack, [good, expired]) == []
        assert forged not in haystack
        assert all(part not in haystack for part in forged.split(".") if len(part) >= 16
                   and part not in good.token)


def _pair(app, database_url: str, tmp_path: Path, *args: str,
          env: dict[str, str] | None = None) -> tuple[Served, Served]:
    kek = app.config["KEY_ENCRYPTION_KEY"]
    return (Served(database_url, kek, tmp_path / "a.log", *args, env=env),
            Served(database_url, kek, tmp_path / "b.log", *args, env=env))


def _replay_across(first: Served, second: Served, tokens: list[Minted]) -> None:
    one, two = tokens
    with first, second:
        assert first.ask(one.token).status == 204
        answer = second.ask(one.token)
        assert (answer.status, answer.header("X-Stagegate-Deny")) == (401, "CLM-JTI")
        assert first.ask(one.token).header("X-Stagegate-Deny") == "CLM-JTI"   # cached too
        assert second.ask(two.token).status == 204
        assert first.ask(two.token).header("X-Stagegate-Deny") == "CLM-JTI"


def test_single_use_tokens_are_refused_across_two_validator_processes_sharing_the_database(
        app, database_url, tmp_path: Path) -> None:
    issuer = Issuer()
    with app.app_context():
        recipient = make_version(SINGLE_USE_SPEC, issuer)       # `single-use: true`
    tokens = [mint(issuer, recipient), mint(issuer, recipient)]
    first, second = _pair(app, database_url, tmp_path)
    _replay_across(first, second, tokens)
    with app.app_context():
        marks = db.session.execute(sa.text("SELECT key FROM gateway_replay")).scalars().all()
    assert sorted(marks) == sorted(replay_key(t.claims["iss"], t.claims["jti"]) for t in tokens)


def test_single_use_tokens_are_refused_across_two_validator_processes_sharing_redis(
        app, database_url, tmp_path: Path) -> None:
    issuer = Issuer()
    with app.app_context():
        recipient = make_version(SINGLE_USE_SPEC, issuer)       # `single-use: true`
    tokens = [mint(issuer, recipient), mint(issuer, recipient)]
    client = redis.Redis(host="127.0.0.1", port=6379, socket_timeout=5)
    client.ping()
    stored = [RedisReplayStore(client)._prefix + replay_key(t.claims["iss"], t.claims["jti"])
              for t in tokens]
    first, second = _pair(app, database_url, tmp_path,
                          env={"VALIDATOR_REPLAY_URI": "redis://127.0.0.1:6379/0"})
    try:
        _replay_across(first, second, tokens)
        assert all(client.exists(key) for key in stored)
        with app.app_context():                          # nothing went to the database
            count = db.session.execute(sa.text("SELECT count(*) FROM gateway_replay")).scalar()
        assert count == 0
    finally:
        client.delete(*stored)
        client.close()

"""ProofKeys and the attack matrix; every case that is a header or token matter is sent to
the validator WSGI app directly (the proof with a real nginx is ``proof.py``'s)."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from gatewaykit import VERSION, Clock, Setup, call, environ, make_profile

from lifecycle.gateway.attacks import (
    OVERSIZED_HEADER_BYTES,
    AttackCase,
    ProofKeys,
    build_attack_matrix,
    encryption_key_for,
    signing_key_for,
)
from lifecycle.gateway.validator import ListSink, MemoryReplayStore, make_validator_app
from policies.tokens import TokenLimits, TokenProfile

REQUIRED = {
    "good-token", "expired", "not-yet-valid", "wrong-issuer", "wrong-audience",
    "signed-only-jws", "wrong-alg", "wrong-enc", "zip", "rsa1_5", "none-inside",
    "hs256-inside", "kid-traversal", "jku-header", "x5u-header", "jwk-header", "tampered-tag",
    "oversized-token", "oversized-header", "query-token", "cookie-token", "two-authorization",
    "lowercase-scheme", "plain-http", "tls-1.1", "missing-token",
}


def _keys_of(setup: Setup) -> tuple[dict[str, Any], dict[str, Any]]:
    return (json.loads(setup.keys.issuer_signing.export()),
            json.loads(setup.keys.encryption.export()))


def test_proof_keys_for_ecdh_es256(ec: Setup) -> None:
    sig, enc = _keys_of(ec)
    assert (sig["kty"], sig["crv"], sig["use"], sig["alg"]) == ("EC", "P-256", "sig", "ES256")
    assert (enc["kty"], enc["crv"], enc["use"], enc["alg"]) == ("EC", "P-256", "enc",
                                                               "ECDH-ES+A256KW")
    assert "d" in sig and "d" in enc and sig["kid"] != enc["kid"]


def test_proof_keys_for_rsa_oaep_ps256(rsa: Setup) -> None:
    sig, enc = _keys_of(rsa)
    assert (sig["kty"], sig["alg"], enc["kty"], enc["alg"]) == ("RSA", "PS256", "RSA",
                                                               "RSA-OAEP-256")
    for key in (rsa.keys.issuer_signing, rsa.keys.encryption):
        assert key.get_op_key("sign" if key["use"] == "sig" else "decrypt").key_size == 3072


def test_trust_holds_the_private_encryption_key_and_the_public_issuer_key(ec: Setup) -> None:
    single = replace(ec.profile, single_use=True)
    trust = ec.keys.trust(VERSION, single)
    assert trust.version == VERSION and trust.single_use and trust.profile == single
    assert not ec.keys.trust(VERSION, ec.profile).single_use     # as the profile declares
    [dec] = trust.decryption_keys["keys"]
    [iss] = trust.issuer_jwks["keys"]
    assert dec.has_private and not iss.has_private
    assert iss["kid"] == ec.keys.issuer_signing["kid"]


@pytest.mark.parametrize("alg, kty", [("ES384", "EC"), ("ES512", "EC"), ("Ed25519", "OKP")])
def test_signing_keys_per_alg(alg: str, kty: str) -> None:
    assert signing_key_for(alg)["kty"] == kty


@pytest.mark.parametrize("alg", ["HS256", "none", "RSA1_5x"])
def test_no_key_for_symmetric_or_unknown_signing(alg: str) -> None:
    with pytest.raises(ValueError):
        signing_key_for(alg)


def test_encryption_keys() -> None:
    assert encryption_key_for("ECDH-ES")["crv"] == "P-256"
    assert encryption_key_for("A256KW")["kty"] == "oct"
    for alg in ("RSA1_5", "PBES2-HS256+A128KW", "nope"):
        with pytest.raises(ValueError):
            encryption_key_for(alg)
    with pytest.raises(ValueError):
        ProofKeys.generate(TokenProfile())


def _cases(setup: Setup, single_use: bool) -> list[AttackCase]:
    return build_attack_matrix(replace(setup.profile, single_use=single_use), setup.keys,
                               now=setup.now)


@pytest.mark.parametrize("single_use", [False, True])
def test_matrix_shape(ec: Setup, single_use: bool) -> None:
    cases = _cases(ec, single_use)
    ids = [c.id for c in cases]
    assert len(cases) >= 25 and len(set(ids)) == len(ids)
    assert set(ids) >= REQUIRED
    assert cases[0].id == "good-token" and cases[0].expect == "allow"
    # a second use from another client: refused exactly when the profile demands single use
    replay = next(c for c in cases if c.id == "replay-second-client")
    assert replay.second_client and replay.rule == "CLM-JTI"
    assert replay.expect == ("deny" if single_use else "allow")
    assert all(c.expect == "deny" for c in cases[1:] if c is not replay)
    by_id = {c.id: c for c in cases}
    assert by_id["plain-http"].scheme == "http"
    assert by_id["tls-1.1"].tls_version == "TLSv1.1"
    assert [k for k, _ in by_id["two-authorization"].headers] == ["Authorization"] * 2
    assert by_id["query-token"].query.startswith("access_token=ey")
    assert by_id["cookie-token"].headers[0][0] == "Cookie"
    assert by_id["missing-token"].headers == ()
    assert by_id["lowercase-scheme"].headers[0][1].startswith("bearer ")
    size = len(by_id["oversized-token"].headers[0][1])
    assert TokenLimits().max_token_bytes < size < 16 * 1024
    assert len(by_id["oversized-header"].headers[0][1]) > OVERSIZED_HEADER_BYTES * 0.9
    # every token is fresh: no two cases share one (a single-use profile must not mix them)
    tokens = [value for c in cases for _, value in c.headers if c.id != "two-authorization"]
    assert len(set(tokens)) == len(tokens)


def _send(app: Any, case: AttackCase) -> Any:
    auth = [value for key, value in case.headers if key == "Authorization"]
    cookie = next((value for key, value in case.headers if key == "Cookie"), None)
    uri = "/api/payments" + (f"?{case.query}" if case.query else "")
    # a WSGI server joins two header lines with ","
    return call(app, environ(",".join(auth) or None, cookie=cookie, uri=uri))


@pytest.mark.parametrize("setup_name", ["ec", "rsa"])
def test_every_case_against_the_validator(setup_name: str,
                                          request: pytest.FixtureRequest) -> None:
    setup: Setup = request.getfixturevalue(setup_name)
    sink = ListSink()
    clock = Clock(setup.now)
    app = make_validator_app(setup.resolver(single_use=True), clock=clock,
                             replay=MemoryReplayStore(clock.seconds), sink=sink)
    for case in _cases(setup, True):
        answer = _send(app, case)
        if case.id == "good-token":
            assert answer.status == 204, case.id
            assert answer.header("X-Stagegate-Sub") == "proof-user"
        elif case.second_client:
            assert answer.status == 204, case.id
            again = _send(app, case)
            assert (again.status, again.header("X-Stagegate-Deny")) == (401, case.rule)
            assert case.expect == "deny"
        elif case.validator_rule is None:
            # nginx alone must refuse these (plain HTTP, TLS 1.1); the token itself is good
            assert case.scheme == "http" or case.tls_version is not None, case.id
            assert answer.status == 204, case.id
        else:
            assert answer.status == 401, case.id
            assert answer.header("X-Stagegate-Deny") == case.validator_rule, case.id
            assert str(answer.header("WWW-Authenticate")).startswith('Bearer realm="stagegate"')
    assert all(d.rule_id is None or d.allowed is False for d in sink.decisions)


def test_matrix_for_direct_ecdh(ec: Setup) -> None:
    profile = make_profile("ECDH-ES", "ES256")
    keys = ProofKeys.generate(profile)
    cases = build_attack_matrix(profile, keys, now=ec.now)
    clock = Clock(ec.now)
    app = make_validator_app(lambda version: keys.trust(version, profile), clock=clock,
                             replay=MemoryReplayStore(), sink=ListSink())
    for case in cases:
        if case.validator_rule is not None:
            answer = _send(app, case)
            assert answer.header("X-Stagegate-Deny") == case.validator_rule, case.id
    assert _send(app, cases[0]).status == 204


def test_a_second_client_may_reuse_a_token_when_the_profile_does_not_demand_single_use(
        ec: Setup) -> None:
    clock = Clock(ec.now)
    store = MemoryReplayStore(clock.seconds)
    app = make_validator_app(ec.resolver(single_use=False), clock=clock, replay=store,
                             sink=ListSink())
    (replay,) = [c for c in _cases(ec, False) if c.id == "replay-second-client"]
    assert replay.expect == "allow"
    assert [_send(app, replay).status for _ in range(2)] == [204, 204]
    assert store._expiry == {}                     # no replay state for a reusable token

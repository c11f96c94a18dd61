"""The four good token kinds of jwt-policy.md §3 pass every token rule."""

from __future__ import annotations

import hashlib
import json

import pytest
from jwcrypto import jwk

from policies.findings import Status
from policies.token_rules import TOKEN_RULE_IDS
from policies.tokens import MemoryReplayCache
from policies.tokens.claims import REDACTED

GOOD = [
    pytest.param("rsa", "ES256", id="RSA-OAEP-256+A256GCM/ES256"),
    pytest.param("ecdh-kw", "ES256", id="ECDH-ES+A256KW+A256GCM/ES256"),
    pytest.param("ecdh-direct", "ES256", id="ECDH-ES+A256GCM/ES256"),
    pytest.param("rsa", "PS256", id="RSA-OAEP-256+A256GCM/PS256"),
]


@pytest.mark.parametrize(("mode", "alg"), GOOD)
def test_good_token_passes_every_rule(kit, mode, alg):
    token = kit.nested(mode, alg)
    analysis = kit.check(token, mode, alg, replay_cache=MemoryReplayCache())

    assert analysis.passed, [f for f in analysis.findings if f.status is not Status.PASS]
    assert analysis.not_evaluated == ()
    by_rule = {f.rule_id: f for f in analysis.findings}
    assert set(TOKEN_RULE_IDS) <= set(by_rule)
    for rule_id in TOKEN_RULE_IDS:
        expected = (Status.NOT_APPLICABLE,) if rule_id == "CLM-SENDER-CONSTRAINED" or (
            rule_id == "JWE-EPK-VALID" and mode == "rsa") else (Status.PASS,)
        assert by_rule[rule_id].status in expected, by_rule[rule_id]
    assert analysis.outer_header["alg"] == {"rsa": "RSA-OAEP-256", "ecdh-kw": "ECDH-ES+A256KW",
                                            "ecdh-direct": "ECDH-ES"}[mode]
    assert analysis.inner_header["alg"] == alg


def test_good_token_under_50ms(kit):
    token = kit.nested("ecdh-kw")
    analysis, seconds = kit.timed(lambda: kit.check(token, "ecdh-kw"))
    assert analysis.passed
    assert seconds < 0.05


def test_analysis_keeps_no_identifying_values(kit):
    token = kit.nested("rsa", claims={"nbf": kit.now - 5})
    analysis = kit.check(token)
    stored = json.dumps(analysis.to_dict())

    assert analysis.fingerprint == hashlib.sha256(token.encode()).hexdigest()
    assert analysis.lifetime == 300
    claims = analysis.claims
    for name in ("sub", "client_id", "email", "jti"):
        assert claims[name] == REDACTED
    assert claims["iss"] == "https://as.example"
    assert claims["scope"] == "payments:read"
    assert claims["nbf"] == kit.now - 5
    for secret in ("user-4711", "client-9", "alice@example.com", token,
                   token.split(".")[3]):
        assert secret not in stored


def test_bytes_token_is_accepted(kit):
    assert kit.check(kit.nested("rsa").encode("ascii")).passed


def test_sender_constrained_profile_needs_cnf(kit):
    profile = kit.profile("rsa", **{"sender-constrained": True})
    bare = kit.check(kit.nested("rsa"), profile=profile)
    bound = kit.check(kit.nested("rsa", claims={"cnf": {"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN"
                                                        "0d2HglBV3uiguA4I"}}), profile=profile)
    assert "CLM-SENDER-CONSTRAINED" in kit.failing(bare)
    assert bound.passed


def test_rsa_oaep_sha1_is_allowed_with_a_low_warning(kit):
    legacy = jwk.JWK.generate(kty="RSA", size=3072, use="enc", alg="RSA-OAEP", kid="legacy-1")
    keys = jwk.JWKSet()
    keys.add(legacy)
    jws = kit.sign(kit.inner_header(), kit.claims())
    token = kit.encrypt(jws, key=jwk.JWK.from_json(legacy.export_public()), alg="RSA-OAEP",
                        kid="legacy-1")
    profile = kit.profile("rsa", alg="RSA-OAEP")
    analysis = kit.check(token, decryption_keys=keys, profile=profile)
    warning = [f for f in analysis.findings if f.rule_id == "JWE-ALG-ALLOWED"]
    assert [f.severity.value for f in warning] == ["low"]
    assert analysis.passed  # low findings are advisory


def test_x25519_key_agreement_passes(kit):
    """The OKP branch of the epk check: an X25519 recipient key."""
    okp = jwk.JWK.generate(kty="OKP", crv="X25519", use="enc", alg="ECDH-ES+A256KW", kid="x1")
    keys = jwk.JWKSet()
    keys.add(okp)
    jws = kit.sign(kit.inner_header(), kit.claims())
    token = kit.encrypt(jws, "ecdh-kw", key=jwk.JWK.from_json(okp.export_public()), kid="x1")
    analysis = kit.check(token, "ecdh-kw", decryption_keys=keys)
    assert analysis.passed, analysis.failing()
    assert analysis.outer_header["epk"]["crv"] == "X25519"

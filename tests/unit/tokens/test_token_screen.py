"""Screening, profile parsing, replay cache and the never-raise contract of check_token."""

from __future__ import annotations

import json

import pytest
from jwcrypto import jwk
from tokenkit import DROP, b64json

from policies.findings import Status
from policies.rules import get_rule
from policies.token_rules import KEY_RULE_IDS, TOKEN_RULE_IDS
from policies.tokens import MemoryReplayCache, TokenProfile, check_token, replay_key
from policies.tokens.screen import Malformed, decode_segment, parse_object


def test_every_token_and_key_rule_is_registered():
    for rule_id in TOKEN_RULE_IDS + KEY_RULE_IDS:
        rule = get_rule(rule_id)
        assert rule.sources and rule.description and rule.remediation


@pytest.mark.parametrize("segment", ["eyJ=", "ab+c", "a b", "A", "AB", "AC"])
def test_segment_decoding_is_strict(segment):
    # "AB" and "AC" have non-zero trailing bits: not the canonical encoding of any bytes
    with pytest.raises(Malformed):
        decode_segment(segment, "x")


def test_segment_decoding_accepts_canonical_base64url():
    assert decode_segment("AA", "x") == b"\x00"
    assert decode_segment("_-8", "x") == b"\xff\xef"


@pytest.mark.parametrize(("raw", "problem"), [
    (b'{"a":1,"a":2}', "duplicate"),
    (b"[1]", "list"),
    (b'{"a":NaN}', "not JSON"),
    (b"\xff", "UTF-8"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
])
def test_json_objects_are_strict(raw, problem):
    with pytest.raises(Malformed, match=problem):
        parse_object(raw, "header")


@pytest.mark.parametrize("token", [None, 42, ["a.b.c.d.e"], {"alg": "none"}, "", "a.b.c.d.e.f",
                                   "a", "é.b.c.d.e", b"\xff.b.c.d.e"])
def test_odd_inputs_are_findings_not_exceptions(kit, token):
    analysis = kit.check(token)
    assert not analysis.passed
    assert {"TOK-SYNTAX", "TOK-SIZE-LIMIT"} & kit.failing(analysis)
    assert len(analysis.fingerprint) == 64


@pytest.mark.parametrize(("outer", "rule_id"), [
    ({"alg": ["RSA-OAEP-256"]}, "JWE-ALG-ALLOWED"),
    ({"enc": {"v": "A256GCM"}}, "JWE-ENC-ALLOWED"),
    ({"kid": 7}, "HDR-KID-SAFE"),
    ({"kid": DROP}, "HDR-KID-SAFE"),
    ({"enc": "A128CBC-HS256"}, "JWE-ENC-ALLOWED"),  # allowed, but not the profile's enc
    ({"alg": "ECDH-ES+A256KW"}, "JWE-ALG-ALLOWED"),  # allowed, but not the profile's alg
    ({"b64": False}, "HDR-CRIT"),
    ({"jwk": {"kty": "EC"}}, "HDR-NO-KEY-REFS"),
    ({"x5c": ["MIIB"]}, "HDR-NO-KEY-REFS"),
])
def test_outer_header_screen(kit, outer, rule_id):
    segments = kit.nested().split(".")
    header = json.loads(_unb64(segments[0]))
    for name, value in outer.items():
        if value is DROP:
            header.pop(name)
        else:
            header[name] = value
    segments[0] = b64json(header)
    analysis = kit.check(".".join(segments))
    assert rule_id in kit.failing(analysis)
    assert "JWE-KEY-BOUND" in analysis.not_evaluated


def _unb64(segment: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def test_missing_cty_is_reported_but_the_rest_still_runs(kit):
    analysis = kit.check(kit.nested(outer={"cty": DROP}))
    assert kit.failing(analysis) == {"JWE-CTY-JWT"}
    assert analysis.not_evaluated == ()
    assert not analysis.passed


def test_inner_signature_alg_must_match_profile(kit):
    analysis = kit.check(kit.nested("rsa", "PS256"), signing_alg="ES256")
    assert "JWS-ALG-ALLOWED" in kit.failing(analysis)


def test_key_alg_binding(kit):
    """jwcrypto would decrypt an RSA-OAEP token with an RSA-OAEP-256 key; we refuse."""
    jws = kit.sign(kit.inner_header(), kit.claims())
    token = kit.encrypt(jws, alg="RSA-OAEP")
    analysis = kit.check(token, profile=kit.profile("rsa", alg="RSA-OAEP"))
    failing = [f for f in analysis.findings if f.rule_id == "JWE-KEY-BOUND" and f.status.blocks]
    assert failing and "RSA-OAEP-256" in failing[0].message


def test_small_rsa_decryption_key_is_refused(kit):
    weak = jwk.JWK.generate(kty="RSA", size=1024, use="enc", alg="RSA-OAEP-256", kid="weak")
    keys = jwk.JWKSet()
    keys.add(weak)
    token = kit.encrypt(kit.sign(kit.inner_header(), kit.claims()),
                        key=jwk.JWK.from_json(weak.export_public()), kid="weak")
    analysis = kit.check(token, decryption_keys=keys)
    sizes = [f for f in analysis.findings if f.rule_id == "KEY-RSA-SIZE"]
    assert [f.severity.value for f in sizes] == ["critical"]
    assert "TOK-NESTED-JWE" in analysis.not_evaluated  # never decrypted with the weak key


def test_signing_key_without_alg_is_refused(kit):
    bare = kit.keys["ec_sig"].export_public(as_dict=True)
    bare.pop("alg")
    issuer = jwk.JWKSet()
    issuer.add(jwk.JWK(**bare))
    analysis = kit.check(kit.nested(), issuer_jwks=issuer)
    assert "JWS-SIG-ISSUER-KEY" in kit.failing(analysis)


def test_signing_key_used_for_encryption_is_refused(kit):
    """A key with use=enc in the issuer set cannot verify tokens."""
    enc_public = kit.keys["ec_kw_enc"].export_public(as_dict=True)
    enc_public["kid"] = kit.keys["ec_sig"]["kid"]
    issuer = jwk.JWKSet()
    issuer.add(jwk.JWK(**enc_public))
    analysis = kit.check(kit.nested(), issuer_jwks=issuer)
    assert "JWS-SIG-ISSUER-KEY" in kit.failing(analysis)


def test_duplicate_kid_in_decryption_set_is_refused(kit):
    keys = kit.decryption_set()
    twin = jwk.JWK.generate(kty="RSA", size=2048, use="enc", alg="RSA-OAEP-256",
                            kid=kit.keys["rsa_enc"]["kid"])
    keys.add(twin)
    analysis = kit.check(kit.nested(), decryption_keys=keys)
    assert "JWE-KEY-BOUND" in kit.failing(analysis)


def test_broken_key_source_is_an_error_finding(kit):
    analysis = kit.check(kit.nested(), decryption_keys=object())
    errors = [f for f in analysis.findings if f.status is Status.ERROR]
    assert [f.rule_id for f in errors] == ["JWE-KEY-BOUND"]
    assert not analysis.passed


def test_leeway_is_capped_at_60_seconds(kit):
    token = kit.nested(claims={"iat": kit.now - 900, "exp": kit.now - 120})
    assert "CLM-EXP" in kit.failing(kit.check(token, leeway=3600))
    assert not kit.failing(kit.check(kit.nested(claims={"exp": kit.now - 30}), leeway=60)) \
        - {"CLM-LIFETIME-MAX"}


def test_profile_without_issuer_or_audience_is_missing_evidence(kit):
    profile = TokenProfile.from_extension({"alg": "RSA-OAEP-256", "enc": "A256GCM",
                                           "signing-alg": "ES256"})
    analysis = kit.check(kit.nested(), profile=profile)
    missing = {f.rule_id for f in analysis.findings if f.status is Status.MISSING_EVIDENCE}
    assert missing == {"CLM-ISS", "CLM-AUD"}
    assert not analysis.passed


def test_profile_parsing_is_lenient():
    profile = TokenProfile.from_extension({"alg": 5, "audience": ["https://a", 7, ""],
                                           "max-lifetime": True, "issuer": "https://as"})
    assert profile.alg is None
    assert profile.audience == ("https://a",)
    assert profile.effective_max_lifetime == 3600
    assert TokenProfile.from_extension(None) == TokenProfile()
    assert TokenProfile.from_extension({"max-lifetime": 7200}).effective_max_lifetime == 3600


def test_audience_list_claim(kit):
    token = kit.nested(claims={"aud": ["https://other.example", "https://api.example/payments"]})
    assert kit.check(token).passed
    assert "CLM-AUD" in kit.failing(kit.check(kit.nested(claims={"aud": [1, 2]})))


def test_replay_cache_first_use_then_replay(kit):
    cache = MemoryReplayCache()
    token = kit.nested()
    assert kit.check(token, replay_cache=cache).passed
    second = kit.check(token, replay_cache=cache)
    assert kit.failing(second) == {"CLM-JTI"}


def test_rejected_token_does_not_consume_its_jti(kit):
    cache = MemoryReplayCache()
    kit.check(kit.nested(claims={"aud": "https://elsewhere.example", "jti": "same"}),
              replay_cache=cache)
    assert len(cache) == 0


def test_memory_cache_is_bounded_and_forgets_expired_ids():
    cache = MemoryReplayCache(max_entries=2)
    assert cache.check_and_store(replay_key("i", "a"), expires_at=10, now=0)
    assert cache.check_and_store(replay_key("i", "b"), expires_at=20, now=0)
    assert cache.check_and_store(replay_key("i", "c"), expires_at=30, now=15)  # a expired
    assert len(cache) == 2
    assert not cache.check_and_store(replay_key("i", "c"), expires_at=30, now=16)
    assert cache.check_and_store(replay_key("i", "a"), expires_at=40, now=16)  # forgotten
    assert replay_key("i", "a") != replay_key("j", "a")


def test_token_of_only_base64url_chars_but_inner_garbage(kit):
    """A JWE whose plaintext is compact-looking but not a JWS."""
    analysis = kit.check(kit.encrypt("abc.def"))
    assert "TOK-NESTED-JWE" in kit.failing(analysis)
    nested_jwe = kit.check(kit.encrypt(kit.nested()))
    assert "TOK-NESTED-JWE" in kit.failing(nested_jwe)


def test_claims_that_are_not_an_object(kit):
    jws = kit.sign(kit.inner_header(), "[1,2]")
    assert "TOK-SYNTAX" in kit.failing(kit.check(kit.encrypt(jws)))


def test_check_token_signature_is_keyword_only(kit):
    with pytest.raises(TypeError):
        check_token(kit.nested(), kit.decryption_set())  # type: ignore[misc]

"""Symmetric (``oct``) decryption keys: accepted for A*KW / dir, judged precisely (issue 10)."""

from __future__ import annotations

import json

import pytest
from jwcrypto import jwe, jwk
from tokenkit import AUDIENCE, ISSUER

from policies.findings import Status
from policies.tokens import KeyFileError, TokenProfile, has_secret, load_decryption_keys


def oct_key(bits: int = 256, alg: str = "A256KW", kid: str = "oct-1") -> jwk.JWK:
    return jwk.JWK.generate(kty="oct", size=bits, use="enc", alg=alg, kid=kid)


def kw_token(kit, key: jwk.JWK, alg: str = "A256KW") -> str:
    jws = kit.sign(kit.inner_header("ES256"), kit.claims())
    header = {"alg": alg, "enc": "A256GCM", "cty": "JWT", "kid": key["kid"]}
    token = jwe.JWE(jws.encode(), json.dumps(header), algs=[alg, "A256GCM"])
    token.add_recipient(key)
    return token.serialize(compact=True)


def profile(alg: str = "A256KW") -> TokenProfile:
    return TokenProfile.from_extension({"alg": alg, "enc": "A256GCM", "signing-alg": "ES256",
                                        "issuer": ISSUER, "audience": AUDIENCE,
                                        "max-lifetime": 900})


def by_rule(analysis, rule_id):
    return [f for f in analysis.findings if f.rule_id == rule_id]


def test_oct_key_decrypts_an_a256kw_token(kit):
    key = oct_key()
    analysis = kit.check(kw_token(kit, key), decryption_keys=[key], profile=profile())
    assert [f.status for f in by_rule(analysis, "JWE-KEY-BOUND")] == [Status.PASS]
    assert analysis.not_evaluated == ()
    [alg] = by_rule(analysis, "JWE-ALG-ALLOWED")
    assert alg.status is Status.FAIL and alg.severity.value == "medium"
    assert "needs a secret shared between issuer and gateway" in alg.message
    assert all(f.status is not Status.FAIL or f.rule_id == "JWE-ALG-ALLOWED"
               for f in analysis.findings)


def test_oct_key_of_the_wrong_size_is_named(kit):
    key = oct_key(bits=128, alg="A256KW", kid="short")
    token = kw_token(kit, oct_key(kid="short"))
    analysis = kit.check(token, decryption_keys=[key], profile=profile())
    [bound] = by_rule(analysis, "JWE-KEY-BOUND")
    assert bound.status is Status.FAIL
    assert bound.message == ("the decryption key: the `oct` key has 128 bits, but `A256KW` "
                             "needs exactly 256 (RFC 7518 §4.4).")


def test_has_secret_counts_oct_keys(kit):
    assert has_secret(oct_key()) and not oct_key().has_private  # jwcrypto's view differs
    assert has_secret(kit.keys["rsa_enc"]) and not has_secret(kit.public("rsa_enc"))


def test_load_decryption_keys_accepts_an_oct_jwk():
    key = oct_key()
    raw = key.export(as_dict=False).encode()
    [loaded] = load_decryption_keys(raw, alg="A256KW")
    assert loaded["kty"] == "oct" and loaded["kid"] == "oct-1" and loaded["use"] == "enc"
    bare = json.dumps({"kty": "oct", "k": key["k"]}).encode()
    [loaded] = load_decryption_keys(bare, alg="A256KW")
    assert loaded["alg"] == "A256KW" and loaded["kid"] == loaded.thumbprint()


def test_load_decryption_keys_reads_jwks_and_pem(kit):
    jwks = json.dumps({"keys": [kit.keys["rsa_enc"].export_private(as_dict=True)]}).encode()
    assert [k["kid"] for k in load_decryption_keys(jwks)] == [kit.keys["rsa_enc"]["kid"]]
    pem = kit.keys["ec_kw_enc"].export_to_pem(private_key=True, password=None)
    [key] = load_decryption_keys(pem, alg="ECDH-ES+A256KW", kid="pem-1")
    assert (key["kid"], key["alg"], key["use"]) == ("pem-1", "ECDH-ES+A256KW", "enc")


@pytest.mark.parametrize(("raw", "text"), [
    (b"junk", "not a private JWK, JWKS or PEM key"),
    (b"{\"kty\": \"oct\"}", "not a private JWK, JWKS or PEM key"),
    (b"x" * (256 * 1024 + 1), "larger than 256 KiB"),
])
def test_load_decryption_keys_refuses_junk(raw, text):
    with pytest.raises(KeyFileError, match=text):
        load_decryption_keys(raw)


def test_load_decryption_keys_says_public_only(kit):
    with pytest.raises(KeyFileError) as caught:
        load_decryption_keys(kit.keys["rsa_enc"].export_public().encode())
    assert str(caught.value) == ("holds only public keys (RSA without a private `d`, and no "
                                 "symmetric `oct` key with `k`): the API's private "
                                 "decryption key is needed")

"""The JWE/JWS objects of :mod:`policies.tokens.nested` share only jwcrypto's read-only
header registry (the speed fix of issue 10), never per-token state."""

from __future__ import annotations

import base64

import pytest
from jwcrypto import jwe, jwk, jws

from policies.tokens import nested


def test_fresh_objects_look_like_new_ones():
    for template, cls in ((nested._JWE_TEMPLATE, jwe.JWE), (nested._JWS_TEMPLATE, jws.JWS)):
        made, plain = nested._fresh(template), cls()
        assert type(made) is cls and set(vars(made)) == set(vars(plain))
        assert made.header_registry is template.header_registry
        assert made.objects is not template.objects and made.objects == plain.objects


def test_analyses_do_not_leak_state_into_each_other(kit):
    first, second = kit.nested("ecdh-kw"), kit.nested("rsa", "PS256")
    assert kit.check(first, "ecdh-kw").passed
    assert kit.check(second, "rsa", "PS256").passed
    assert nested._JWE_TEMPLATE.objects == {} and nested._JWS_TEMPLATE.objects == {"payload": None}
    assert nested._JWE_TEMPLATE.plaintext is None


# ---------------------------------------------------------------------- the direct path
def _jwcrypto_decrypt(token: str, key, alg: str, enc: str) -> bytes:
    outer = jwe.JWE()
    outer.allowed_algs = [alg, enc]
    outer.deserialize(token, key=key)
    return outer.payload


def _tamper(token: str, index: int) -> str:
    parts = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(parts[index] + "=" * (-len(parts[index]) % 4)))
    raw[0] ^= 1
    parts[index] = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    return ".".join(parts)


@pytest.mark.parametrize(("alg", "enc"), [("RSA-OAEP-256", "A256GCM"),
                                          ("RSA-OAEP", "A128GCM"),
                                          ("RSA-OAEP-256", "A192GCM")])
def test_direct_rsa_oaep_gcm_decrypts_what_jwcrypto_decrypts(kit, alg: str, enc: str) -> None:
    key = kit.keys["rsa_enc"]
    token = kit.encrypt("a.b.c", key=kit.public("rsa_enc"), alg=alg, enc=enc)
    assert nested.decrypt(token, key, alg, enc, 1024) == _jwcrypto_decrypt(token, key, alg,
                                                                           enc) == b"a.b.c"
    for index in (0, 1, 2, 3, 4):          # header (the AAD), CEK, IV, ciphertext, tag
        with pytest.raises(nested.CryptoFailure):
            nested.decrypt(_tamper(token, index), key, alg, enc, 1024)
    with pytest.raises(nested.CryptoFailure):  # another enc: the CEK has the wrong size
        nested.decrypt(token, key, alg, "A256GCM" if enc != "A256GCM" else "A128GCM", 1024)
    with pytest.raises(nested.CryptoFailure):  # another OAEP hash
        nested.decrypt(token, key, "RSA-OAEP" if alg != "RSA-OAEP" else "RSA-OAEP-256", enc,
                       1024)
    with pytest.raises(nested.CryptoFailure):  # jwcrypto has no RSA-OAEP-384: still refused
        nested.decrypt(token, key, "RSA-OAEP-384", enc, 1024)
    with pytest.raises(nested.CryptoFailure):
        nested.decrypt(token, key, alg, enc, 3)  # over the plaintext cap
    with pytest.raises(nested.CryptoFailure):  # a public key cannot decrypt
        nested.decrypt(token, kit.public("rsa_enc"), alg, enc, 1024)


@pytest.mark.parametrize("alg", ["ES256", "PS256", "RS256", "PS384"])
def test_direct_signature_checks(kit, alg: str) -> None:
    signer = kit.keys["ec_sig"] if alg.startswith("ES") else kit.keys["rsa_sig"]
    public = jwk.JWK.from_json(signer.export_public())
    token = kit.sign({"alg": alg, "kid": "k"}, {"sub": "x"}, key=signer, alg=alg)
    nested.verify(token, public, alg)
    for index in (0, 1, 2):
        with pytest.raises(nested.CryptoFailure):
            nested.verify(_tamper(token, index), public, alg)
    head, payload, signature = token.split(".")
    longer = head + "." + payload + "." + signature + "AA"
    with pytest.raises(nested.CryptoFailure):
        nested.verify(longer, public, alg)
    other = "RS256" if alg != "RS256" else "PS256"
    if not alg.startswith("ES"):
        with pytest.raises(nested.CryptoFailure):   # PSS vs PKCS#1 v1.5 are not swapped
            nested.verify(token, public, other)


def test_direct_ecdsa_needs_the_curve_of_alg(kit) -> None:
    p384 = jwk.JWK.generate(kty="EC", crv="P-384", use="sig")
    token = kit.sign({"alg": "ES384"}, {"sub": "x"}, key=p384, alg="ES384")
    public = jwk.JWK.from_json(p384.export_public())
    nested.verify(token, public, "ES384")
    with pytest.raises(nested.CryptoFailure):        # the cached key is P-384, alg says P-256
        nested.verify(token, public, "ES256")

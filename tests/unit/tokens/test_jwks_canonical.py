"""Key sets compared by value, not by spelling (issue 10, acceptance 5): one test per trick."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from jwcrypto import jwk

from policies.findings import Finding, Status
from policies.keys import (
    check_jwks,
    compare_jwks,
    key_values,
    public_key_set,
    shared_public_key_set,
)
from policies.keys.canonical import _EC, parse_public_key
from policies.keys.facts import b64url_bytes

P256 = _EC["P-256"].p


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def public(key: jwk.JWK, **extra: Any) -> dict[str, Any]:
    return {**key.export_public(as_dict=True), **extra}


def fails(data: Any, rule_id: str) -> list[Finding]:
    analysis = check_jwks(data)
    return [f for f in analysis.findings if f.rule_id == rule_id and f.status is Status.FAIL]


@pytest.fixture(scope="module")
def rsa_key(kit) -> dict[str, Any]:
    return public(kit.keys["rsa_sig"])


@pytest.fixture(scope="module")
def ec_key() -> dict[str, Any]:
    key = jwk.JWK.generate(kty="EC", crv="P-256", use="sig", alg="ES256", kid="ec-sig")
    return public(key)


@pytest.fixture(scope="module")
def ec_key_short_x() -> dict[str, Any]:
    """A generated P-256 key whose x has a leading zero octet (about 1 key in 256)."""
    for _ in range(20000):
        key = jwk.JWK.generate(kty="EC", crv="P-256")
        if unb64(key["x"])[0] == 0:
            return public(key, kid="ec-short", use="sig", alg="ES256")
    raise AssertionError("no key with a leading zero octet in x")


def zero_x_point() -> tuple[int, int]:
    """The P-256 point with x = 0 (it exists: 0³ − 0 + b is a square mod p)."""
    b = _EC["P-256"].b
    y = pow(b, (P256 + 1) // 4, P256)
    assert y * y % P256 == b
    return 0, y


def pad(text: str, octets: int = 1) -> str:
    return b64(b"\0" * octets + unb64(text))


# ---------------------------------------------------------------- one trick per test

def test_zero_padded_n_is_refused(rsa_key):
    padded = dict(rsa_key, n=pad(rsa_key["n"]))
    [finding] = fails({"keys": [padded]}, "KEY-JWKS-HYGIENE")
    assert finding.severity.value == "high" and finding.pointer == "/keys/0/n"
    assert "`n` is 385 octets with 1 leading zero octet" in finding.message
    assert "RFC 7518 §2 (Base64urlUInt) and §6.3.1.1" in finding.message
    assert not check_jwks({"keys": [padded]}).passed
    assert list(public_key_set({"keys": [padded]})["keys"]) == []


def test_e_with_leading_zero_is_refused(rsa_key):
    [finding] = fails({"keys": [dict(rsa_key, e="AAEAAQ")]}, "KEY-JWKS-HYGIENE")
    assert finding.pointer == "/keys/0/e"
    assert "`e` is 4 octets with 1 leading zero octet (canonically 'AQAB')" in finding.message
    assert "§6.3.1.2" in finding.message


def test_ec_x_padded_to_33_octets_is_refused(ec_key):
    [finding] = fails({"keys": [dict(ec_key, x=pad(ec_key["x"]))]}, "KEY-JWKS-HYGIENE")
    assert finding.pointer == "/keys/0/x"
    assert "`x` is 33 octets; a P-256 coordinate is exactly 32 octets" in finding.message
    assert "RFC 7518 §6.2.1.2" in finding.message


def test_ec_x_of_31_octets_is_refused(ec_key_short_x):
    short = dict(ec_key_short_x, x=b64(unb64(ec_key_short_x["x"])[1:]))
    [finding] = fails({"keys": [short]}, "KEY-JWKS-HYGIENE")
    assert "`x` is 31 octets; a P-256 coordinate is exactly 32 octets" in finding.message
    assert parse_public_key(short).value == parse_public_key(ec_key_short_x).value
    assert check_jwks({"keys": [ec_key_short_x]}).passed


def test_ec_coordinate_not_below_p_is_refused():
    x, y = zero_x_point()
    good = {"kty": "EC", "crv": "P-256", "x": b64(x.to_bytes(32, "big")),
            "y": b64(y.to_bytes(32, "big")), "kid": "k0", "use": "sig", "alg": "ES256"}
    assert check_jwks({"keys": [good]}).passed
    over = dict(good, x=b64((x + P256).to_bytes(32, "big")))  # still 32 octets: x + p = p
    [finding] = fails({"keys": [over]}, "KEY-JWKS-HYGIENE")
    assert finding.pointer == "/keys/0/x"
    assert "`x` is not below the field prime p of P-256" in finding.message
    assert parse_public_key(over).value == parse_public_key(good).value


def test_point_not_on_curve_is_invalid(ec_key):
    y = int.from_bytes(unb64(ec_key["y"]), "big") ^ 1
    off = dict(ec_key, y=b64(y.to_bytes(32, "big")))
    [finding] = fails({"keys": [off]}, "KEY-JWKS-HYGIENE")
    assert finding.pointer == "/keys/0"
    assert "is not a valid EC public key: the point (x, y) is not on P-256" in finding.message
    assert "invalid-curve" in finding.message
    assert parse_public_key(off).value is None


def test_same_rsa_key_for_sig_and_enc_via_padded_n(rsa_key):
    enc = dict(rsa_key, n=pad(rsa_key["n"]), use="enc", alg="RSA-OAEP-256", kid="enc-1")
    data = {"keys": [rsa_key, enc]}
    [separation] = fails(data, "KEY-SEPARATION")
    assert separation.message == (
        "keys 0, 1 are the same key (same RFC 7638 thumbprint of the canonical form, compared "
        "by value, not by spelling) published for both signing and encryption.")
    assert any(f.pointer == "/keys/1/n" for f in fails(data, "KEY-JWKS-HYGIENE"))


def test_same_rsa_key_for_sig_and_enc_via_e_spelling(rsa_key):
    enc = dict(rsa_key, e="AAEAAQ", use="enc", alg="RSA-OAEP-256", kid="enc-1")
    [separation] = fails({"keys": [rsa_key, enc]}, "KEY-SEPARATION")
    assert "keys 0, 1 are the same key" in separation.message


def test_same_ec_key_for_sig_and_enc_via_33_octet_x(ec_key):
    enc = dict(ec_key, x=pad(ec_key["x"]), use="enc", alg="ECDH-ES+A256KW", kid="ec-enc")
    [separation] = fails({"keys": [ec_key, enc]}, "KEY-SEPARATION")
    assert "keys 0, 1 are the same key (same RFC 7638 thumbprint" in separation.message


def test_same_rsa_modulus_with_another_exponent(rsa_key):
    enc = dict(rsa_key, e="AwAB", use="enc", alg="RSA-OAEP-256", kid="enc-1")  # e = 196609
    [separation] = fails({"keys": [rsa_key, enc]}, "KEY-SEPARATION")
    assert "same RSA modulus `n`" in separation.message


def test_same_key_twice_for_one_purpose_is_low_hygiene(ec_key):
    twice = dict(ec_key, x=pad(ec_key["x"]), kid="again")
    found = fails({"keys": [ec_key, twice]}, "KEY-JWKS-HYGIENE")
    dup = [f for f in found if f.pointer == "/keys"]
    assert [f.severity.value for f in dup] == ["low"]
    assert "keys 0, 1 are the same key" in dup[0].message


def test_thumbprint_of_canonical_and_padded_forms_are_equal(rsa_key, ec_key):
    for key, member in ((rsa_key, "n"), (ec_key, "x")):
        padded = dict(key, **{member: pad(key[member])})
        canonical = jwk.JWK(**key).thumbprint()
        # jwcrypto hashes the spelling, which is why the checker must not
        assert jwk.JWK(**padded).thumbprint() != canonical
        assert parse_public_key(padded).value.thumbprint == canonical
        assert parse_public_key(key).value.thumbprint == canonical
        summary = check_jwks({"keys": [padded]}).keys[0]
        assert summary.thumbprint == canonical
    e_spelled = dict(rsa_key, e="AAEAAQ")
    assert parse_public_key(e_spelled).value.thumbprint == jwk.JWK(**rsa_key).thumbprint()


def test_compare_with_managed_keys_by_value(rsa_key, ec_key):
    managed = {"keys": [dict(rsa_key, n=pad(rsa_key["n"], 2), use="enc",
                             alg="RSA-OAEP-256", kid="managed-1")]}
    [finding] = compare_jwks({"keys": [rsa_key, ec_key]}, managed)
    assert finding.status is Status.FAIL
    assert f"issuer key {rsa_key['kid']!r} is also API encryption key 'managed-1'" \
        in finding.message
    other = {"keys": [dict(ec_key, x=pad(ec_key["x"]), kid="m2", use="enc",
                           alg="ECDH-ES+A256KW")]}
    assert compare_jwks({"keys": [ec_key]}, other)[0].status is Status.FAIL
    assert compare_jwks({"keys": [ec_key]}, {"keys": [rsa_key]})[0].status is Status.PASS


def test_key_values_reads_every_spelling(rsa_key):
    values = key_values({"keys": [rsa_key, dict(rsa_key, n=pad(rsa_key["n"]), kid="x")]})
    assert len(values) == 2 and values[0][1] == values[1][1]


def test_x25519_top_bit_is_another_spelling():
    key = jwk.JWK.generate(kty="OKP", crv="X25519")
    raw = bytearray(unb64(key["x"]))
    raw[-1] |= 0x80
    parsed = parse_public_key({"kty": "OKP", "crv": "X25519", "x": b64(bytes(raw))})
    assert parsed.value is not None and parsed.value.thumbprint == key.thumbprint()
    assert "top bit" in parsed.problems[0].message and "RFC 7748 §5" in parsed.problems[0].message


def test_padded_private_member_is_reported(kit):
    private = kit.keys["rsa_enc"].export_private(as_dict=True)
    parsed = parse_public_key(dict(private, d=pad(private["d"])))
    assert [p.member for p in parsed.problems] == ["d"]
    assert "§6.3.2" in parsed.problems[0].message


@pytest.mark.parametrize(("change", "text"), [
    ({"n": "AQAB"}, "even or smaller than 3"),  # n = 65537 with e = 65537: e >= n
    ({"e": "AQ"}, "not an odd number from 3 to n − 1"),
    ({"n": "!!"}, "not unpadded, canonical base64url"),
    ({"e": ""}, "`e` is empty"),
])
def test_impossible_rsa_numbers_are_invalid(rsa_key, change, text):
    parsed = parse_public_key(dict(rsa_key, **change))
    assert parsed.value is None
    if change.get("n") == "AQAB":
        assert "`e` = 65537 is not an odd number" in str(parsed.invalid)
    else:
        assert text in str(parsed.invalid)


def test_canonical_keys_of_every_kind_pass(kit):
    for kty, crv in (("EC", "P-384"), ("EC", "P-521"), ("OKP", "Ed25519"), ("OKP", "Ed448"),
                     ("OKP", "X25519"), ("OKP", "X448")):
        key = jwk.JWK.generate(kty=kty, crv=crv)
        parsed = parse_public_key(key.export_public(as_dict=True))
        assert parsed.canonical and parsed.value is not None
        assert parsed.value.thumbprint == key.thumbprint()


def test_shared_public_key_set_is_one_object_per_content(rsa_key, ec_key):
    text = json.dumps({"keys": [ec_key]})
    from_text = shared_public_key_set(text)
    again = shared_public_key_set(text.encode())
    assert again is from_text and [k["kid"] for k in again["keys"]] == ["ec-sig"]
    other = shared_public_key_set({"keys": [rsa_key]})
    assert other is not from_text and other is shared_public_key_set({"keys": [rsa_key]})
    padded = shared_public_key_set({"keys": [dict(rsa_key, n=pad(rsa_key["n"]))]})
    assert list(padded["keys"]) == []


def test_trailing_bits_make_base64url_non_canonical():
    assert b64url_bytes("AQ") == b"\x01" and b64url_bytes("AR") is None
    assert b64url_bytes("AAE") == b"\x00\x01" and b64url_bytes("AAF") is None


@pytest.mark.parametrize("crv", ["BP-256", "BP-384", "BP-512", "secp256k1"])
def test_other_ec_curves_are_read_and_left_to_key_curve(crv):
    key = public(jwk.JWK.generate(kty="EC", crv=crv), kid="c", use="sig", alg="ES256")
    assert parse_public_key(key).canonical
    assert not fails({"keys": [key]}, "KEY-JWKS-HYGIENE")
    [curve] = fails({"keys": [key]}, "KEY-CURVE")
    assert curve.severity.value == "medium"

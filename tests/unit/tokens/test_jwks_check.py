"""The JWKS checker: malformed sets are findings, never exceptions (issue 3, acceptance 4)."""

from __future__ import annotations

import json

import pytest
from jwcrypto import jwk

from policies.findings import Status
from policies.keys import check_jwks, check_key_urls, compare_jwks, public_key_set


def public(key: jwk.JWK) -> dict:
    return key.export_public(as_dict=True)


@pytest.fixture(scope="module")
def sig_keys():
    ec = jwk.JWK.generate(kty="EC", crv="P-256", use="sig", alg="ES256")
    ec["kid"] = ec.thumbprint()
    ed = jwk.JWK.generate(kty="OKP", crv="Ed25519", use="sig", alg="Ed25519", kid="ed-1")
    return [ec, ed]


def fails(analysis, rule_id):
    return [f for f in analysis.findings if f.rule_id == rule_id and f.status is Status.FAIL]


def test_good_issuer_set_passes(sig_keys, kit):
    data = json.dumps({"keys": [public(k) for k in sig_keys] + [public(kit.keys["rsa_sig"])]})
    analysis = check_jwks(data, purpose="issuer-signing")
    assert analysis.passed
    assert {f.status for f in analysis.findings} == {Status.PASS}
    summaries = {s.kid: s for s in analysis.keys}
    rsa = summaries[kit.keys["rsa_sig"]["kid"]]
    assert (rsa.kty, rsa.size, rsa.use, rsa.alg) == ("RSA", 3072, "sig", "PS256")
    assert rsa.thumbprint == kit.keys["rsa_sig"].thumbprint()
    assert summaries["ed-1"].crv == "Ed25519"


def test_good_api_encryption_set_passes(kit):
    data = {"keys": [public(kit.keys[n]) for n in ("rsa_enc", "ec_kw_enc", "ec_dir_enc")]}
    assert check_jwks(data, purpose="api-encryption").passed


@pytest.mark.parametrize("data", [b"not json", "{", "[]", "{\"keys\": {}}", "{\"keys\": []}",
                                  b"\xff\xfe", "{\"keys\": [1, \"a\"]}", 42,
                                  "{\"keys\": [], \"keys\": []}", "{\"a\": NaN}"])
def test_malformed_sets_are_hygiene_findings(data):
    analysis = check_jwks(data)
    assert not analysis.passed
    assert fails(analysis, "KEY-JWKS-HYGIENE")


def test_keys_not_an_array():
    analysis = check_jwks('{"keys": {"kty": "EC"}}')
    [finding] = fails(analysis, "KEY-JWKS-HYGIENE")
    assert "no `keys` array" in finding.message
    others = {f.rule_id: f.status for f in analysis.findings if f is not finding}
    assert set(others.values()) == {Status.MISSING_EVIDENCE}


def test_unknown_kty_beside_valid_keys(sig_keys):
    data = {"keys": [public(sig_keys[0]), {"kty": "PQC", "kid": "new", "use": "sig"}]}
    analysis = check_jwks(data, purpose="issuer-signing")
    [finding] = fails(analysis, "KEY-JWKS-HYGIENE")
    assert "unknown key type 'PQC'" in finding.message and finding.pointer == "/keys/1"
    assert len(analysis.keys) == 2 and analysis.keys[1].thumbprint is None


def test_private_members_are_critical(sig_keys, kit):
    data = {"keys": [sig_keys[0].export_private(as_dict=True),
                     kit.keys["rsa_enc"].export_private(as_dict=True)]}
    found = fails(check_jwks(data), "KEY-JWKS-HYGIENE")
    assert [f.severity.value for f in found] == ["critical", "critical"]
    assert "d, p, q, dp, dq, qi" in found[1].message


def test_oct_key_is_critical():
    secret = jwk.JWK.generate(kty="oct", size=256, kid="s", use="sig", alg="HS256")
    [finding] = fails(check_jwks({"keys": [secret.export(as_dict=True)]}), "KEY-JWKS-HYGIENE")
    assert finding.severity.value == "critical" and "oct" in finding.message


def test_duplicate_and_missing_kids(sig_keys):
    a, b = public(sig_keys[0]), public(sig_keys[1])
    b["kid"] = a["kid"]
    c = public(jwk.JWK.generate(kty="EC", crv="P-384", use="sig", alg="ES384"))
    found = fails(check_jwks({"keys": [a, b, c]}), "KEY-JWKS-HYGIENE")
    messages = " ".join(f.message for f in found)
    assert "used by 2 keys" in messages and "key 2 has no `kid`" in messages
    assert {f.severity.value for f in found} == {"low"}


def test_1024_bit_rsa_is_critical_and_2048_is_medium():
    small = jwk.JWK.generate(kty="RSA", size=1024, use="sig", alg="PS256", kid="small")
    mid = jwk.JWK.generate(kty="RSA", size=2048, use="sig", alg="PS256", kid="mid")
    found = fails(check_jwks({"keys": [public(small), public(mid)]}), "KEY-RSA-SIZE")
    assert [(f.pointer, f.severity.value) for f in found] == [("/keys/0", "critical"),
                                                              ("/keys/1", "medium")]


def test_curves():
    k1 = jwk.JWK.generate(kty="EC", crv="secp256k1", use="sig", alg="ES256K", kid="k1")
    [finding] = fails(check_jwks({"keys": [public(k1)]}), "KEY-CURVE")
    assert "secp256k1" in finding.message


@pytest.mark.parametrize(("changes", "text"), [
    ({"use": None, "key_ops": None}, "neither `use` nor `key_ops`"),
    ({"alg": None}, "no `alg`"),
    ({"alg": "RSA-OAEP-256"}, "encryption algorithm on a signing key"),
    ({"alg": "ES384"}, "does not fit a EC P-256 key"),
    ({"use": "enc"}, "signing algorithm on an encryption key"),
    ({"use": None, "key_ops": ["sign", "encrypt"]}, "mixes signing and encryption"),
    ({"key_ops": ["encrypt"]}, "contradicts"),
    ({"use": "other"}, "not 'sig' or 'enc'"),
])
def test_separation_problems(sig_keys, changes, text):
    entry = public(sig_keys[0])
    for name, value in changes.items():
        if value is None:
            entry.pop(name, None)
        else:
            entry[name] = value
    found = fails(check_jwks({"keys": [entry]}), "KEY-SEPARATION")
    assert any(text in f.message for f in found), found


def test_purpose_mismatch(kit):
    data = {"keys": [public(kit.keys["ec_kw_enc"])]}
    [finding] = fails(check_jwks(data, purpose="issuer-signing"), "KEY-SEPARATION")
    assert "'enc' in a signing key set" in finding.message


def test_same_key_for_signing_and_encryption(kit):
    sig = public(kit.keys["rsa_sig"])
    enc = dict(sig, use="enc", alg="RSA-OAEP-256", kid="enc-copy")
    found = fails(check_jwks({"keys": [sig, enc]}), "KEY-SEPARATION")
    assert any("same key" in f.message for f in found)


def test_invalid_key_material_is_a_finding():
    bad = {"kty": "EC", "crv": "P-256", "x": "AQ", "y": "Ag", "kid": "bad", "use": "sig",
           "alg": "ES256"}
    [finding] = fails(check_jwks({"keys": [bad]}), "KEY-JWKS-HYGIENE")
    assert "not a valid EC public key" in finding.message


def test_compare_sets_finds_shared_keys(kit, sig_keys):
    issuer = {"keys": [public(sig_keys[0]), public(kit.keys["rsa_sig"])]}
    api = {"keys": [public(kit.keys["rsa_enc"])]}
    assert [f.status for f in compare_jwks(issuer, api)] == [Status.PASS]
    shared = dict(public(kit.keys["rsa_sig"]), use="enc", alg="RSA-OAEP-256", kid="api-1")
    result = compare_jwks(json.dumps(issuer), {"keys": [shared]})
    assert [f.status for f in result] == [Status.FAIL]
    assert compare_jwks(b"junk", api)[0].status is Status.MISSING_EVIDENCE


def test_key_urls():
    assert check_key_urls("https://as.example", "https://as.example/jwks")[0].status \
        is Status.PASS
    bad = check_key_urls("http://as.example", "file:///etc/jwks")
    assert [f.status for f in bad] == [Status.FAIL, Status.FAIL]
    assert check_key_urls(None, None)[0].status is Status.MISSING_EVIDENCE


def test_public_key_set_drops_private_members_and_junk(kit, sig_keys):
    data = {"keys": [kit.keys["rsa_enc"].export_private(as_dict=True), {"kty": "PQC"},
                     public(sig_keys[1]), "junk"]}
    keyset = public_key_set(data)
    keys = list(keyset["keys"])
    assert len(keys) == 2 and not any(k.has_private for k in keys)
    assert {k.get("kid") for k in keys} == {kit.keys["rsa_enc"]["kid"], "ed-1"}
    assert list(public_key_set("nonsense")["keys"]) == []


def test_analysis_to_dict_is_json(sig_keys):
    analysis = check_jwks({"keys": [public(sig_keys[0])]})
    assert json.loads(json.dumps(analysis.to_dict()))["passed"] is True

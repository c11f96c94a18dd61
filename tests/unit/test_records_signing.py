"""Signing and offline verification of gate records (no app, no database).

The tampering tests change every byte position of a signed record, one at a time, and
require the verification to fail at each: in the header, the payload and the signature,
including the last character of each segment, whose low bits are padding in base64url (a
lenient decoder would ignore a change there).
"""

from __future__ import annotations

import base64
import json

import pytest
from jwcrypto import jwk, jws

from lifecycle.trust.records import (
    ALG,
    TYP,
    JwksUnreadable,
    RecordInvalid,
    b64url,
    sign,
    verify_record,
)

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

RECORD = {
    "format": 1,
    "record_id": "0b7c2f8e-3a53-4c1e-9d0b-5f9a7e1c2d34",
    "api": "payments",
    "version": "1.0.0",
    "spec": {"revision": 2, "sha256": "ab" * 32},
    "policy_pack": {"name": "default", "sha256": "cd" * 32},
    "from_stage": "testing",
    "target_stage": "deployment",
    "decision": "blocked",
    "findings": [{"rule_id": "TOK-NESTED-JWE", "severity": "critical",
                  "status": "missing-evidence", "message": "No sample token.",
                  "pointer": None, "line": None, "column": None, "blocking": True}],
    "approvals": [],
    "requested_by": "dana@example.com",
    "check_run": 7,
    "decided_at": "2026-12-08T10:00:00.000000Z",
}


def new_key() -> jwk.JWK:
    key = jwk.JWK.generate(kty="EC", crv="P-256", use="sig", alg=ALG)
    key["kid"] = key.thumbprint()
    return key


@pytest.fixture(scope="module")
def key() -> jwk.JWK:
    return new_key()


@pytest.fixture(scope="module")
def jwks(key) -> dict:
    return {"keys": [key.export_public(as_dict=True)]}


@pytest.fixture(scope="module")
def token(key) -> str:
    return sign(RECORD, key, key["kid"])


def segments(token: str) -> list[str]:
    return token.split(".")


def b64json(value: object) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def test_a_signed_record_verifies_and_round_trips(token, jwks, key):
    verified = verify_record(token, jwks)
    assert verified.record == RECORD
    assert verified.header == {"alg": "ES256", "kid": key["kid"], "typ": TYP}
    summary = "\n".join(verified.summary())
    assert "payments@1.0.0" in summary and "blocked into deployment" in summary
    assert "TOK-NESTED-JWE" in summary


def test_jwcrypto_agrees_that_the_signature_is_a_standard_es256_jws(token, key):
    check = jws.JWS()
    check.deserialize(token)
    check.verify(key.public(), alg="ES256")  # raises when invalid
    assert json.loads(check.payload) == RECORD


def test_the_payload_is_canonical_json(token):
    payload = base64.urlsafe_b64decode(segments(token)[1] + "==")
    assert payload == json.dumps(RECORD, sort_keys=True, separators=(",", ":"),
                                 ensure_ascii=False).encode()


def test_surrounding_whitespace_of_a_saved_file_is_accepted(token, jwks):
    assert verify_record(f"\n{token}\r\n".encode(), jwks).record == RECORD


def _neighbour(char: str) -> str:
    """The base64url character whose 6-bit value differs only in the lowest bit: the
    smallest possible change, which lands in the padding bits of a segment's last char."""
    return ALPHABET[ALPHABET.index(char) ^ 1] if char in ALPHABET else "A"


@pytest.mark.parametrize("part", ["header", "payload", "signature"])
def test_changing_any_single_character_of_any_part_fails(token, jwks, part):
    header, payload, signature = segments(token)
    start = {"header": 0, "payload": len(header) + 1,
             "signature": len(header) + len(payload) + 2}[part]
    length = len({"header": header, "payload": payload, "signature": signature}[part])
    accepted = []
    for i in range(start, start + length):
        for replacement in {_neighbour(token[i]), "."}:
            changed = token[:i] + replacement + token[i + 1:]
            assert changed != token
            try:
                verify_record(changed, jwks)
            except RecordInvalid:
                continue
            accepted.append((i, replacement))
    assert accepted == []


@pytest.mark.parametrize("byte", [0x00, 0x20, 0x2E, 0x3D, 0x7F, 0xC3, 0xFF])
@pytest.mark.parametrize("where", ["header", "payload", "signature", "last"])
def test_changing_a_byte_to_a_non_alphabet_byte_fails(token, jwks, byte, where):
    raw = bytearray(token.encode())
    header, payload, _ = segments(token)
    index = {"header": 3, "payload": len(header) + 10, "signature": len(header) + len(payload)
             + 5, "last": len(raw) - 1}[where]
    if raw[index] == byte:
        pytest.fail("the chosen byte equals the original")  # never: alphabet bytes only
    raw[index] = byte
    with pytest.raises(RecordInvalid):
        verify_record(bytes(raw), jwks)


def test_removing_or_adding_a_byte_fails(token, jwks):
    for changed in (token[:-1], token + "A", token[1:], "A" + token,
                    token.replace(".", "..", 1)):
        with pytest.raises(RecordInvalid):
            verify_record(changed, jwks)


def _forge(header: dict, payload: object, signature: bytes = b"\0" * 64) -> str:
    return f"{b64json(header)}.{b64json(payload)}.{b64url(signature)}"


def test_only_es256_is_accepted(key, jwks):
    for alg in ("none", "HS256", "ES384", "RS256", "es256", None):
        header = {"alg": alg, "kid": key["kid"], "typ": TYP}
        with pytest.raises(RecordInvalid, match="alg"):
            verify_record(_forge(header, RECORD), jwks)
    with pytest.raises(RecordInvalid):  # the classic alg=none with an empty signature
        verify_record(f"{b64json({'alg': 'none', 'kid': key['kid'], 'typ': TYP})}."
                      f"{b64json(RECORD)}.", jwks)


def test_a_record_of_another_type_is_refused(key, jwks):
    for typ in ("JWT", "at+jwt", None, TYP.upper()):
        header = {"alg": ALG, "kid": key["kid"], "typ": typ}
        with pytest.raises(RecordInvalid, match="typ"):
            verify_record(_forge(header, RECORD), jwks)


def test_extra_header_members_are_refused(key, jwks):
    for extra in ({"crit": ["exp"]}, {"jwk": key.export_public(as_dict=True)},
                  {"jku": "https://attacker.example/jwks"}, {"b64": False}):
        header = {"alg": ALG, "kid": key["kid"], "typ": TYP, **extra}
        with pytest.raises(RecordInvalid, match="exactly"):
            verify_record(_forge(header, RECORD), jwks)


def test_the_key_is_chosen_by_exact_kid(key, token):
    other = new_key()
    with pytest.raises(RecordInvalid, match="no key with kid"):
        verify_record(token, {"keys": [other.export_public(as_dict=True)]})
    # the right key under a different kid does not count; nor does a kid differing in case
    renamed = {**key.export_public(as_dict=True), "kid": key["kid"].upper()}
    with pytest.raises(RecordInvalid, match="no key with kid"):
        verify_record(token, {"keys": [renamed]})
    # another key published under the record's kid does not verify it
    impostor = {**other.export_public(as_dict=True), "kid": key["kid"]}
    with pytest.raises(RecordInvalid, match="signature does not verify"):
        verify_record(token, {"keys": [impostor]})


def test_other_keys_in_the_set_are_ignored(key, token):
    keys = [new_key().export_public(as_dict=True), key.export_public(as_dict=True)]
    assert verify_record(token, {"keys": keys}).record == RECORD


def test_two_keys_with_the_records_kid_are_ambiguous(key, token):
    public = key.export_public(as_dict=True)
    with pytest.raises(RecordInvalid, match="2 keys"):
        verify_record(token, {"keys": [public, dict(public)]})


@pytest.mark.parametrize("change", [{"use": "enc"}, {"alg": "ES384"}, {"key_ops": ["sign"]},
                                    {"crv": "P-384"}, {"kty": "RSA"}])
def test_a_key_not_meant_for_es256_signatures_is_refused(key, token, change):
    public = {**key.export_public(as_dict=True), **change}
    with pytest.raises(RecordInvalid):
        verify_record(token, {"keys": [public]})


def test_a_signature_of_the_wrong_length_is_refused(key, token, jwks):
    header, payload, signature = segments(token)
    raw = base64.urlsafe_b64decode(signature + "==")
    for wrong in (raw[:-1], raw + b"\0", raw[:32]):
        with pytest.raises(RecordInvalid):
            verify_record(f"{header}.{payload}.{b64url(wrong)}", jwks)


def test_a_valid_signature_over_a_payload_that_is_not_a_record_is_refused(key, jwks):
    for payload in ({"api": "x"}, {**RECORD, "decision": "maybe"}, {**RECORD, "format": True},
                    {**RECORD, "findings": "none"}):
        with pytest.raises(RecordInvalid, match="payload"):
            verify_record(sign(payload, key, key["kid"]), jwks)
    array = jws.JWS(b"[1,2]")
    array.add_signature(key, alg=ALG, protected=json.dumps(
        {"alg": ALG, "kid": key["kid"], "typ": TYP}))
    with pytest.raises(RecordInvalid, match="not a JSON object"):
        verify_record(array.serialize(compact=True), jwks)


@pytest.mark.parametrize("jwks_text", [b"", b"not json", b"[]", b'{"keys": 1}',
                                       b'{"keys": [], "keys": []}', b"\xff\xfe"])
def test_an_unreadable_jwks_is_reported_as_such(token, jwks_text):
    with pytest.raises(JwksUnreadable):
        verify_record(token, jwks_text)


def test_garbage_is_invalid_not_a_crash(jwks):
    for garbage in (b"", b"\xff" * 40, b"a.b", b"a.b.c.d", b"...", "é.é.é", b"%%.%%.%%"):
        with pytest.raises(RecordInvalid):
            verify_record(garbage, jwks)

"""The attack tokens A01–A29 of jwt-policy.md §3, built at test time.

Each is rejected with the rule id the table names, without an exception, in under 50 ms
(median of 3 check calls).  A30 is a gateway-level case (TRN-NO-TOKEN-IN-URL), not a token.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from jwcrypto import jwe, jwk, jws
from tokenkit import DROP, ISSUER, Kit, b64, b64json

from policies.findings import Status
from policies.tokens import MemoryReplayCache, TokenLimits, replay_key

Attack = Callable[[Kit], tuple[Any, dict[str, Any]]]


def rewrite_outer(token: str, **changes: Any) -> str:
    """Replace members of the outer protected header (the tag no longer matches, which is
    fine: these tokens must be refused before decryption)."""
    segments = token.split(".")
    header = json.loads(b64decode(segments[0]))
    for name, value in changes.items():
        if value is DROP:
            header.pop(name, None)
        else:
            header[name] = value
    segments[0] = b64json(header)
    return ".".join(segments)


def b64decode(segment: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def flip(segment: str) -> str:
    middle = len(segment) // 2
    return segment[:middle] + ("B" if segment[middle] == "A" else "A") + segment[middle + 1:]


def replace_segment(token: str, index: int, value: str) -> str:
    segments = token.split(".")
    segments[index] = value
    return ".".join(segments)


# ---------------------------------------------------------------------------- builders
def a01(kit):
    jws_none = kit.sign(kit.inner_header("none"), kit.claims())
    return kit.encrypt(jws_none), {}


def a02(kit):
    return kit.sign(kit.inner_header("none"), kit.claims()), {}


def a03(kit):
    return kit.sign(kit.inner_header(), kit.claims()), {}


def a04(kit):
    return kit.encrypt(json.dumps(kit.claims())), {}


def a05(kit):
    sig_public = kit.keys["ec_sig"].export_public(as_dict=True)
    sig_public.pop("use")
    sig_public.pop("alg")
    target = jwk.JWK(**sig_public)
    token = kit.encrypt(kit.sign(kit.inner_header(), kit.claims()), "ecdh-kw", key=target,
                        kid=kit.keys["ec_sig"]["kid"])
    return token, {"mode": "ecdh-kw"}


def a06(kit):
    pem = kit.keys["ec_sig"].export_to_pem(private_key=False)
    secret = jwk.JWK(kty="oct", k=b64(pem))
    jws_hmac = kit.sign(kit.inner_header("HS256", kid=kit.keys["ec_sig"]["kid"]), kit.claims(),
                        key=secret, alg="HS256")
    return kit.encrypt(jws_hmac), {}


def a07_none(kit):
    return kit.encrypt(kit.sign(kit.inner_header("None"), kit.claims())), {}


def a07_es256(kit):
    jws_lower = kit.sign(kit.inner_header("es256", kid=kit.keys["ec_sig"]["kid"]),
                         kit.claims(), key=kit.keys["ec_sig"], alg="ES256")
    return kit.encrypt(jws_lower), {}


def a07_outer(kit):
    return rewrite_outer(kit.nested("rsa"), alg="rsa-oaep-256"), {}


def a08(kit):
    return kit.nested("rsa", outer={"alg": "RSA1_5"}), {}


def a09(kit):
    header = {"alg": "PBES2-HS256+A128KW", "enc": "A256GCM", "cty": "JWT",
              "p2c": 2147483647, "p2s": b64(os.urandom(16)), "kid": kit.keys["rsa_enc"]["kid"]}
    parts = [b64json(header)] + [b64(os.urandom(n)) for n in (40, 12, 200, 16)]
    return ".".join(parts), {}


def a10(kit):
    bomb = json.dumps({"pad": "A" * (5 * 1024 * 1024)})
    return kit.encrypt(bomb, zip="DEF"), {}


def a11(kit):
    token = kit.nested("ecdh-kw")
    epk = json.loads(b64decode(token.split(".")[0]))["epk"]
    epk.update(x=b64((1).to_bytes(32, "big")), y=b64((2).to_bytes(32, "big")))
    return rewrite_outer(token, epk=epk), {"mode": "ecdh-kw"}


def _epk_with(kit, **changes):
    token = kit.nested("ecdh-kw")
    epk = json.loads(b64decode(token.split(".")[0]))["epk"]
    epk.update(changes)
    return rewrite_outer(token, epk=epk), {"mode": "ecdh-kw"}


def a12_d(kit):
    return _epk_with(kit, d=b64(os.urandom(32)))


def a12_key_ops(kit):
    return _epk_with(kit, key_ops=["sign"] * 100)


def a12_key_ops_flood(kit):
    return _epk_with(kit, key_ops=["sign"] * 100_000)


def a12_crv(kit):
    other = jwk.JWK.generate(kty="EC", crv="P-384").export_public(as_dict=True)
    return _epk_with(kit, crv="P-384", x=other["x"], y=other["y"])


def a13(kit):
    token = kit.nested("ecdh-direct")
    return replace_segment(token, 1, b64(os.urandom(40))), {"mode": "ecdh-direct"}


def a14(kit):
    return kit.nested(claims={"iat": kit.now - 3900, "exp": kit.now - 3600}), {}


def a15(kit):
    return kit.nested(claims={"exp": DROP}), {}


def a16(kit):
    return kit.nested(claims={"nbf": kit.now + 3600}), {}


def a17_iat(kit):
    return kit.nested(claims={"iat": kit.now + 3600, "exp": kit.now + 3900}), {}


def a17_lifetime(kit):
    return kit.nested(claims={"exp": kit.now + 365 * 86400}), {}


def a18(kit):
    return kit.nested(claims={"aud": "https://api.example/other"}), {}


def a19_evil(kit):
    return kit.nested(claims={"iss": "https://evil.example"}), {}


def a19_slash(kit):
    return kit.nested(claims={"iss": ISSUER + "/"}), {}


def a20(kit):
    id_token = kit.claims(aud="client-9", nonce="n-1", scope=DROP)
    return kit.encrypt(kit.sign(kit.inner_header(typ="JWT"), id_token)), {}


def a21(kit):
    claims = kit.claims()
    token = kit.encrypt(kit.sign(kit.inner_header(), claims))
    cache = MemoryReplayCache()
    assert cache.check_and_store(replay_key(ISSUER, claims["jti"]), claims["exp"], kit.now)
    return token, {"replay_cache": cache}


def a22_path(kit):
    return kit.nested(outer={"kid": "../../../../dev/null"}), {}


def a22_sql(kit):
    return kit.nested(inner={"kid": "' OR '1'='1"}), {}


def a22_dots(kit):
    return kit.nested(outer={"kid": ".."}), {}


def a22_long(kit):
    return kit.nested(outer={"kid": "k" * 10_000}), {"limits": TokenLimits(64 * 1024)}


def a23_jku(kit):
    return kit.nested(inner={"jku": "https://attacker.example/jwks.json"}), {}


def a23_x5u(kit):
    return kit.nested(outer={"x5u": "https://attacker.example/cert.pem"}), {}


def a23_jwk(kit):
    attacker = jwk.JWK.generate(kty="EC", crv="P-256", kid="attacker")
    header = kit.inner_header(kid="attacker", jwk=attacker.export_public(as_dict=True))
    return kit.encrypt(kit.sign(header, kit.claims(), key=attacker)), {}


def a24(kit):
    return kit.nested(inner={"crit": ["exp2"], "exp2": 1}), {}


def a25_size(kit):
    return kit.nested(claims={"pad": "x" * 9000}), {}


def a25_dots(kit):
    return "." * 100_000, {}


def a26_bang(kit):
    return "eyJ!!!.a.b.c.d", {}


def a26_padding(kit):
    token = kit.nested()
    return replace_segment(token, 0, token.split(".")[0] + "=="), {}


def a26_whitespace(kit):
    token = kit.nested()
    return token[:20] + " " + token[20:], {}


def a26_not_json(kit):
    return replace_segment(kit.nested(), 0, b64("alg=RSA-OAEP-256")), {}


def a26_array(kit):
    return replace_segment(kit.nested(), 0, b64json(["RSA-OAEP-256", "A256GCM"])), {}


def a26_duplicate(kit):
    kid = kit.keys["rsa_enc"]["kid"]
    header = f'{{"alg":"RSA-OAEP-256","enc":"A256GCM","cty":"JWT","kid":"{kid}","alg":"dir"}}'
    return replace_segment(kit.nested(), 0, b64(header)), {}


def a27_jwe(kit):
    token = jwe.JWE(kit.sign(kit.inner_header(), kit.claims()).encode(),
                    json.dumps({"alg": "RSA-OAEP-256", "enc": "A256GCM", "cty": "JWT",
                                "kid": kit.keys["rsa_enc"]["kid"]}),
                    algs=["RSA-OAEP-256", "A256GCM"])
    token.add_recipient(kit.public("rsa_enc"))
    flat = json.loads(token.serialize(compact=False))
    flat["x"] = "." * (4 - json.dumps(flat).count("."))
    text = json.dumps(flat)
    assert text.count(".") == 4
    return text, {}


def a27_jws(kit):
    token = jws.JWS(json.dumps(kit.claims()))
    token.add_signature(kit.keys["ec_sig"], "ES256",
                        json.dumps(kit.inner_header()))
    flat = json.loads(token.serialize(compact=False))
    flat["x"] = "." * (2 - json.dumps(flat).count("."))
    return json.dumps(flat), {}


def a28_ciphertext(kit):
    token = kit.nested()
    return replace_segment(token, 3, flip(token.split(".")[3])), {}


def a28_tag(kit):
    token = kit.nested()
    return replace_segment(token, 4, flip(token.split(".")[4])), {}


def a29(kit):
    psychic = kit.sign(kit.inner_header(), kit.claims(), signature=bytes(64))
    return kit.encrypt(psychic), {}


ATTACKS: list[tuple[str, Attack, str]] = [
    ("A01-alg-none-in-jwe", a01, "JWS-ALG-DENY-NONE"),
    ("A02-bare-none-jws", a02, "TOK-NESTED-JWE"),
    ("A03-signed-not-encrypted", a03, "TOK-NESTED-JWE"),
    ("A04-jwe-of-plain-claims", a04, "TOK-NESTED-JWE"),
    ("A05-encrypted-to-signing-key", a05, "JWE-KEY-BOUND"),
    ("A06-hs256-with-public-key", a06, "JWS-ALG-DENY-HMAC"),
    ("A07-None", a07_none, "JWS-ALG-ALLOWED"),
    ("A07-es256", a07_es256, "JWS-ALG-ALLOWED"),
    ("A07-rsa-oaep-256", a07_outer, "JWE-ALG-ALLOWED"),
    ("A08-rsa1_5", a08, "JWE-ALG-DENY-RSA1_5"),
    ("A09-pbes2-huge-p2c", a09, "JWE-PBES2-P2C"),
    ("A10-zip-bomb", a10, "JWE-ZIP-DENIED"),
    ("A11-invalid-curve-epk", a11, "JWE-EPK-VALID"),
    ("A12-epk-private-d", a12_d, "JWE-EPK-VALID"),
    ("A12-epk-key-ops", a12_key_ops, "JWE-EPK-VALID"),
    ("A12-epk-key-ops-flood", a12_key_ops_flood, "TOK-SIZE-LIMIT"),
    ("A12-epk-other-curve", a12_crv, "JWE-EPK-VALID"),
    ("A13-direct-ecdh-with-ek", a13, "JWE-EPK-VALID"),
    ("A14-expired", a14, "CLM-EXP"),
    ("A15-no-exp", a15, "CLM-EXP"),
    ("A16-not-yet-valid", a16, "CLM-NBF"),
    ("A17-future-iat", a17_iat, "CLM-IAT"),
    ("A17-one-year-lifetime", a17_lifetime, "CLM-LIFETIME-MAX"),
    ("A18-wrong-audience", a18, "CLM-AUD"),
    ("A19-evil-issuer", a19_evil, "CLM-ISS"),
    ("A19-trailing-slash-issuer", a19_slash, "CLM-ISS"),
    ("A20-id-token", a20, "HDR-TYP-AT-JWT"),
    ("A21-replay", a21, "CLM-JTI"),
    ("A22-kid-path", a22_path, "HDR-KID-SAFE"),
    ("A22-kid-sql", a22_sql, "HDR-KID-SAFE"),
    ("A22-kid-dotdot", a22_dots, "HDR-KID-SAFE"),
    ("A22-kid-10kb", a22_long, "HDR-KID-SAFE"),
    ("A23-jku", a23_jku, "HDR-NO-KEY-REFS"),
    ("A23-x5u", a23_x5u, "HDR-NO-KEY-REFS"),
    ("A23-embedded-jwk", a23_jwk, "HDR-NO-KEY-REFS"),
    ("A24-unknown-crit", a24, "HDR-CRIT"),
    ("A25-9kb", a25_size, "TOK-SIZE-LIMIT"),
    ("A25-dot-flood", a25_dots, "TOK-SIZE-LIMIT"),
    ("A26-bad-characters", a26_bang, "TOK-SYNTAX"),
    ("A26-padding", a26_padding, "TOK-SYNTAX"),
    ("A26-whitespace", a26_whitespace, "TOK-SYNTAX"),
    ("A26-header-not-json", a26_not_json, "TOK-SYNTAX"),
    ("A26-header-array", a26_array, "TOK-SYNTAX"),
    ("A26-duplicate-alg", a26_duplicate, "TOK-SYNTAX"),
    ("A27-flattened-jwe-4-dots", a27_jwe, "TOK-SYNTAX"),
    ("A27-flattened-jws-2-dots", a27_jws, "TOK-SYNTAX"),
    ("A28-tampered-ciphertext", a28_ciphertext, "JWE-KEY-BOUND"),
    ("A28-tampered-tag", a28_tag, "JWE-KEY-BOUND"),
    ("A29-psychic-signature", a29, "JWS-SIG-ISSUER-KEY"),
]


@pytest.mark.parametrize(("build", "rule_id"), [pytest.param(b, r, id=i) for i, b, r in ATTACKS])
def test_attack_token_is_rejected_with_its_rule(kit, build, rule_id):
    token, options = build(kit)
    mode = options.pop("mode", "rsa")
    analysis, seconds = kit.timed(lambda: kit.check(token, mode, **options))

    assert not analysis.passed
    assert rule_id in kit.failing(analysis), analysis.findings
    assert [f for f in analysis.findings if f.status is Status.ERROR] == []
    assert seconds < 0.05, f"{seconds * 1000:.1f} ms"


def test_every_attack_row_is_covered():
    rows = {name.split("-")[0] for name, _, _ in ATTACKS}
    assert rows == {f"A{n:02d}" for n in range(1, 30)}


def test_crypto_failures_share_one_message(kit):
    """A28 and A05: a tampered token and a wrong key are told apart by nobody."""
    tampered = kit.check(a28_tag(kit)[0])
    token = kit.nested("rsa")
    other = jwk.JWK.generate(kty="RSA", size=2048, use="enc", alg="RSA-OAEP-256",
                             kid=kit.keys["rsa_enc"]["kid"])
    wrong_key = kit.check(token, decryption_keys=jwk.JWKSet.from_json(
        json.dumps({"keys": [json.loads(other.export_private())]})))
    messages = {f.message for a in (tampered, wrong_key) for f in a.findings
                if f.rule_id == "JWE-KEY-BOUND" and f.status is Status.FAIL}
    assert len(messages) == 1


@pytest.mark.parametrize("build", [a08, a09, a10, a07_outer, a22_path, a23_x5u, a26_duplicate])
def test_screened_tokens_never_reach_a_key(kit, build):
    """Refused before any key is selected: key selection and decryption are not evaluated."""
    token, options = build(kit)
    analysis = kit.check(token, options.pop("mode", "rsa"), **options)
    assert "JWE-KEY-BOUND" in analysis.not_evaluated
    assert "TOK-NESTED-JWE" in analysis.not_evaluated


def test_pem_key_is_really_the_hmac_secret(kit):
    """A06 is a real key-confusion token: it verifies as HS256 with the public PEM."""
    token, _ = a06(kit)
    pem = kit.keys["ec_sig"].export_to_pem(private_key=False)
    assert pem.startswith(b"-----BEGIN PUBLIC KEY-----")
    inner = jwe.JWE()
    inner.deserialize(token, kit.keys["rsa_enc"])
    check = jws.JWS()
    check.deserialize(inner.payload.decode())
    check.allowed_algs = ["HS256"]
    check.verify(jwk.JWK(kty="oct", k=b64(pem)), "HS256")
    assert serialization.load_pem_public_key(pem) is not None


def test_id_token_is_also_off_audience(kit):
    analysis = kit.check(a20(kit)[0])
    assert {"HDR-TYP-AT-JWT", "CLM-AUD"} <= kit.failing(analysis)

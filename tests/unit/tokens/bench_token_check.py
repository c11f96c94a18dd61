"""Cost of ``policies.tokens.check_token`` next to the bare cryptography (issue 10, "Speed of
token analysis").  Not a test: run ``.venv/bin/python tests/unit/tokens/bench_token_check.py``.

For each mode (ECDH-ES+A256KW + A256GCM / ES256 on P-256, RSA-OAEP-256 with a 3072-bit key
+ A256GCM / PS256 with a 3072-bit key) it times, alternating in one loop (A, B, C, A, B, C
...), so machine noise hits all of them alike:

* ``bare``: the same steps done directly with ``cryptography`` (ECDH + Concat KDF + AES key
  unwrap, or RSA-OAEP-256; AES-GCM; ECDSA or RSA-PSS verify) and ``json``, no policy checks;
* ``jwcrypto``: jwcrypto's own nested read (JWE decrypt with the key, JWS verify);
* ``nested``: only the two jwcrypto calls ``check_token`` makes (:mod:`policies.tokens.nested`);
* ``check_token``: the whole analysis, with the keys as jwcrypto objects made once.

It prints the median microseconds per token and the ratios.
"""

from __future__ import annotations

import base64
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap
from jwcrypto import jwe, jwk, jws

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from tokenkit import Kit, make_kit

from policies.keys import public_key_set, shared_public_key_set
from policies.tokens import check_token, nested


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _gcm(cek: bytes, header_b64: str, iv: str, ct: str, tag: str) -> bytes:
    return AESGCM(cek).decrypt(unb64(iv), unb64(ct) + unb64(tag), header_b64.encode("ascii"))


def bare_ecdh(token: str, priv: ec.EllipticCurvePrivateKey,
              sig: ec.EllipticCurvePublicKey) -> dict[str, Any]:
    h, ek, iv, ct, tag = token.split(".")
    header = json.loads(unb64(h))
    epk = header["epk"]
    peer = ec.EllipticCurvePublicNumbers(int.from_bytes(unb64(epk["x"]), "big"),
                                         int.from_bytes(unb64(epk["y"]), "big"),
                                         ec.SECP256R1()).public_key()
    z = priv.exchange(ec.ECDH(), peer)
    alg = header["alg"].encode()
    other = (len(alg).to_bytes(4, "big") + alg + b"\0" * 8 + (256).to_bytes(4, "big"))
    kek = ConcatKDFHash(hashes.SHA256(), 32, other).derive(z)
    cek = aes_key_unwrap(kek, unb64(ek))
    return _verify_es256(_gcm(cek, h, iv, ct, tag).decode("ascii"), sig)


def _verify_es256(inner: str, sig: ec.EllipticCurvePublicKey) -> dict[str, Any]:
    ih, payload, signature = inner.split(".")
    raw = unb64(signature)
    der = utils.encode_dss_signature(int.from_bytes(raw[:32], "big"),
                                     int.from_bytes(raw[32:], "big"))
    sig.verify(der, f"{ih}.{payload}".encode(), ec.ECDSA(hashes.SHA256()))
    json.loads(unb64(ih))
    claims: dict[str, Any] = json.loads(unb64(payload))
    return claims


def bare_rsa(token: str, priv: rsa.RSAPrivateKey, sig: rsa.RSAPublicKey) -> dict[str, Any]:
    h, ek, iv, ct, tag = token.split(".")
    json.loads(unb64(h))
    cek = priv.decrypt(unb64(ek), padding.OAEP(padding.MGF1(hashes.SHA256()),
                                                hashes.SHA256(), None))
    inner = _gcm(cek, h, iv, ct, tag).decode("ascii")
    ih, payload, signature = inner.split(".")
    sig.verify(unb64(signature), f"{ih}.{payload}".encode(),
               padding.PSS(padding.MGF1(hashes.SHA256()), hashes.SHA256().digest_size),
               hashes.SHA256())
    json.loads(unb64(ih))
    claims: dict[str, Any] = json.loads(unb64(payload))
    return claims


def jwcrypto_read(token: str, dec: jwk.JWK, sig: jwk.JWK, alg: str, enc: str,
                  sig_alg: str) -> bytes:
    """jwcrypto alone, as documented (new ``JWE``/``JWS`` objects each time)."""
    outer = jwe.JWE()
    outer.allowed_algs = [alg, enc]
    outer.deserialize(token, key=dec)
    inner = jws.JWS()
    inner.allowed_algs = [sig_alg]
    inner.deserialize(outer.payload.decode("ascii"), key=sig)
    payload: bytes = inner.payload
    return payload


def policy_crypto(token: str, dec: jwk.JWK, sig: jwk.JWK, alg: str, enc: str,
                  sig_alg: str) -> None:
    """Only the two cryptographic calls :func:`check_token` makes (policies.tokens.nested)."""
    inner = nested.decrypt(token, dec, alg, enc, 64 * 1024).decode("ascii")
    nested.verify(inner, sig, sig_alg)


def bench_mode(kit: Kit, mode: str, sig_alg: str, dec_name: str, sig_name: str,
               rounds: int) -> str:
    """Median µs per token of each variant for one mode, timed alternately."""
    token = kit.nested(mode, sig_alg)
    dec, sig = kit.keys[dec_name], kit.public(sig_name)
    dec_set, sig_set = kit.decryption_set(), kit.issuer_set()
    issuer_json = json.dumps({"keys": [k.export_public(as_dict=True)
                                       for k in sig_set["keys"]]})
    profile = kit.profile(mode, sig_alg)
    header = json.loads(unb64(token.split(".")[0]))
    alg, enc = header["alg"], header["enc"]
    prim_dec, prim_sig = dec.get_op_key("unwrapKey"), sig.get_op_key("verify")

    def bare() -> object:
        if mode == "rsa":
            return bare_rsa(token, prim_dec, prim_sig)
        return bare_ecdh(token, prim_dec, prim_sig)

    def full(issuer: Any) -> object:
        analysis = check_token(token, decryption_keys=dec_set, issuer_jwks=issuer,
                               profile=profile, now=kit.now)
        assert analysis.passed, analysis.failing()
        return analysis

    calls: dict[str, Callable[[], object]] = {
        "bare": bare,
        "jwcrypto": lambda: jwcrypto_read(token, dec, sig, alg, enc, sig_alg),
        "nested": lambda: policy_crypto(token, dec, sig, alg, enc, sig_alg),
        "check_token": lambda: full(sig_set),
        "+public_key_set": lambda: full(public_key_set(issuer_json)),
        "+shared_public_key_set": lambda: full(shared_public_key_set(issuer_json)),
    }
    for call in calls.values():  # warm every cache once
        call()
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            begin = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - begin)
    med = {name: statistics.median(t) * 1e6 for name, t in times.items()}
    return (
        f"{alg}+{enc}/{sig_alg}\n"
        f"  median µs: bare {med['bare']:.0f} | jwcrypto {med['jwcrypto']:.0f} | nested (the "
        f"crypto calls of check_token) {med['nested']:.0f} | check_token {med['check_token']:.0f}"
        f"\n  check_token/bare {med['check_token'] / med['bare']:.2f}x, check_token/jwcrypto "
        f"{med['check_token'] / med['jwcrypto']:.2f}x, policy work (check_token - nested) "
        f"{med['check_token'] - med['nested']:.0f} µs\n"
        f"  issuer JWKS from JSON on every call: public_key_set {med['+public_key_set']:.0f} µs,"
        f" shared_public_key_set {med['+shared_public_key_set']:.0f} µs")


def run(rounds: int) -> None:
    """Print the table for both modes."""
    kit = make_kit()
    print(f"median of {rounds} alternating rounds, Python {sys.version.split()[0]}")
    for mode, sig_alg, dec_name, sig_name in (("ecdh-kw", "ES256", "ec_kw_enc", "ec_sig"),
                                              ("rsa", "PS256", "rsa_enc", "rsa_sig")):
        print(bench_mode(kit, mode, sig_alg, dec_name, sig_name, rounds))


if __name__ == "__main__":
    run(int(sys.argv[1]) if len(sys.argv) > 1 else 300)

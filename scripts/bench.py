"""Ingest benchmark: Stagegate's whole spec check against openapi-spec-validator alone.

Run on demand (``make bench``), never as a test.  For each large corpus document it prints the
median wall time of:

- **baseline**: ``openapi_spec_validator.validate(data)`` on the same parsed document (it
  stops at the first error);
- **baseline-all**: the same validator class iterating *all* errors (what a report needs);
- **ours**: :func:`policies.check.check_spec` on the raw bytes — load (JSON / YAML 1.2 with
  positions and limits), validate, every spec rule, locations of every finding;

and the ratios ``ours / baseline`` (target ≤ 1.0) and ``ours / baseline-all``.  Timings on
these machines are noisy, so only ratios measured in the same run are meaningful.

It also measures re-uploading identical bytes through the REST API (target < 50 ms): the
revision is recognised by its SHA-256 before any parsing.

Token section (also alone with ``--tokens``): throughput of
:func:`policies.tokens.check_token` on good nested tokens (tokens per second, median of the
runs) for ECDH-ES+A256KW/A256GCM with an ES256 inner JWS and RSA-OAEP-256/A256GCM (RSA 3072)
with a PS256 inner JWS, next to the same run's cost of the bare cryptography done with
``cryptography`` primitives (ECDH P-256 + Concat KDF + AES-KW unwrap + AES-GCM decrypt +
ECDSA P-256 verify; RSA-OAEP-256 decrypt + AES-GCM decrypt + RSA-PSS verify), and the ratio
checker / bare: what the screening, allow-lists, jwcrypto and the claim checks add.

Usage: ``python scripts/bench.py [--repeat N] [--corpus DIR] [--tokens] [--token-count N]
[FILE ...]``
"""

from __future__ import annotations

import argparse
import base64
import functools
import json
import os
import secrets
import statistics
import struct
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from openapi_spec_validator import (
    OpenAPIV2SpecValidator,
    OpenAPIV30SpecValidator,
    OpenAPIV31SpecValidator,
    OpenAPIV32SpecValidator,
    validate,
)
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

# the checkout under test: this one, or the one scripts/bench_check.py --baseline names
sys.path.insert(0, os.environ.get("STAGEGATE_BENCH_CODE", str(Path(__file__).resolve().parents[1])))

from policies.check import check_spec

if TYPE_CHECKING:  # annotations only: the app and the token section import these lazily
    from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes
    from flask import Flask
    from flask.testing import FlaskClient
    from jwcrypto import jwk

#: the library's own classes, unmodified, for the "all errors" baseline
LIBRARY_CLASSES = {
    "2.0": OpenAPIV2SpecValidator, "3.0": OpenAPIV30SpecValidator,
    "3.1": OpenAPIV31SpecValidator, "3.2": OpenAPIV32SpecValidator,
}

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT / "tests" / "corpus" / "public"
LARGE = [
    "osv-bench-docker-engine-v1.53.yaml",
    "adyen-checkout-v71.json",
    "box-platform.json",
    "twilio-api-v2010.json",
    "openai-api.yaml",
    "osv-bench-kubernetes.yaml",
    "kubernetes-swagger.json",
    "cloudflare-api-2024-08.json",
]


def median_time(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def baseline(data: dict[str, Any]) -> None:
    try:
        validate(data)
    except OpenAPIValidationError:
        pass
    except Exception:  # noqa: BLE001 - the plain validator crashes on some inputs; time it anyway
        pass


def baseline_all(data: dict[str, Any], version: str) -> None:
    try:
        for _ in LIBRARY_CLASSES[version](data).iter_errors():
            pass
    except Exception:  # noqa: BLE001
        pass


# ------------------------------------------------------------------------------ the app
def make_app(tmp: str) -> tuple[Flask, FlaskClient, str]:
    """A fresh app on SQLite with a developer of team Bench: ``(app, client, access
    token)``, the client sending the developer's access token (shared by bench_check.py)."""
    from flask_migrate import upgrade

    from lifecycle.accounts import apitokens
    from lifecycle.accounts.models import Membership, Team
    from lifecycle.accounts.services import create_user
    from lifecycle.app import create_app
    from lifecycle.catalog import services
    from lifecycle.core.actor import Actor, ActorKind
    from lifecycle.core.crypto_store import encode_kek
    from lifecycle.core.extensions import db

    app = create_app({
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.sqlite",
        "SECRET_KEY": secrets.token_hex(16),
        "KEY_ENCRYPTION_KEY": encode_kek(secrets.token_bytes(32)),
        "RATELIMIT_ENABLED": False,
    })
    with app.app_context():
        upgrade()
        user = create_user("bench@stagegate.test", secrets.token_urlsafe(24),
                           ["developer"], actor="bench")
        services.create_api("bench", "Bench", team="Bench",
                            actor=Actor(ActorKind.SYSTEM, "bench"))
        team = db.session.execute(db.select(Team).where(Team.name == "Bench")).scalar_one()
        db.session.add(Membership(user=user, team=team))
        db.session.commit()
        pat, _ = apitokens.create_pat(user, "bench", 1, actor="bench")
    client = app.test_client()
    exchanged = client.post("/api/v1/token", data={"grant_type": "client_credentials",
                                                    "client_secret": pat})
    assert exchanged.status_code == 200, exchanged.get_json()
    access = exchanged.get_json()["access_token"]
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {access}"
    return app, client, access


def reupload_ms(raw: bytes, repeat: int) -> float:
    """Median milliseconds for PUTting identical bytes again through the REST API."""
    from lifecycle.core.extensions import db

    with tempfile.TemporaryDirectory() as tmp:
        app, client, _ = make_app(tmp)
        created = client.post("/api/v1/apis/bench/versions", json={"version": "1.0.0"})
        assert created.status_code == 201, created.get_json()
        url = "/api/v1/apis/bench/versions/1.0.0/spec"
        first = client.put(url, data=raw, content_type="application/json")
        assert first.status_code == 201, first.get_json()
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            again = client.put(url, data=raw, content_type="application/json")
            times.append(time.perf_counter() - start)
            assert again.status_code == 200, again.get_json()
        with app.app_context():
            db.engine.dispose()
    return statistics.median(times) * 1000


# ------------------------------------------------------------------------------ tokens
#: the two profiles measured: (label, JWE alg, recipient key, inner JWS alg, issuer key)
TOKEN_CASES = (
    ("ECDH-ES+A256KW/A256GCM, ES256", "ECDH-ES+A256KW", {"kty": "EC", "crv": "P-256"},
     "ES256", {"kty": "EC", "crv": "P-256"}),
    ("RSA-OAEP-256/A256GCM, PS256", "RSA-OAEP-256", {"kty": "RSA", "size": 3072},
     "PS256", {"kty": "RSA", "size": 3072}),
)
ISSUER = "https://auth.example.com"
AUDIENCE = "https://api.example.com/orders"


def _b64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _pem_private(key: jwk.JWK) -> PrivateKeyTypes:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    return load_pem_private_key(key.export_to_pem(private_key=True, password=None), None)


def make_tokens(alg: str, enc_key: jwk.JWK, sig_alg: str, sig_key: jwk.JWK, count: int,
                now: int) -> list[str]:
    """``count`` good nested tokens (unique ``jti``) signed with ``sig_key`` and encrypted
    to ``enc_key``."""
    from jwcrypto import jwt

    tokens = []
    for i in range(count):
        claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": f"user-{i}", "client_id": "bench",
                  "iat": now, "exp": now + 300, "jti": f"bench-{i}-{now}",
                  "scope": "orders:read"}
        inner = jwt.JWT(header={"alg": sig_alg, "typ": "at+jwt", "kid": sig_key["kid"]},
                        claims=claims)
        inner.make_signed_token(sig_key)
        outer = jwt.JWT(header={"alg": alg, "enc": "A256GCM", "cty": "JWT",
                                "kid": enc_key["kid"]}, claims=inner.serialize())
        outer.make_encrypted_token(enc_key)
        tokens.append(outer.serialize())
    return tokens


def bare_crypto(alg: str, enc_private: PrivateKeyTypes, sig_public: PublicKeyTypes,
                sig_alg: str) -> Callable[[str], bytes]:
    """A function doing, with ``cryptography`` primitives only, the cryptography a nested
    token needs: unwrap/decrypt the CEK (ECDH P-256 + Concat KDF + AES-KW, or RSA-OAEP-256),
    AES-256-GCM decrypt, then verify the inner signature (ECDSA P-256 or RSA-PSS), each chosen
    once by the key's type.  No screening, no claims: the floor the checker's own work is
    compared with.

    :raises TypeError: a key neither EC nor RSA.
    """
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash
    from cryptography.hazmat.primitives.keywrap import aes_key_unwrap

    def length_prefixed(data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + data

    if isinstance(enc_private, rsa.RSAPrivateKey):  # RSA-OAEP-256
        rsa_private = enc_private

        def unwrap(header: dict[str, Any], encrypted_key: bytes) -> bytes:
            return rsa_private.decrypt(encrypted_key, padding.OAEP(
                mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None))
    elif isinstance(enc_private, ec.EllipticCurvePrivateKey):  # ECDH-ES+A256KW
        ec_private = enc_private

        def unwrap(header: dict[str, Any], encrypted_key: bytes) -> bytes:
            epk = header["epk"]
            peer = ec.EllipticCurvePublicNumbers(
                int.from_bytes(_b64(epk["x"]), "big"), int.from_bytes(_b64(epk["y"]), "big"),
                ec.SECP256R1()).public_key()
            shared = ec_private.exchange(ec.ECDH(), peer)
            other = (length_prefixed(alg.encode()) + length_prefixed(_b64(header.get("apu", "")))
                     + length_prefixed(_b64(header.get("apv", ""))) + struct.pack(">I", 256))
            kek = ConcatKDFHash(hashes.SHA256(), 32, other).derive(shared)
            return aes_key_unwrap(kek, encrypted_key)
    else:
        raise TypeError(f"{alg}: not an RSA or EC private key")

    if isinstance(sig_public, ec.EllipticCurvePublicKey):  # ES256
        ec_public = sig_public

        def check(raw: bytes, signed: bytes) -> None:
            der = encode_dss_signature(int.from_bytes(raw[:32], "big"),
                                       int.from_bytes(raw[32:], "big"))
            ec_public.verify(der, signed, ec.ECDSA(hashes.SHA256()))
    elif isinstance(sig_public, rsa.RSAPublicKey):  # PS256
        rsa_public = sig_public

        def check(raw: bytes, signed: bytes) -> None:
            rsa_public.verify(raw, signed, padding.PSS(mgf=padding.MGF1(hashes.SHA256()),
                                                       salt_length=32), hashes.SHA256())
    else:
        raise TypeError(f"{sig_alg}: not an EC or RSA public key")

    def decrypt(token: str) -> bytes:
        protected, encrypted_key, iv, ciphertext, tag = token.split(".")
        cek = unwrap(json.loads(_b64(protected)), _b64(encrypted_key))
        return AESGCM(cek).decrypt(_b64(iv), _b64(ciphertext) + _b64(tag),
                                   protected.encode("ascii"))

    def verify(jws: bytes) -> None:
        head, payload, signature = jws.decode("ascii").split(".")
        check(_b64(signature), f"{head}.{payload}".encode("ascii"))

    def run(token: str) -> bytes:
        plaintext = decrypt(token)
        verify(plaintext)
        return plaintext

    return run


def token_bench(repeat: int, count: int) -> None:
    """Print checker throughput vs the bare cryptography for each of :data:`TOKEN_CASES`."""
    print(f"\ntoken analysis: {count} good nested tokens per run, median of {repeat} runs; "
          "policies.tokens.check_token vs the bare cryptography (`cryptography` primitives)")
    header = f"{'profile':34} {'checker':>11} {'bare crypto':>13} {'checker/bare':>12}"
    print(header)
    print("-" * len(header))
    for case in TOKEN_CASES:
        label = case[0]
        t_checker, t_bare = token_case(*case, repeat=repeat, count=count)
        print(f"{label:34} {1 / t_checker:7.0f} /s {1 / t_bare:9.0f} /s {t_checker / t_bare:12.2f}"
              f"   ({t_checker * 1000:.2f} ms vs {t_bare * 1000:.2f} ms per token)")


def token_case(label: str, alg: str, enc_params: dict[str, Any], sig_alg: str,
               sig_params: dict[str, Any], *,
               repeat: int, count: int) -> tuple[float, float]:
    """Median seconds per token ``(checker, bare cryptography)`` for one profile."""
    from jwcrypto import jwk

    from policies.tokens import MemoryReplayCache, TokenProfile, check_token

    enc_key = jwk.JWK.generate(**enc_params, use="enc", alg=alg)
    enc_key["kid"] = enc_key.thumbprint()
    sig_key = jwk.JWK.generate(**sig_params, use="sig", alg=sig_alg)
    sig_key["kid"] = sig_key.thumbprint()
    now = int(time.time())
    tokens = make_tokens(alg, enc_key, sig_alg, sig_key, count, now)
    decryption = jwk.JWKSet()
    decryption.add(enc_key)
    issuer = jwk.JWKSet()
    issuer.add(jwk.JWK(**sig_key.export_public(as_dict=True)))
    profile = TokenProfile.from_extension({
        "alg": alg, "enc": "A256GCM", "signing-alg": sig_alg, "issuer": ISSUER,
        "audience": AUDIENCE, "max-lifetime": 900})

    def checker() -> None:
        cache = MemoryReplayCache()  # fresh per run: every jti is new again
        for token in tokens:
            check_token(token, decryption_keys=decryption, issuer_jwks=issuer,
                        profile=profile, now=now, replay_cache=cache)

    first = check_token(tokens[0], decryption_keys=decryption, issuer_jwks=issuer,
                        profile=profile, now=now, replay_cache=MemoryReplayCache())
    failing = [f.rule_id for f in first.failing()]
    assert first.passed, f"{label}: the benchmark token does not pass: {failing}"
    run = bare_crypto(alg, _pem_private(enc_key), _pem_private(sig_key).public_key(), sig_alg)
    assert run(tokens[0]).count(b".") == 2  # the bare path really decrypts and verifies

    def bare() -> None:
        for token in tokens:
            run(token)

    return median_time(checker, repeat) / count, median_time(bare, repeat) / count

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", help="corpus file names (default: the large ones)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument("--corpus", type=Path,
                        default=DEFAULT_CORPUS)
    parser.add_argument("--tokens", action="store_true",
                        help="run only the token-analysis section (default: both sections)")
    parser.add_argument("--token-count", type=int, default=200,
                        help="good tokens analysed per run in the token section")
    args = parser.parse_args()
    if args.tokens:
        token_bench(args.repeat, args.token_count)
        return 0
    names = args.files or LARGE
    print(f"corpus: {args.corpus}   repeat: {args.repeat} (medians)   "
          f"python: {sys.version.split()[0]}")
    header = f"{'document':38} {'size':>8} {'baseline':>9} {'base-all':>9} {'ours':>8} " \
             f"{'ours/base':>9} {'ours/all':>8} {'findings':>8}"
    print(header)
    print("-" * len(header))
    for name in names:
        raw = (args.corpus / name).read_bytes()
        check = check_spec(raw)
        data = check.document.data
        version = check.document.openapi_version or "3.0"
        t_base = median_time(functools.partial(baseline, data), args.repeat)
        t_all = median_time(functools.partial(baseline_all, data, version), args.repeat)
        t_ours = median_time(functools.partial(check_spec, raw), args.repeat)
        failed = sum(1 for f in check.findings if f.status != "pass")
        print(f"{name[:38]:38} {len(raw) / 1e6:7.2f}M {t_base:8.2f}s {t_all:8.2f}s "
              f"{t_ours:7.2f}s {t_ours / t_base:9.2f} {t_ours / t_all:8.2f} {failed:8d}")
    raw = (args.corpus / "kubernetes-swagger.json").read_bytes()
    print(f"\nre-upload of identical bytes (kubernetes-swagger.json, 4.1 MB) through "
          f"PUT …/spec: {reupload_ms(raw, max(args.repeat, 5)):.1f} ms median (target < 50 ms)")
    token_bench(args.repeat, args.token_count)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Micro-benchmark of the gateway token validator (issue 11, acceptance 6: in-process part).

Not a test.  Measures, per request and in one run, for two profiles
(ECDH-ES+A256KW / A256GCM / ES256 and RSA-OAEP-256 / A256GCM / PS256 with RSA 3072 keys):

* ``wsgi-repeat``: the validator WSGI app answering a subrequest for a token it has already
  verified (the verification cache hit; target: ≤ 1 ms p50 added per request),
* ``wsgi-new``: the app answering a subrequest with a token it has never seen (full
  :func:`policies.tokens.check_token`),
* ``check-new``: :func:`check_token` alone on a new token (the checker without WSGI),
* ``bare-crypto``: the bare cryptographic operations with jwcrypto on the same kind of token —
  JWE deserialize + decrypt with the one key, JWS deserialize + verify with the one key, no
  policy screening (target: ``wsgi-new`` ≤ 2 × this).

The modes alternate in small batches (A/B/C/D, A/B/C/D, ...) so that CPU frequency changes,
other load on the 2-core machine and garbage collection hit all modes alike; the app is called
with a raw WSGI environ and a no-op ``start_response`` and decision sink (no HTTP, no nginx:
the end-to-end benchmark through nginx belongs to the proof runner).  Keys and tokens are made
at start-up and kept in memory only.

Usage::

    .venv/bin/python scripts/bench_validator.py [--tokens 400] [--batch 20]

Output: one table per profile with p50 / p99 in microseconds per mode, then the ratios
``wsgi-new / bare-crypto`` and ``wsgi-repeat`` in milliseconds.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from jwcrypto import jwe, jwk, jws

from lifecycle.gateway.attacks import ProofKeys, TokenForge
from lifecycle.gateway.validator import (
    GatewayDecision,
    MemoryReplayStore,
    VersionTrust,
    make_validator_app,
)
from policies.tokens import TokenProfile, check_token

VERSION = "bench/1.0.0"
PROFILES = (
    ("ECDH-ES+A256KW/ES256", {"alg": "ECDH-ES+A256KW", "signing-alg": "ES256"}),
    ("RSA-OAEP-256/PS256", {"alg": "RSA-OAEP-256", "signing-alg": "PS256"}),
)


class NullSink:
    """A decision sink that drops decisions (the benchmark measures the validator)."""

    def record(self, decision: GatewayDecision) -> None:
        """Drop ``decision``."""


def _start_response(status: str, headers: list[tuple[str, str]],
                    exc_info: Any = None) -> Callable[[bytes], object]:
    return lambda data: None


def _environ(token: str) -> dict[str, Any]:
    return {"REQUEST_METHOD": "GET", "PATH_INFO": "/check", "REMOTE_ADDR": "127.0.0.1",
            "HTTP_AUTHORIZATION": f"Bearer {token}", "HTTP_X_STAGEGATE_API_VERSION": VERSION,
            "HTTP_X_ORIGINAL_URI": "/api/items?page=2", "HTTP_X_REAL_IP": "203.0.113.7"}


def _bare(token: str, dec_key: jwk.JWK, sig_key: jwk.JWK, alg: str, enc: str,
          sig_alg: str) -> None:
    outer = jwe.JWE(algs=[alg, enc])
    outer.deserialize(token, key=dec_key)
    inner = jws.JWS()
    inner.allowed_algs = [sig_alg]
    inner.deserialize(outer.payload.decode("ascii"))
    inner.verify(sig_key, alg=sig_alg)


def _timed(run: Callable[[], object]) -> float:
    start = time.perf_counter_ns()
    run()
    return (time.perf_counter_ns() - start) / 1000.0  # microseconds


def bench_profile(name: str, ext: dict[str, Any], n_tokens: int, batch: int) -> dict[str, float]:
    """Run the four modes alternately for one profile; print and return the p50s (µs)."""
    profile = TokenProfile.from_extension({
        **ext, "enc": "A256GCM", "issuer": "https://as.example",
        "audience": "https://api.example/bench", "max-lifetime": 900})
    keys = ProofKeys.generate(profile)
    now = int(time.time())
    trust: VersionTrust = keys.trust(VERSION, profile)
    forge = TokenForge(profile, keys, now)
    tokens = [forge.good() for _ in range(n_tokens)]
    fresh_app = iter(tokens)      # tokens the app has never seen
    fresh_check = iter([forge.good() for _ in range(n_tokens)])
    fresh_bare = iter([forge.good() for _ in range(n_tokens)])
    app = make_validator_app(lambda v: trust if v == VERSION else None,
                             clock=lambda: datetime.now(UTC), replay=MemoryReplayStore(),
                             sink=NullSink(), cache_size=n_tokens * 2 + 10)
    repeated = _environ(forge.good())
    list(app(repeated, _start_response))  # warm the cache with the repeated token
    dec_key = keys.encryption
    sig_key = jwk.JWK.from_json(keys.issuer_signing.export_public())
    alg, enc, sig_alg = str(profile.alg), str(profile.enc), str(profile.signing_alg)

    def app_call(environ: dict[str, Any]) -> Iterable[bytes]:
        return list(app(environ, _start_response))

    modes: dict[str, Callable[[], object]] = {
        "wsgi-repeat": lambda: app_call(repeated),
        "wsgi-new": lambda: app_call(_environ(next(fresh_app))),
        "check-new": lambda: check_token(next(fresh_check), decryption_keys=trust.decryption_keys,
                                         issuer_jwks=trust.issuer_jwks, profile=profile),
        "bare-crypto": lambda: _bare(next(fresh_bare), dec_key, sig_key, alg, enc, sig_alg),
    }
    for mode in ("wsgi-new", "check-new", "bare-crypto"):   # warm-up (imports, JIT caches)
        modes[mode]()
    samples: dict[str, list[float]] = {mode: [] for mode in modes}
    rounds = (n_tokens - 1) // batch
    gc.collect()
    for _ in range(rounds):
        for mode, run in modes.items():
            samples[mode] += [_timed(run) for _ in range(batch)]
    print(f"\n{name}  ({rounds} alternating rounds x {batch} requests per mode)")
    print(f"  {'mode':<12} {'p50 µs':>9} {'p99 µs':>9} {'mean µs':>9}")
    p50: dict[str, float] = {}
    for mode, values in samples.items():
        values.sort()
        p50[mode] = statistics.median(values)
        p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
        print(f"  {mode:<12} {p50[mode]:>9.1f} {p99:>9.1f} {statistics.fmean(values):>9.1f}")
    print(f"  wsgi-repeat p50 = {p50['wsgi-repeat'] / 1000:.3f} ms (target <= 1 ms)")
    print(f"  wsgi-new / bare-crypto (p50) = {p50['wsgi-new'] / p50['bare-crypto']:.2f}x "
          "(target <= 2x)")
    print(f"  check-new / bare-crypto (p50) = {p50['check-new'] / p50['bare-crypto']:.2f}x; "
          f"wsgi-new - check-new = {p50['wsgi-new'] - p50['check-new']:.1f} µs")
    return p50


def main() -> None:
    """Parse the options and run both profiles."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=400, help="new tokens per mode")
    parser.add_argument("--batch", type=int, default=20, help="requests per mode per round")
    options = parser.parse_args()
    for name, ext in PROFILES:
        bench_profile(name, ext, options.tokens, options.batch)


if __name__ == "__main__":
    main()

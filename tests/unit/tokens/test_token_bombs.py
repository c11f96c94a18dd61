"""Zip bombs and PBES2 iteration bombs are refused before any decompression or key
derivation: time and peak memory stay flat as the bomb grows (issue 3, acceptance 3)."""

from __future__ import annotations

import json
import os
import statistics
import time
import tracemalloc

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from jwcrypto import jwe
from tokenkit import b64, b64json

from policies.tokens import TokenLimits

MIB = 1024 * 1024
BOMB_SIZES = (1 * MIB, 5 * MIB, 20 * MIB)
#: a limit large enough to let every bomb past the size screen, so the zip rule must act
ROOMY = TokenLimits(max_token_bytes=64 * 1024)


def zip_bomb(kit, size: int) -> str:
    """A real nested-looking token whose plaintext inflates to ``size`` bytes."""
    return kit.encrypt(json.dumps({"pad": "A" * size}), zip="DEF")


def measure(call) -> tuple[float, int]:
    """``(median seconds of 5 runs, peak bytes allocated during one run)``."""
    times = []
    for _ in range(5):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    tracemalloc.start()
    try:
        call()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return statistics.median(times), peak


@pytest.fixture(scope="module")
def bombs(kit):
    return {size: zip_bomb(kit, size) for size in BOMB_SIZES}


def test_bombs_are_real(kit, bombs):
    """Control: jwcrypto alone (its defaults) inflates the smallest bomb in full."""
    token = jwe.JWE()
    token.deserialize(bombs[MIB], kit.keys["rsa_enc"])
    assert len(token.payload) > MIB


def test_zip_bombs_are_refused_with_flat_time_and_memory(kit, bombs):
    results = {}
    for size, token in bombs.items():
        analysis = kit.check(token, limits=ROOMY)
        assert "JWE-ZIP-DENIED" in kit.failing(analysis)
        assert "JWE-KEY-BOUND" in analysis.not_evaluated  # no key touched, nothing decrypted
        results[size] = measure(lambda t=token: kit.check(t, limits=ROOMY))
    for size, (seconds, peak) in results.items():
        assert peak < len(bombs[size]) + 2 * MIB, (size, peak)
        assert seconds < 0.05, (size, seconds)
    small, large = results[BOMB_SIZES[0]], results[BOMB_SIZES[-1]]
    # 20x the plaintext: inflating it would cost tens of ms and 20 MiB
    assert large[0] - small[0] < 0.02  # generous: CI machines are noisy; memory is the proof
    assert large[1] - small[1] < MIB


def test_zip_bomb_over_the_size_limit_is_refused_by_size(kit, bombs):
    analysis = kit.check(bombs[20 * MIB])
    assert "TOK-SIZE-LIMIT" in kit.failing(analysis)
    assert analysis.outer_header is None  # not even the header was decoded


def pbes2_token(kit, p2c: int) -> str:
    header = {"alg": "PBES2-HS512+A256KW", "enc": "A256GCM", "cty": "JWT", "p2c": p2c,
              "p2s": b64(os.urandom(16)), "kid": kit.keys["rsa_enc"]["kid"]}
    return ".".join([b64json(header)] + [b64(os.urandom(n)) for n in (40, 12, 300, 16)])


def test_pbes2_is_refused_before_key_derivation(kit):
    counts = (1_000, 1_000_000, 2_147_483_647)
    results = {}
    for p2c in counts:
        token = pbes2_token(kit, p2c)
        analysis = kit.check(token)
        assert "JWE-PBES2-P2C" in kit.failing(analysis)
        assert "JWE-KEY-BOUND" in analysis.not_evaluated
        results[p2c] = measure(lambda t=token: kit.check(t))
    assert all(seconds < 0.05 for seconds, _ in results.values())
    assert all(peak < MIB for _, peak in results.values())
    assert results[counts[-1]][0] - results[counts[0]][0] < 0.02


def test_pbkdf2_control_is_expensive():
    """Control for the test above: a fifth of its middle ``p2c`` already costs > 20 ms, so a
    flat time there means PBKDF2 never ran."""
    start = time.perf_counter()
    PBKDF2HMAC(hashes.SHA512(), 32, b"salt" * 4, 200_000).derive(b"password")
    assert time.perf_counter() - start > 0.02

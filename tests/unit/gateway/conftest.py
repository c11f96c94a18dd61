"""Fixtures for the gateway validator and attack-matrix tests: ephemeral keys per session
(ECDH-ES+A256KW/ES256 ``ec`` and RSA-OAEP-256/PS256 ``rsa``); helpers in ``gatewaykit``."""

from __future__ import annotations

import time

import pytest
from gatewaykit import Setup, make_profile

from lifecycle.gateway.attacks import ProofKeys


@pytest.fixture(scope="session")
def ec() -> Setup:
    profile = make_profile()
    return Setup(profile, ProofKeys.generate(profile), int(time.time()))


@pytest.fixture(scope="session")
def rsa() -> Setup:
    profile = make_profile("RSA-OAEP-256", "PS256")
    return Setup(profile, ProofKeys.generate(profile), int(time.time()))

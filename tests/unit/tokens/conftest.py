"""Fixtures for the token-checker tests: ``kit`` (keys generated once per session)."""

from __future__ import annotations

import pytest
from tokenkit import Kit, make_kit

from policies.tokens import TokenLimits


@pytest.fixture(scope="session")
def kit() -> Kit:
    return make_kit()


@pytest.fixture
def limits_64k() -> TokenLimits:
    return TokenLimits(max_token_bytes=64 * 1024)

"""The framework-free checker for nested (sign-then-encrypt) JWT access tokens.

::

    from policies.tokens import check_token, TokenAnalysis, TokenProfile, TokenLimits
    from policies.tokens import ReplayCache, MemoryReplayCache
    from policies.tokens import load_decryption_keys, KeyFileError, has_secret

See ``docs/tokens.md`` for the order of checks and the jwcrypto gaps they close.
"""

from policies import token_rules as _token_rules  # noqa: F401 - registers the rule ids
from policies.tokens.check import TokenAnalysis, check_token, fingerprint
from policies.tokens.keys import KeyFileError, has_secret, load_decryption_keys
from policies.tokens.profile import TokenLimits, TokenProfile
from policies.tokens.replay import MemoryReplayCache, ReplayCache, replay_key

__all__ = ["KeyFileError", "MemoryReplayCache", "ReplayCache", "TokenAnalysis", "TokenLimits",
           "TokenProfile", "check_token", "fingerprint", "has_secret", "load_decryption_keys",
           "replay_key"]

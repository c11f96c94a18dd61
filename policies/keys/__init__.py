"""Key checks: the JWKS checker and the per-key facts it shares with the token checker.

::

    from policies.keys import check_jwks, compare_jwks, check_key_urls, public_key_set
    from policies.keys import JwksAnalysis, KeySummary
"""

from policies.keys.jwks import (
    JwksAnalysis,
    KeySummary,
    check_jwks,
    check_key_urls,
    compare_jwks,
    public_key_set,
)

__all__ = ["JwksAnalysis", "KeySummary", "check_jwks", "check_key_urls", "compare_jwks",
           "public_key_set"]

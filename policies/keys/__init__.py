"""Key checks: the JWKS checker and the per-key facts it shares with the token checker.

::

    from policies.keys import check_jwks, compare_jwks, check_key_urls, public_key_set
    from policies.keys import key_values, parse_public_key, KeyValue, ParsedKey
    from policies.keys import shared_public_key_set  # a read-only set, made once per content
    from policies.keys import JwksAnalysis, KeySummary

Keys are compared by value (:mod:`policies.keys.canonical`), never by their base64url
spelling.  To check an issuer JWKS against a version's managed keys, call
``compare_jwks(issuer_jwks, managed_public_jwks)``.
"""

from policies.keys.canonical import KeyValue, ParsedKey, parse_public_key
from policies.keys.jwks import (
    JwksAnalysis,
    KeySummary,
    check_jwks,
    check_key_urls,
    compare_jwks,
    key_values,
    public_key_set,
    shared_public_key_set,
)

__all__ = ["JwksAnalysis", "KeySummary", "KeyValue", "ParsedKey", "check_jwks",
           "check_key_urls", "compare_jwks", "key_values", "parse_public_key", "public_key_set",
           "shared_public_key_set"]

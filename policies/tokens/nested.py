"""The two cryptographic steps, with jwcrypto restricted to exactly the screened algorithms.

Each call gets one key (never a key set, so there is no try-every-key loop), allowed
algorithms holding only the header's values, an explicit object type (a ``JWE`` for the outer
layer, a ``JWS`` for the inner one: the CVE-2022-3102 type confusion cannot arise) and, for
decryption, a ``max_plaintext`` cap.  Callers screen the token first (:mod:`.screen`):
compact serialization only, no ``zip``, no PBES2, no RSA1_5, no ``crit``/``b64``, a valid
``epk`` reach this module.

Speed: jwcrypto deep-copies its whole header-parameter registry into every ``JWE`` and
``JWS`` object it creates (about 100 µs and 85 µs, a third of a token analysis on top of the
cryptography).  The registry is only read while a token is parsed and checked, so
:func:`_fresh` makes the objects from one template each, sharing one registry; every other
attribute is copied one level deep, so no state is shared between analyses.
"""

from __future__ import annotations

import copy
from typing import Any, TypeVar

from jwcrypto import jwe, jwk, jws

_T = TypeVar("_T")
_JWE_TEMPLATE = jwe.JWE()
_JWS_TEMPLATE = jws.JWS()


class CryptoFailure(Exception):
    """Decryption or verification failed (deliberately not more specific: RFC 7516 §11.5)."""


def _fresh(template: _T) -> _T:
    """A new object like ``template`` (made by its class's ``__init__`` without arguments):
    the ``header_registry`` is shared (read-only during parsing), every other attribute is a
    shallow copy (fresh dicts and lists)."""
    obj: Any = object.__new__(type(template))
    for name, value in vars(template).items():
        setattr(obj, name, value if name == "header_registry" else copy.copy(value))
    result: _T = obj
    return result


def decrypt(token: str, key: jwk.JWK, alg: str, enc: str, max_plaintext: int) -> bytes:
    """Decrypt a compact JWE with ``key``; the plaintext is at most ``max_plaintext`` bytes.

    :param token: the compact JWE (already screened: five base64url segments).
    :param key: the one decryption key its ``kid`` names.
    :param alg: the header's ``alg``, the only key-management algorithm allowed.
    :param enc: the header's ``enc``, the only content encryption allowed.
    :raises CryptoFailure: any failure (wrong key, tampered IV/ciphertext/tag/header).
    """
    try:
        outer = _fresh(_JWE_TEMPLATE)
        outer.allowed_algs = [alg, enc]
        outer.deserialize(token)  # parse only; decrypt below with an explicit cap
        outer.decrypt(key, max_plaintext=max_plaintext)
        plaintext = outer.payload
    except Exception as exc:  # noqa: BLE001 - jwcrypto raises many unrelated types
        raise CryptoFailure(type(exc).__name__) from None
    if not isinstance(plaintext, bytes) or len(plaintext) > max_plaintext:
        raise CryptoFailure("plaintext too large")
    return plaintext


def verify(token: str, key: jwk.JWK, alg: str) -> None:
    """Verify a compact JWS signed with ``alg`` against ``key``.

    :raises CryptoFailure: the signature does not verify (or the token is malformed).
    """
    try:
        inner = _fresh(_JWS_TEMPLATE)
        inner.allowed_algs = [alg]
        inner.deserialize(token)
        inner.verify(key, alg=alg)
    except Exception as exc:  # noqa: BLE001 - jwcrypto raises many unrelated types
        raise CryptoFailure(type(exc).__name__) from None

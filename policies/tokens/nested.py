"""The two cryptographic steps, with jwcrypto restricted to exactly the screened algorithms.

Each call gets one key (never a key set, so there is no try-every-key loop), ``algs`` holding
only the header's values, ``expected_type`` and ``strict_serialization=True``, and the
decryption a ``max_plaintext`` cap.  Callers screen the token first (:mod:`.screen`): no
``zip``, no PBES2, no RSA1_5, a valid ``epk`` reach this module.
"""

from __future__ import annotations

from jwcrypto import jwe, jwk, jwt


class CryptoFailure(Exception):
    """Decryption or verification failed (deliberately not more specific: RFC 7516 §11.5)."""


def decrypt(token: str, key: jwk.JWK, alg: str, enc: str, max_plaintext: int) -> bytes:
    """Decrypt a compact JWE with ``key``; the plaintext is at most ``max_plaintext`` bytes.

    :raises CryptoFailure: any failure (wrong key, tampered IV/ciphertext/tag/header).
    """
    try:
        outer = jwt.JWT(algs=[alg, enc], expected_type="JWE", strict_serialization=True,
                        check_claims=False)
        outer.deserialize(token)  # parse only; decrypt below with an explicit cap
        if not isinstance(outer.token, jwe.JWE):
            raise CryptoFailure("not a JWE")
        outer.token.decrypt(key, max_plaintext=max_plaintext)
        plaintext = outer.token.payload
    except CryptoFailure:
        raise
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
        jwt.JWT(jwt=token, key=key, algs=[alg], expected_type="JWS",
                strict_serialization=True, check_claims=False)
    except Exception as exc:  # noqa: BLE001 - jwcrypto raises many unrelated types
        raise CryptoFailure(type(exc).__name__) from None

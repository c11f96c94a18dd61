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

The profiles Stagegate recommends — RSA-OAEP / RSA-OAEP-256 with A128/192/256GCM,
and ES256/384/512, PS256/384/512, RS256/384/512 signatures — take a direct path with
``cryptography`` (the same primitives, padding and hash choices jwcrypto uses, RFC 7518
§3.3–3.5, §4.3, §5.3), without jwcrypto's object model and its second parse of the headers
(about 0.1 ms of a first-seen token at the gateway validator).  It is stricter, never looser:
the CEK must have the size of ``enc``, the GCM IV 96 bits and the tag 128 bits, an ECDSA
signature exactly twice the curve's coordinate size and the key's curve that of ``alg``.
Everything else goes through jwcrypto as before.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from typing import Any, TypeVar

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
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


#: the RSA-OAEP variants jwcrypto decrypts (RSA-OAEP-384/512 it does not, and stay refused)
_OAEP_HASH: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "RSA-OAEP": hashes.SHA1, "RSA-OAEP-256": hashes.SHA256}
_GCM_BYTES = {"A128GCM": 16, "A192GCM": 24, "A256GCM": 32}
_SIG_HASH: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}
_EC_CURVE = {"ES256": ("P-256", 32), "ES384": ("P-384", 48), "ES512": ("P-521", 66)}


def _b64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _direct_decrypt(token: str, key: jwk.JWK, alg: str, enc: str) -> bytes:
    """RSA-OAEP* key unwrap + AES-GCM, as RFC 7516 §5.2 (compact serialization: the AAD is
    the protected header segment as written).  :raises Exception: on any failure."""
    head, encrypted_key, iv_text, ciphertext, tag_text = token.split(".")
    private = key.get_op_key("unwrapKey")
    if not isinstance(private, rsa.RSAPrivateKey):
        raise ValueError("not an RSA private key")
    digest = _OAEP_HASH[alg]()
    cek = private.decrypt(_b64(encrypted_key), padding.OAEP(
        mgf=padding.MGF1(digest), algorithm=digest, label=None))
    iv, tag = _b64(iv_text), _b64(tag_text)
    if len(cek) != _GCM_BYTES[enc] or len(iv) != 12 or len(tag) != 16:
        raise ValueError("wrong CEK, IV or tag size")
    return AESGCM(cek).decrypt(iv, _b64(ciphertext) + tag, head.encode("ascii"))


def _direct_verify(token: str, key: jwk.JWK, alg: str) -> None:
    """ES*, PS*, RS* signature of a compact JWS (RFC 7518 §3.3–3.5).
    :raises Exception: on any failure."""
    head, payload, signature_text = token.split(".")
    signed = f"{head}.{payload}".encode("ascii")
    signature = _b64(signature_text)
    digest = _SIG_HASH[alg[2:]]()
    if alg.startswith("ES"):
        curve, size = _EC_CURVE[alg]
        if key.get("crv") != curve:  # jwcrypto skips its curve check once the key is cached
            raise ValueError("the key's curve is not the one of alg")
        public = key.get_op_key("verify", curve)
        if not isinstance(public, ec.EllipticCurvePublicKey) or len(signature) != 2 * size:
            raise ValueError("not a key of the curve, or a signature of the wrong size")
        der = encode_dss_signature(int.from_bytes(signature[:size], "big"),
                                   int.from_bytes(signature[size:], "big"))
        public.verify(der, signed, ec.ECDSA(digest))
        return
    public = key.get_op_key("verify")
    if not isinstance(public, rsa.RSAPublicKey):
        raise ValueError("not an RSA public key")
    pad: padding.AsymmetricPadding = padding.PSS(
        mgf=padding.MGF1(digest), salt_length=digest.digest_size) \
        if alg.startswith("PS") else padding.PKCS1v15()
    public.verify(signature, signed, pad, digest)


def decrypt(token: str, key: jwk.JWK, alg: str, enc: str, max_plaintext: int) -> bytes:
    """Decrypt a compact JWE with ``key``; the plaintext is at most ``max_plaintext`` bytes.

    :param token: the compact JWE (already screened: five base64url segments).
    :param key: the one decryption key its ``kid`` names.
    :param alg: the header's ``alg``, the only key-management algorithm allowed.
    :param enc: the header's ``enc``, the only content encryption allowed.
    :raises CryptoFailure: any failure (wrong key, tampered IV/ciphertext/tag/header).
    """
    if alg in _OAEP_HASH and enc in _GCM_BYTES and key.get("kty") == "RSA":
        try:
            plaintext = _direct_decrypt(token, key, alg, enc)
        except Exception as exc:  # noqa: BLE001 - any failure is a refusal
            raise CryptoFailure(type(exc).__name__) from None
        if len(plaintext) > max_plaintext:
            raise CryptoFailure("plaintext too large")
        return plaintext
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
    if alg[:2] in ("ES", "PS", "RS") and alg[2:] in _SIG_HASH:
        try:
            _direct_verify(token, key, alg)
        except Exception as exc:  # noqa: BLE001 - any failure is a refusal
            raise CryptoFailure(type(exc).__name__) from None
        return
    try:
        inner = _fresh(_JWS_TEMPLATE)
        inner.allowed_algs = [alg]
        inner.deserialize(token)
        inner.verify(key, alg=alg)
    except Exception as exc:  # noqa: BLE001 - jwcrypto raises many unrelated types
        raise CryptoFailure(type(exc).__name__) from None

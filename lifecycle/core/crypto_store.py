"""The key-encryption key (KEK) and sealing of private key material at rest.

Managed private keys are stored only as :func:`seal` output: AES-256-GCM (``cryptography``'s
``AESGCM``) under the KEK, with a caller-given associated data (the key's version id and
``kid``), so a sealed blob copied to another row does not open.

Where the KEK comes from:

- ``STAGEGATE_KEY_ENCRYPTION_KEY`` (environment) or the ``KEY_ENCRYPTION_KEY`` setting:
  base64url (padding optional) of exactly 32 random bytes.  Required in the scaled mode
  (``DATABASE_URL`` set): every process must share it.
- otherwise (embedded mode) the file ``key_encryption_key`` in the instance folder, created
  with 32 random bytes on first use, mode 0600 (like the secret key in
  :mod:`lifecycle.core.config`).  Back it up with the database: without it the managed keys
  cannot be opened.

Blob layout: ``b"SG1" || kek_id (8 bytes) || nonce (12 bytes) || ciphertext+tag``, where
``kek_id`` is the first 8 bytes of SHA-256 of the KEK (tells a wrong KEK from tampering).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import Flask, current_app

KEK_BYTES = 32
KEK_FILE = "key_encryption_key"
ENV_NAME = "STAGEGATE_KEY_ENCRYPTION_KEY"
_MAGIC = b"SG1"
_ID_LEN = 8
_NONCE_LEN = 12


class KeyStoreError(RuntimeError):
    """The KEK is missing or malformed, or a sealed blob cannot be opened.

    ``message`` is one sentence for an operator; it never contains key material.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class WrongKeyEncryptionKey(KeyStoreError):
    """The blob was sealed under a different KEK than the configured one."""


def decode_kek(text: str) -> bytes:
    """The 32 bytes of a base64url KEK text (padding optional).

    :raises KeyStoreError: not base64url, or not exactly 32 bytes.
    """
    cleaned = str(text).strip()
    try:
        raw = base64.urlsafe_b64decode(cleaned + "=" * (-len(cleaned) % 4))
    except (binascii.Error, ValueError):
        raise KeyStoreError(f"{ENV_NAME} is not base64url text.") from None
    if len(raw) != KEK_BYTES:
        raise KeyStoreError(f"{ENV_NAME} must encode exactly {KEK_BYTES} bytes "
                            f"(it encodes {len(raw)}).")
    return raw


def encode_kek(raw: bytes) -> str:
    """Unpadded base64url text of a KEK (what ``STAGEGATE_KEY_ENCRYPTION_KEY`` holds)."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def kek_id(kek: bytes) -> bytes:
    """The 8-byte id of a KEK stored with every blob (SHA-256 prefix; not secret)."""
    return hashlib.sha256(b"stagegate-kek-id\x00" + kek).digest()[:_ID_LEN]


def current_kek(app: Flask | None = None) -> bytes:
    """The KEK of ``app`` (default: the current app), see the module docstring.

    :raises KeyStoreError: configured but malformed, or missing in the scaled mode.
    """
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    configured = os.environ.get(ENV_NAME) or app.config.get("KEY_ENCRYPTION_KEY")
    if configured:
        return decode_kek(str(configured))
    if "DATABASE_URL" in os.environ:
        raise KeyStoreError(f"{ENV_NAME} is not set. In the scaled mode every process needs "
                            f"the same key-encryption key: base64url of {KEK_BYTES} random "
                            "bytes.")
    return _instance_kek(Path(app.instance_path))


def _instance_kek(instance: Path) -> bytes:
    """The KEK file of the instance folder, created on first use (mode 0600)."""
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / KEK_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as fh:
            fh.write(encode_kek(secrets.token_bytes(KEK_BYTES)) + "\n")
    try:
        return decode_kek(path.read_text())
    except OSError as exc:
        raise KeyStoreError(f"the key-encryption key file {path} cannot be read: "
                            f"{exc.strerror or exc}.") from None


def seal(plaintext: bytes, associated_data: bytes, kek: bytes) -> bytes:
    """Encrypt ``plaintext`` under ``kek`` (AES-256-GCM, fresh 96-bit nonce).

    :param associated_data: bound to the blob; :func:`unseal` needs the same bytes.
    :returns: the blob (see the module docstring for its layout).
    """
    nonce = secrets.token_bytes(_NONCE_LEN)
    return _MAGIC + kek_id(kek) + nonce + AESGCM(kek).encrypt(nonce, plaintext,
                                                                associated_data)


def unseal(blob: bytes, associated_data: bytes, kek: bytes) -> bytes:
    """Decrypt a :func:`seal` blob.

    :raises WrongKeyEncryptionKey: the blob was sealed under another KEK.
    :raises KeyStoreError: the blob is malformed, tampered with, or bound to other
        associated data.
    """
    blob = bytes(blob)
    head = len(_MAGIC) + _ID_LEN + _NONCE_LEN
    if len(blob) <= head or not blob.startswith(_MAGIC):
        raise KeyStoreError("the sealed key is not in a format Stagegate knows.")
    if blob[len(_MAGIC):len(_MAGIC) + _ID_LEN] != kek_id(kek):
        raise WrongKeyEncryptionKey("the sealed key was encrypted under a different "
                                    "key-encryption key than the configured one.")
    nonce = blob[len(_MAGIC) + _ID_LEN:head]
    try:
        return AESGCM(kek).decrypt(nonce, blob[head:], associated_data)
    except InvalidTag:
        raise KeyStoreError("the sealed key does not authenticate (tampered, or stored for "
                            "another key).") from None

"""The engine's secret key: AES-GCM for vectors at rest, HMAC for page tokens and appkey digests.

The key comes from ``FACERECO_SECRET_KEY`` (64 hex characters or urlsafe base64 of 32 bytes)
or from ``<data dir>/secret.key``, created atomically on first run with permissions 0600. Subkeys are
derived per purpose, so a token signature can never be replayed as anything else.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_FILE_NAME = "secret.key"
NONCE_BYTES = 12


def _parse_key(text: str, source: str) -> bytes:
    text = text.strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        try:
            key = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except (binascii.Error, ValueError):
            key = b""
    if len(key) != 32:
        raise ValueError(f"{source} must hold 32 bytes as 64 hex characters or urlsafe base64")
    return key


def load_or_create_key(data_dir: Path) -> bytes:
    """The 32-byte master key: from the environment, else the key file (made once, 0600)."""
    from_env = os.environ.get("FACERECO_SECRET_KEY")
    if from_env:
        return _parse_key(from_env, "FACERECO_SECRET_KEY")
    path = data_dir / KEY_FILE_NAME
    try:
        return _parse_key(path.read_text(), str(path))
    except FileNotFoundError:
        pass
    return _create_key_file(path)


def _create_key_file(path: Path) -> bytes:
    """Write a new key so the key file is either absent or whole, never empty or half-written.

    The key goes to a temporary file of our own (exclusive create, 0600, fsync), which is then
    hard-linked to the final name: the link fails if another process got there first, and that
    process's key is used instead. (A rename would silently replace the other process's key.)
    """
    key = secrets.token_bytes(32)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(key.hex() + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return _parse_key(path.read_text(), str(path))
        _fsync_directory(path.parent)
        return key
    finally:
        temporary.unlink(missing_ok=True)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class EngineSecrets:
    """Per-purpose keys derived from the master key."""

    def __init__(self, master_key: bytes) -> None:
        self._vector_cipher = AESGCM(self._derive(master_key, b"facereco/vector-aes-gcm"))
        self._token_key = self._derive(master_key, b"facereco/page-token-hmac")
        self._appkey_key = self._derive(master_key, b"facereco/appkey-digest")

    @staticmethod
    def _derive(master_key: bytes, purpose: bytes) -> bytes:
        return hmac.new(master_key, purpose, hashlib.sha256).digest()

    def encrypt_vector(self, plaintext: bytes, bound_to: str) -> bytes:
        """nonce || AES-GCM(ciphertext + tag); ``bound_to`` (the faceId) is authenticated, not stored."""
        nonce = secrets.token_bytes(NONCE_BYTES)
        return nonce + self._vector_cipher.encrypt(nonce, plaintext, bound_to.encode())

    def decrypt_vector(self, blob: bytes, bound_to: str) -> bytes:
        return self._vector_cipher.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], bound_to.encode())

    def sign(self, payload: bytes) -> bytes:
        return hmac.new(self._token_key, payload, hashlib.sha256).digest()

    def verify(self, payload: bytes, signature: bytes) -> bool:
        return hmac.compare_digest(self.sign(payload), signature)

    def appkey_digest(self, appkey: str) -> str:
        """What the store keeps instead of an appkey: a keyed digest, so the file never holds one."""
        return hmac.new(self._appkey_key, appkey.encode(), hashlib.sha256).hexdigest()[:32]

"""Keys derived once at start-up, and the few primitives built on them.

A code check must cost microseconds, so nothing here derives a key per call.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class DecryptionError(Exception):
    pass


def _derive(master: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(master)


class Keyring:
    """Purpose-bound keys from the configured ENCRYPTION_KEY."""

    def __init__(self, master_key: str) -> None:
        master = master_key.encode()
        self._secret_box = AESGCM(_derive(master, b"portal totp secret v1"))
        self._code_pepper = _derive(master, b"portal recovery code v1")
        self._remember_key = _derive(master, b"portal remembered browser v1")

    def encrypt_secret(self, plaintext: str, *, user_id: int, purpose: str = "totp") -> bytes:
        # User and purpose are authenticated data: a ciphertext copied to another row or
        # column won't open.
        nonce = secrets.token_bytes(12)
        return nonce + self._secret_box.encrypt(nonce, plaintext.encode(), _aad(user_id, purpose))

    def decrypt_secret(self, blob: bytes, *, user_id: int, purpose: str = "totp") -> str:
        try:
            return self._secret_box.decrypt(blob[:12], blob[12:], _aad(user_id, purpose)).decode()
        except (InvalidTag, ValueError) as exc:
            raise DecryptionError("stored secret cannot be decrypted with this key") from exc

    def hash_recovery_code(self, normalized_code: str, *, user_id: int) -> str:
        # Keyed and salted with the account: a leaked table alone cannot be brute-forced.
        message = f"{user_id}:{normalized_code}".encode()
        return hmac.new(self._code_pepper, message, hashlib.sha256).hexdigest()

    def account_fingerprint(
        self, *, user_id: int, totp_secret: bytes | None, password_hash: str | None
    ) -> str:
        """A keyed hash of what a remembered browser is bound to: the account's two-step
        secret (its stored ciphertext, new with each phone) and its password hash."""
        message = b"\0".join(
            [
                str(user_id).encode(),
                (totp_secret or b"").hex().encode(),
                (password_hash or "").encode(),
            ]
        )
        return hmac.new(self._remember_key, message, hashlib.sha256).hexdigest()


def _aad(user_id: int, purpose: str) -> bytes:
    return f"user:{user_id}:{purpose}".encode()


def hash_token(token: str) -> str:
    """Session and invitation tokens are 256-bit random: a plain SHA-256 suffices."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)

"""Encryption of secrets at rest (ConnectWise keys, Xero tokens, SMTP password).

Fernet (AES-128-CBC + HMAC-SHA256) with a key derived from FERRY_SECRET_KEY by HKDF, so
the stored value is useless without the key. Changing FERRY_SECRET_KEY makes existing
secrets unreadable: `decrypt` then raises SecretUnreadable with a sentence saying so.
"""
import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_fernet: Fernet | None = None


class SecretUnreadable(Exception):
    """A stored secret cannot be decrypted with the current FERRY_SECRET_KEY."""


def configure(secret_key: str) -> None:
    global _fernet
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"ferry-secrets-at-rest",
        info=b"fernet",
    ).derive(secret_key.encode("utf-8"))
    _fernet = Fernet(base64.urlsafe_b64encode(derived))


def _cipher() -> Fernet:
    if _fernet is None:
        raise RuntimeError("security.configure() has not been called (create_app does it)")
    return _fernet


def encrypt(plaintext: str) -> str:
    return _cipher().encrypt(plaintext.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str:
    try:
        return _cipher().decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken as exc:
        raise SecretUnreadable(
            "A stored secret could not be decrypted. FERRY_SECRET_KEY has probably changed "
            "since it was saved: enter the credentials again in Settings."
        ) from exc

"""Encryption of secrets at rest (ConnectWise keys, Xero tokens, SMTP password).

Fernet (AES-128-CBC + HMAC-SHA256) with a key derived from FERRY_SECRET_KEY by HKDF, so
the stored value is useless without the key. Changing FERRY_SECRET_KEY makes existing
secrets unreadable: `decrypt` then raises SecretUnreadable with a sentence saying so.
"""
import base64

import click
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


# -- the secret key's strength --------------------------------------------------------------
MIN_KEY_BITS = 256          # 32 bytes: what `secrets.token_urlsafe(48)` comfortably gives


class WeakSecretKey(click.ClickException):
    """FERRY_SECRET_KEY is too guessable to sign sessions and encrypt the stored keys.
    A ClickException, so `flask ...` commands print the sentence, not a traceback."""


def key_bits(key: str) -> float:
    """A generous upper estimate of a key's entropy in bits: its length times the bits of
    the character classes it uses, and no more than what it compresses to (so repetition,
    "aaaa…" or "abab…", cannot pass for length)."""
    import math
    import zlib
    if not key:
        return 0.0
    pool = 0
    for present, size in ((any(c.islower() for c in key), 26),
                          (any(c.isupper() for c in key), 26),
                          (any(c.isdigit() for c in key), 10),
                          (any(not c.isalnum() for c in key), 33)):
        pool += size if present else 0
    by_classes = len(key) * math.log2(max(pool, 2))
    compressed = (len(zlib.compress(key.encode("utf-8"), 9)) - 6) * 8   # less zlib's framing
    return min(by_classes, compressed)


def require_strong_key(key: str) -> None:
    if key_bits(key) < MIN_KEY_BITS:
        raise WeakSecretKey(
            "FERRY_SECRET_KEY is too weak: it signs every sign-in and encrypts the stored "
            "ConnectWise and Xero keys, so it needs at least 32 bytes of randomness. Set it "
            "to the output of: python3 -c \"import secrets; print(secrets.token_urlsafe(48))\" "
            "(or unset it and Ferry generates one into instance/secret_key). Changing it "
            "means entering the ConnectWise and Xero credentials again.")


# -- addresses a stored secret may be sent to -----------------------------------------------
class UnsafeAddress(ValueError):
    """An address Ferry will not send credentials to; the message says why."""


def is_loopback(host: str) -> bool:
    import ipaddress
    host = (host or "").strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_service_url(url: str, what: str) -> str:
    """`url` normalised (no trailing slash) if Ferry may send a secret there: https, or
    plain http only to this machine (the sandboxes); no user name, query or fragment.
    Raises UnsafeAddress with a sentence otherwise."""
    from urllib.parse import urlsplit
    text = (url or "").strip()
    if any(ord(c) < 33 or c == "\\" for c in text):
        raise UnsafeAddress(f"{what} contains spaces or characters an address cannot "
                            "hold. Copy the address again.")
    try:
        parts = urlsplit(text)
        parts.port
    except ValueError:
        raise UnsafeAddress(f"{what} is not a web address ({text}).") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UnsafeAddress(f"{what} must be a web address starting with https:// "
                            f"({text} is not).")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise UnsafeAddress(f"{what} must use https:// (plain http:// is allowed only to "
                            "this machine, for the sandboxes), so keys never travel "
                            "unencrypted.")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise UnsafeAddress(f"{what} must be a plain address, without a user name, "
                            "'?' or '#' part.")
    return text.rstrip("/")


def origin(url: str) -> str:
    """scheme://host[:port] of a URL, lower-cased: what "the same host" compares."""
    from urllib.parse import urlsplit
    parts = urlsplit((url or "").strip() if "://" in (url or "") else "https://" + (url or "").strip())
    try:
        port = parts.port
    except ValueError:
        port = None
    default = {"https": 443, "http": 80}.get(parts.scheme)
    suffix = f":{port}" if port and port != default else ""
    return f"{parts.scheme}://{(parts.hostname or '').lower()}{suffix}"


# -- files only Ferry's user may read ---------------------------------------------------------
def private_file(path) -> None:
    """Create `path` empty with mode 0600 if missing; take group/other rights away if
    it exists (databases, keys and Redis dumps hold secrets)."""
    import os
    import stat
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        mode = stat.S_IMODE(os.stat(path).st_mode)
        if mode & 0o077:
            os.chmod(path, mode & 0o700)
    else:
        os.close(fd)


# -- a reverse proxy's X-Forwarded-* headers, believed only from the proxy --------------------
class TrustedProxyFix:
    """Werkzeug's ProxyFix, applied only to requests whose direct peer is a trusted proxy
    (loopback by default). Someone reaching Ferry's port directly cannot pick their own
    address with a forged X-Forwarded-For and so slip past the sign-in throttling."""

    def __init__(self, wsgi_app, trusted: list[str]):
        import ipaddress

        from werkzeug.middleware.proxy_fix import ProxyFix
        self.plain = wsgi_app
        self.fixed = ProxyFix(wsgi_app, x_for=1, x_proto=1, x_host=1)
        self.networks = [ipaddress.ip_network(n, strict=False) for n in trusted]

    def _trusted(self, address: str | None) -> bool:
        import ipaddress
        try:
            ip = ipaddress.ip_address((address or "").strip("[]"))
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    def __call__(self, environ, start_response):
        if self._trusted(environ.get("REMOTE_ADDR")):
            return self.fixed(environ, start_response)
        return self.plain(environ, start_response)

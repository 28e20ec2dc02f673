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
MIN_KEY_BITS = 256          # 32 bytes: what `secrets.token_urlsafe(32)` gives

# Words people build keys from: the product, the place, the purpose, the classics. A word
# from this list counts as one guess among a few thousand, not as its letters.
GUESSABLE_WORDS = frozenset("""
ferry secret secrets key keys production prod staging stage development dev test testing
password passwd pass passphrase passw0rd changeme change admin administrator root user
login default company msp example demo local localhost server web app application flask
django session cookie token private public super strong random string value xero
connectwise connect wise sync accounting finance money invoice bill sign signing hello
world welcome letmein qwerty qwertz azerty asdf asdfgh zxcv zxcvbn iloveyou monkey dragon
master trustno secure security safe hidden keep please replace insert here your mine new
old temp tmp the and for not this that with from our only very long short share set
""".split())
WORD_BITS = 12.0            # one word of a list of about 4,000
# A random key holds a short word, a year or "abcd" now and then by chance ("key" turns
# up in about one 43-character key in 6,000, saving a few bits). Up to this many bits of
# such finds are forgiven: generated keys always pass, keys built of words never do.
CHANCE_BITS = 32.0


class WeakSecretKey(click.ClickException):
    """FERRY_SECRET_KEY is too guessable to sign sessions and encrypt the stored keys.
    A ClickException, so `flask ...` commands print the sentence, not a traceback."""


def _alphabet_bits(key: str) -> float:
    """Bits per character if every character were drawn at random from the kinds the
    key uses (lower case, upper case, digits, others). Letters of both cases among only
    letters, digits, - and _ count as token_urlsafe's 64 characters: a random 43-character
    key holds no digit and no dash about once in 4,000 and is no weaker for it."""
    import math
    import re
    pool = sum(size for present, size in (
        (any(c.islower() for c in key), 26), (any(c.isupper() for c in key), 26),
        (any(c.isdigit() for c in key), 10), (any(not c.isalnum() for c in key), 33))
        if present)
    if pool < 64 and re.fullmatch(r"[A-Za-z0-9_-]+", key) and re.search(r"[a-z]", key) \
            and re.search(r"[A-Z]", key):
        pool = 64
    return math.log2(max(pool, 2))


def _pattern_bits(key: str, words: frozenset[str]) -> float:
    """The cheapest way to spell `key` out of random characters (each at the alphabet's
    bits), words of `words` (lower case, Capitalised or UPPER: WORD_BITS), ascending or
    descending runs ("abcd", "4321": their first character and a few bits), years (19xx,
    20xx) and repeats of an earlier part (where it was and how long)."""
    import math
    import re
    char = _alphabet_bits(key)
    lengths = sorted({len(w) for w in words if len(w) >= 3})
    n = len(key)
    cost = [0.0] + [math.inf] * n
    for i in range(n):
        def reach(end, bits, start=cost[i]):
            cost[end] = min(cost[end], start + bits)
        reach(i + 1, char)
        for length in lengths:
            piece = key[i:i + length]
            if len(piece) < length:
                break
            if piece.lower() in words and (piece.islower() or piece.isupper()
                                           or piece.istitle()):
                reach(i + length, WORD_BITS)
        if i + 1 < n and ord(key[i + 1]) - ord(key[i]) in (1, -1):
            step, end = ord(key[i + 1]) - ord(key[i]), i + 1
            while end + 1 < n and ord(key[end + 1]) - ord(key[end]) == step:
                end += 1
            if end + 1 - i >= 4:
                reach(end + 1, char + 4)
        if re.match(r"(19|20)\d\d", key[i:i + 4]):
            reach(i + 4, 7.0)
        length = 4                  # the longest part from i that appeared before i
        if i and i + length <= n and key.find(key[i:i + length], 0, i + length - 1) != -1:
            while i + length < n and key.find(key[i:i + length + 1], 0, i + length) != -1:
                length += 1
            reach(i + length, math.log2(i) + math.log2(length) + 1)
    return cost[n]


def site_words(*addresses: str) -> set[str]:
    """The words of this installation's own names (its host and mail domain: often the
    MSP's name), which a key must not be built from either."""
    import re
    return {w for a in addresses for w in re.split(r"[^a-z]+", (a or "").lower())
            if len(w) >= 3 and w not in ("http", "https", "www")}


def key_bits(key: str, also: set[str] | frozenset[str] = frozenset()) -> float:
    """An estimate of a key's strength in bits, the least of: its length times the bits
    of the character kinds it uses; what it compresses to ("abab…" cannot pass for
    length); and the cheapest spelling of it from common words (GUESSABLE_WORDS and
    `also`), runs, years and repeats, forgiving CHANCE_BITS of chance finds."""
    import zlib
    if not key:
        return 0.0
    by_kinds = len(key) * _alphabet_bits(key)
    compressed = (len(zlib.compress(key.encode("utf-8"), 9)) - 6) * 8   # less zlib's framing
    patterns = _pattern_bits(key, GUESSABLE_WORDS | frozenset(w.lower() for w in also))
    return min(by_kinds, compressed, patterns + CHANCE_BITS)


def require_strong_key(key: str, also: set[str] | frozenset[str] = frozenset()) -> None:
    if key_bits(key, also) < MIN_KEY_BITS:
        raise WeakSecretKey(
            "FERRY_SECRET_KEY is too weak: it signs every sign-in and encrypts the stored "
            "ConnectWise and Xero keys, so it must be long and random, not built from "
            "words, names, dates or sequences. Set it "
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

"""What every HTTP call to ConnectWise or Xero leaves behind: one `CallRecord` per attempt,
handed to an `AuditSink`, with secrets masked before the record exists.

No Flask and no peewee here: the database sink lives in jobs/audit.py, and the
connectors only know the `AuditSink` protocol.
"""
from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Mapping, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from connectors.jsontext import decode_json_text, encode_json

MASK = "***"

# Headers whose whole value is a credential. Authorization keeps its scheme ("Basic ***")
# so the log still shows which kind of credential went out.
SECRET_HEADERS = {"authorization", "proxy-authorization", "cookie", "set-cookie",
                  "x-api-key"}

# Keys (JSON, form fields, query parameters, header names) whose value is a secret.
SECRET_KEY = re.compile(
    r"(passw|secret|token|private_?key|code_verifier|assertion|api_?key|authorization)",
    re.IGNORECASE,
)

# The same words as SECRET_KEY, for a quick substring test of a whole body (an
# IGNORECASE alternation scanned over a 1 MB page cost ~30 ms a body; `in` over the
# folded text costs well under 1 ms). Folding: lower() for ASCII text; otherwise
# casefold() after mapping the dotted and dotless I, the only characters that
# IGNORECASE matches to one of these letters and casefold() does not fold onto it
# (checked over every code point), so the test finds every body SECRET_KEY would.
_SECRET_WORDS = ("passw", "secret", "token", "privatekey", "private_key", "code_verifier",
                 "assertion", "apikey", "api_key", "authorization")
_DOTTED_I = {0x130: "i", 0x131: "i"}

# A bare `code` is an OAuth authorization code in forms and URLs. In JSON it is usually
# not (ConnectWise errors carry "code": "NotFound"), so there it is masked only beside
# the other fields of a token request.
OAUTH_SIBLINGS = {"grant_type", "redirect_uri", "code_verifier", "client_id"}

# For text that cannot be parsed (truncated or malformed): `key": "value` or `key=value`.
_TEXT_SECRET = re.compile(
    r"""(?P<key>["']?[\w-]*(?:passw|secret|token|private_?key|code_verifier|assertion|
    api_?key)[\w-]*["']?\s*[:=]\s*["']?)(?P<value>[^"'&\s,}]+)""",
    re.IGNORECASE | re.VERBOSE,
)
_TEXT_BASIC = re.compile(r"\b(Basic|Bearer)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE)


@dataclass
class CallRecord:
    api: str                          # "connectwise" | "xero"
    method: str
    url: str                          # secrets stripped from the query
    status: int | None                # None when no response came (timeout, reset)
    duration_ms: float
    request_headers: dict
    request_body: str | None
    response_headers: dict
    response_body: str | None
    error: str | None                 # what went wrong, in words
    started_at: datetime              # aware UTC
    connection_id: int | None = None  # Ferry's Connection row (the org for Xero)
    run_id: int | None = None         # the sync run it belongs to
    record_ref: str | None = None     # e.g. "invoice:1234"


class AuditSink(Protocol):
    def record(self, call: CallRecord) -> None: ...


class ListSink:
    """Keeps records in memory, for tests and the command line."""

    def __init__(self):
        self.records: list[CallRecord] = []
        self._lock = threading.Lock()

    def record(self, call: CallRecord) -> None:
        with self._lock:
            self.records.append(call)


def _secret_key(key: str) -> bool:
    return bool(SECRET_KEY.search(key))


def _names_secret(text: str) -> bool:
    """True when `text` holds anything SECRET_KEY matches (same result, far faster)."""
    folded = text.lower() if text.isascii() else text.translate(_DOTTED_I).casefold()
    return any(word in folded for word in _SECRET_WORDS)


def redact_headers(headers: Mapping[str, str] | Iterable[tuple[str, str]] | None) -> dict:
    items = headers.items() if hasattr(headers, "items") else (headers or [])
    out = {}
    for name, value in items:
        lower = name.lower()
        if lower in SECRET_HEADERS or _secret_key(lower):
            scheme = value.split(" ", 1)[0] if " " in value.strip() else ""
            out[name] = f"{scheme} {MASK}".strip()
        else:
            out[name] = value
    return out


def _mask_json(data):
    if isinstance(data, dict):
        oauth = bool(OAUTH_SIBLINGS & {k for k in data if isinstance(k, str)})
        return {
            k: MASK if isinstance(k, str) and (_secret_key(k) or (oauth and k == "code"))
            else _mask_json(v)
            for k, v in data.items()
        }
    if isinstance(data, list):
        return [_mask_json(v) for v in data]
    return data


def _mask_pairs(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(k, MASK if _secret_key(k) or k == "code" else v) for k, v in pairs]


def redact_text(text: str) -> str:
    """Mask secret-looking `key: value` pairs and Basic/Bearer credentials in free text."""
    text = _TEXT_BASIC.sub(lambda m: f"{m.group(1)} {MASK}", text)
    return _TEXT_SECRET.sub(lambda m: m.group("key") + MASK, text)


def redact_body(text: str | bytes | None, content_type: str | None,
                limit: int | None = None) -> str | None:
    """The body as it may be stored: secrets masked, then cut to `limit` characters with
    its full length and SHA-256 (so two stored bodies can still be told apart).

    Structural, not by pattern over the whole text: a JSON or form body that names no
    secret-looking key is kept as it came (one quick search of the text decides); one
    that does is parsed and masked by key. Only text that is neither (an HTML error
    page) is masked by pattern, and only the part that is kept."""
    if text is None or text == b"" or text == "":
        return None
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    ctype = (content_type or "").lower()
    size = len(text)
    if "json" in ctype:
        if _names_secret(text) or '"code"' in text:
            try:
                return _cut(encode_json(_mask_json(decode_json_text(text))), size, limit)
            except ValueError:
                return _cut(redact_text(text[:limit] if limit else text), size, limit)
        return _cut(text, size, limit)
    if "x-www-form-urlencoded" in ctype:
        masked = urlencode(_mask_pairs(parse_qsl(text, keep_blank_values=True)), safe="*")
        return _cut(masked, size, limit)
    return _cut(redact_text(text[:limit] if limit else text), size, limit)


def _cut(masked: str, size: int, limit: int | None) -> str:
    """Cut to `limit`, saying how long the body was and the SHA-256 of what was masked
    (never of the secrets)."""
    if limit is None or size <= limit:
        return masked
    digest = hashlib.sha256(masked.encode("utf-8", "replace")).hexdigest()
    return (f"{masked[:limit]}\n… [truncated: {limit:,} of {size:,} characters kept; "
            f"sha256 {digest}]")


def redact_url(url: str) -> str:
    """The URL with secret query parameters (and any user:password@) masked."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{MASK}@{netloc.rsplit('@', 1)[1]}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(_secret_key(k) or k == "code" for k, _ in pairs):
            query = urlencode(_mask_pairs(pairs), safe="*/:[],()\"'")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))

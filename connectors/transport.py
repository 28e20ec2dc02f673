"""The HTTP core both API clients stand on: retries with backoff, one audit record per
attempt, JSON with exact decimals (connectors/jsontext.py), and typed errors when no usable answer comes back.

Retry rules, and why:
- 429 is retried for every method: the server refused before acting.
- 502/503/504, timeouts and dropped connections are retried only for idempotent calls
  (GET, HEAD, PUT, DELETE, or a POST the caller marks `idempotent=True`, e.g. one that
  carries an Idempotency-Key). A plain POST that got no answer may have happened, so it
  raises `OutcomeUnknown` instead of being sent twice.
- A failure to connect at all is retried for every method: nothing was sent.
- A Retry-After longer than `RetryPolicy.max_retry_after` is not slept through: the
  response goes back to the caller (a daily limit is not worth blocking a worker for).

HTTP error statuses are returned, not raised: each API client reads its own error bodies.
"""
from __future__ import annotations

import logging
import random
import re
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Callable
from urllib.parse import urlsplit

import httpx2

from connectors.audit import (
    AuditSink, CallRecord, redact_body, redact_headers, redact_text, redact_url,
)
from connectors.errors import ConnectionFailed, MalformedResponse, OutcomeUnknown, TimedOut
from connectors.jsontext import decode_json_text, encode_json  # noqa: F401 (re-exported)

log = logging.getLogger("ferry.connectors")

_URL_IN_TEXT = re.compile(r"https?://[^\s\"'<>]+")


class RedactingLogFilter(logging.Filter):
    """httpx2 logs every URL at INFO and httpcore2 the response headers at DEBUG; mask
    them the way the audit log does before any handler sees them."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = _URL_IN_TEXT.sub(lambda m: redact_url(m.group()), record.getMessage())
        record.msg, record.args = redact_text(text), ()
        return True


for _name in ("httpx2", "httpcore2.http11", "httpcore2.http2", "httpcore2.connection",
              "httpcore2.proxy"):
    logging.getLogger(_name).addFilter(RedactingLogFilter())

IDEMPOTENT_METHODS = {"GET", "HEAD", "OPTIONS", "PUT", "DELETE"}
# The largest answer read: a page of 1,000 CW records or a Xero page is a few MB at most.
MAX_ANSWER_BYTES = 32 * 1024 * 1024


class AnswerTooLarge(Exception):
    """The answer passed the transport's size cap; it was not read further."""
API_NAMES = {"connectwise": "ConnectWise", "xero": "Xero"}
CONTEXT_FIELDS = ("connection_id", "run_id", "record_ref")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4                  # tries in all, the first included
    base_delay: float = 0.5            # seconds before the first retry
    max_delay: float = 30.0
    retry_statuses: frozenset = field(default_factory=lambda: frozenset({429, 502, 503, 504}))
    max_retry_after: float = 120.0
    jitter: float = 0.5                # up to this fraction is taken off each backoff

    def backoff(self, failed_attempt: int, rng: random.Random) -> float:
        """Exponential backoff with jitter, so many workers do not retry in step."""
        delay = min(self.max_delay, self.base_delay * 2 ** (failed_attempt - 1))
        return delay * (1 - self.jitter * rng.random())

    @staticmethod
    def retry_after(response: httpx2.Response) -> float | None:
        """Seconds the server asked us to wait (a number or an HTTP date), if it did."""
        raw = response.headers.get("retry-after")
        if not raw:
            return None
        try:
            return max(0.0, float(raw))
        except ValueError:
            pass
        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def decode_json(response: httpx2.Response, api: str = "the API"):
    """The response body as JSON, numbers with a fraction as Decimal."""
    try:
        return decode_json_text(response.text)
    except ValueError:
        ctype = response.headers.get("content-type", "no content type")
        raise MalformedResponse(
            f"{API_NAMES.get(api, api)} answered {response.request.method} "
            f"{urlsplit(str(response.request.url)).path} with something that is not JSON "
            f"(HTTP {response.status_code}, {ctype}). Check that the address points at "
            "the API itself, not a login page or proxy.",
            status=response.status_code) from None


class Transport:
    """One API's HTTP client. Every attempt goes to `sink` as a redacted CallRecord."""

    def __init__(self, api: str, base_url: str, *, sink: AuditSink, timeout: float = 30.0,
                 retry: RetryPolicy = RetryPolicy(), headers: dict | None = None,
                 auth=None, client: httpx2.Client | None = None,
                 sleep: Callable[[float], None] = time.sleep, context: dict | None = None,
                 body_limit: int = 64_000, rng: random.Random | None = None,
                 max_answer_bytes: int = MAX_ANSWER_BYTES, open_origins: tuple = ()):
        """`open_origins`: base URLs of other hosts this API has that need no credentials
        (ConnectWise's login host answers companyinfo). Only a call made with
        `credentials=False` may go there, and it carries none of this transport's headers
        or auth."""
        self.api = api
        self.base_url = base_url
        self.sink = sink
        self.timeout = timeout
        self.retry = retry
        self.headers = dict(headers or {})
        self.auth = auth
        self.client = client or httpx2.Client(timeout=timeout, follow_redirects=False)
        self.sleep = sleep
        self.body_limit = body_limit
        self.rng = rng or random.Random()
        self.max_answer_bytes = max_answer_bytes
        self._origin = self._origin_of(base_url)
        self._open_origins = {self._origin_of(u) for u in open_origins}
        self._context = {k: v for k, v in (context or {}).items() if k in CONTEXT_FIELDS}
        self._local = threading.local()

    # -- context -------------------------------------------------------------------------
    def _bound(self) -> dict:
        return getattr(self._local, "context", self._context)

    @contextmanager
    def bind(self, **fields):
        """Tag every call made inside the block (this thread) with run_id, record_ref or
        connection_id."""
        unknown = set(fields) - set(CONTEXT_FIELDS)
        if unknown:
            raise TypeError(f"unknown context fields: {sorted(unknown)}")
        previous = self._bound()
        self._local.context = {**previous, **fields}
        try:
            yield self
        finally:
            self._local.context = previous

    def tag(self, **fields) -> None:
        """Tag every later call of this transport (all threads) with these fields."""
        unknown = set(fields) - set(CONTEXT_FIELDS)
        if unknown:
            raise TypeError(f"unknown context fields: {sorted(unknown)}")
        self._context.update(fields)

    def _context_for(self, context) -> dict:
        merged = dict(self._bound())
        if context is not None:
            extra = context if isinstance(context, dict) else {
                k: getattr(context, k, None) for k in CONTEXT_FIELDS}
            merged.update({k: v for k, v in extra.items() if k in CONTEXT_FIELDS
                           and v is not None})
        return merged

    # -- requests ------------------------------------------------------------------------
    @staticmethod
    def _origin_of(url: str) -> tuple[str, str]:
        parts = urlsplit(url)
        return parts.scheme, parts.netloc.lower()

    def url_for(self, path_or_url: str, *, credentials: bool = True) -> str:
        """A path under the base URL, or a full URL (a Link header's next page) on the
        configured host; without credentials, also on one of the open origins. The
        credentials this transport sends go nowhere else."""
        if path_or_url.startswith(("http://", "https://")):
            target = urlsplit(path_or_url)
            allowed = {self._origin} | (set() if credentials else self._open_origins)
            if (target.scheme, target.netloc.lower()) not in allowed:
                raise MalformedResponse(
                    f"{API_NAMES.get(self.api, self.api)} pointed Ferry at another address "
                    f"({target.scheme}://{target.hostname}) for the next page; Ferry only "
                    f"sends its credentials to {self._origin[1]}. Check the site address in "
                    "Settings, or any proxy in front of it.")
            return path_or_url
        return self.base_url.rstrip("/") + "/" + path_or_url.lstrip("/")

    def close(self) -> None:
        self.client.close()

    def request(self, method: str, path_or_url: str, *, params=None, json=None, data=None,
                encoded: bytes | None = None, headers: dict | None = None,
                idempotent: bool | None = None, context=None,
                credentials: bool = True) -> httpx2.Response:
        """`encoded` is a JSON body already encoded (encode_json in UTF-8), sent as
        `json` would be, for callers that needed its bytes anyway (batch sizes, keys).
        `credentials=False` sends only `headers` (none of the transport's own, no auth),
        and may go to an open origin."""
        method = method.upper()
        if idempotent is None:
            idempotent = method in IDEMPOTENT_METHODS
        own = self.headers if credentials else {}
        # A header given as None is left out of this request.
        merged = {k: v for k, v in {**own, **(headers or {})}.items() if v is not None}
        auth = self.auth if credentials else None
        content = None
        if json is not None:
            encoded = encode_json(json).encode("utf-8")
        if encoded is not None:
            content = encoded
            merged.setdefault("Content-Type", "application/json")
        ctx = self._context_for(context)
        attempt = 0
        while True:
            attempt += 1
            request = self.client.build_request(
                method, self.url_for(path_or_url, credentials=credentials), params=params,
                content=content, data=data, headers=merged, timeout=self.timeout)
            started = datetime.now(timezone.utc)
            clock = time.perf_counter()
            try:
                response = self._send(request, auth)
            except AnswerTooLarge as exc:
                elapsed = (time.perf_counter() - clock) * 1000
                self._audit(ctx, request, None, elapsed, str(exc), started)
                raise MalformedResponse(
                    f"{API_NAMES.get(self.api, self.api)} answered {method} "
                    f"{request.url.path} with more than {self.max_answer_bytes:,} bytes; "
                    "Ferry stopped reading it. Check that the address points at the API "
                    "itself.") from None
            except httpx2.TransportError as exc:
                elapsed = (time.perf_counter() - clock) * 1000
                never_sent = isinstance(exc, (httpx2.ConnectError, httpx2.ConnectTimeout,
                                              httpx2.PoolTimeout))
                problem = self._describe(exc)
                self._audit(ctx, request, None, elapsed, problem, started)
                if (idempotent or never_sent) and attempt < self.retry.attempts:
                    wait = self.retry.backoff(attempt, self.rng)
                    log.warning("%s %s %s failed (%s); retry %d in %.1fs", self.api, method,
                                redact_url(str(request.url)), problem, attempt, wait)
                    self.sleep(wait)
                    continue
                raise self._network_error(exc, request, never_sent or idempotent) from None
            elapsed = (time.perf_counter() - clock) * 1000
            status = response.status_code
            problem = None if status < 400 else f"HTTP {status} {response.reason_phrase}"
            self._audit(ctx, request, response, elapsed, problem, started)
            if (status in self.retry.retry_statuses and attempt < self.retry.attempts
                    and (idempotent or status == 429)):
                wait = self.retry.retry_after(response)
                if wait is not None and wait > self.retry.max_retry_after:
                    return response
                if wait is None:
                    wait = self.retry.backoff(attempt, self.rng)
                log.warning("%s %s %s answered %d; retry %d in %.1fs", self.api, method,
                            redact_url(str(request.url)), status, attempt, wait)
                self.sleep(wait)
                continue
            return response

    # -- helpers -------------------------------------------------------------------------
    def _send(self, request: httpx2.Request, auth) -> httpx2.Response:
        """Send and read the answer, but never more than `max_answer_bytes` of it (a
        misdirected or broken server cannot fill the worker's memory)."""
        response = self.client.send(request, auth=auth, stream=True)
        try:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.max_answer_bytes:
                raise AnswerTooLarge(f"answer of {int(declared):,} bytes refused")
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > self.max_answer_bytes:
                    raise AnswerTooLarge(f"answer over {self.max_answer_bytes:,} bytes cut off")
                chunks.append(chunk)
            response._content = b"".join(chunks)
        finally:
            response.close()
        return response

    def _describe(self, exc: httpx2.TransportError) -> str:
        if isinstance(exc, httpx2.TimeoutException):
            return f"no answer within {self.timeout:g} seconds ({type(exc).__name__})"
        if isinstance(exc, httpx2.ConnectError):
            return f"could not connect: {exc}"
        return f"connection dropped: {type(exc).__name__}: {exc}"

    def _network_error(self, exc, request: httpx2.Request, safe: bool):
        name = API_NAMES.get(self.api, self.api)
        host = request.url.host
        what = f"{request.method} {request.url.path}"
        if not safe:
            return OutcomeUnknown(
                f"The connection to {name} dropped after Ferry sent {what}, so it cannot "
                "tell whether that change was made. Ferry will check before sending it "
                "again; nothing needs doing unless this repeats.")
        if isinstance(exc, httpx2.TimeoutException):
            return TimedOut(
                f"{name} at {host} did not answer within {self.timeout:g} seconds, "
                f"{self.retry.attempts} times in a row. It may be busy or down; Ferry "
                "will try again on the next cycle.")
        return ConnectionFailed(
            f"Ferry could not reach {name} at {host} ({exc}). Check the address in "
            "Settings and that this server can reach it.")

    def _audit(self, ctx: dict, request: httpx2.Request, response: httpx2.Response | None,
               elapsed_ms: float, problem: str | None, started: datetime) -> None:
        sent = response.request if response is not None else request
        call = CallRecord(
            api=self.api, method=sent.method, url=redact_url(str(sent.url)),
            status=response.status_code if response is not None else None,
            duration_ms=round(elapsed_ms, 2),
            request_headers=redact_headers(sent.headers.items()),
            request_body=redact_body(sent.content, sent.headers.get("content-type"),
                                     self.body_limit),
            response_headers=(redact_headers(response.headers.items())
                              if response is not None else {}),
            response_body=redact_body(response.content, response.headers.get("content-type"),
                                      self.body_limit) if response is not None else None,
            error=problem, started_at=started, **ctx)
        log.debug("%s %s %s -> %s in %.0f ms", self.api, call.method, call.url,
                  call.status if call.status is not None else problem, elapsed_ms)
        try:
            self.sink.record(call)
        except Exception:  # the audit trail must never take the sync down with it
            log.exception("could not write the audit record for %s %s", call.method,
                          call.url)

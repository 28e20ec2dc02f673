"""Keeps Ferry inside Xero's limits for each organisation (tenant), across processes.

Xero allows an app, per tenant, 5 calls at once, 60 a minute and 5,000 a day (1,000 on
the Starter tier); beyond that it answers 429 with `X-Rate-Limit-Problem` (minute or day)
and `Retry-After`. Every web process and worker shares one view of a tenant through
Redis: a leased semaphore for the calls in flight, a sliding one-minute window of call
starts, and a pause that one process's 429 imposes on all. A day-limit 429 raises
`DayLimitReached`: that organisation's cycle stops cleanly until Xero's day rolls on.
"""
from __future__ import annotations

import threading
import time
import uuid
from collections import deque
from contextlib import contextmanager

import httpx2

CONCURRENT_LIMIT = 5
MINUTE_LIMIT = 60
POLL_SECONDS = 0.02


class DayLimitReached(Exception):
    """The organisation has used its Xero calls for the day."""

    def __init__(self, tenant_id: str, retry_after: float | None):
        self.tenant_id = tenant_id
        self.retry_after = retry_after
        hours = f" for about {retry_after / 3600:.1f} hours" if retry_after else ""
        super().__init__(
            f"This Xero organisation has used all of today's API calls; Xero refuses more"
            f"{hours}. Ferry stops its cycle and carries on once Xero allows calls again.")


# Times are epoch seconds from the callers' clocks (NTP keeps hosts within milliseconds).
# Atomically: respect a shared pause, drop expired leases and minute entries, then take a
# lease and a window entry if both have room. Returns {1, 0} or {0, seconds_to_wait}.
_ACQUIRE = """
local now = tonumber(ARGV[7])
local concurrent, per_minute = tonumber(ARGV[2]), tonumber(ARGV[3])
local lease, window = tonumber(ARGV[4]), tonumber(ARGV[5])
local pause = tonumber(redis.call('GET', KEYS[3]) or '0')
if pause > now then return {0, tostring(pause - now)} end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= concurrent then return {0, ARGV[6]} end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
if redis.call('ZCARD', KEYS[2]) >= per_minute then
  local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  return {0, tostring(tonumber(oldest[2]) + window - now)}
end
redis.call('ZADD', KEYS[1], now + lease, ARGV[1])
redis.call('ZADD', KEYS[2], now, ARGV[1])
redis.call('EXPIRE', KEYS[1], math.ceil(lease) + 60)
redis.call('EXPIRE', KEYS[2], math.ceil(window) + 60)
return {1, '0'}
"""

# Pause every process until ARGV[2] (now) + ARGV[1] seconds (never shortening a longer pause).
_PAUSE = """
local resume_at = tonumber(ARGV[2]) + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if resume_at > current then
  redis.call('SET', KEYS[1], tostring(resume_at), 'EX', math.ceil(tonumber(ARGV[1])) + 1)
end
return 1
"""


class Governor:
    """`with governor.call(tenant_id): response = send(); governor.observe(...)`; the
    GovernedTransport below does this for every attempt an httpx2 client makes."""

    def __init__(self, redis=None, *, concurrent: int = CONCURRENT_LIMIT,
                 per_minute: int = MINUTE_LIMIT, window: float = 60.0,
                 lease: float = 120.0, prefix: str = "ferry:xero:governor",
                 sleep=time.sleep, clock=time.time):
        self.concurrent = concurrent
        self.per_minute = per_minute
        self.window = window
        self.lease = lease
        self.prefix = prefix
        self.sleep = sleep
        self.clock = clock
        self._redis = redis
        if redis is not None:
            self._acquire_script = redis.register_script(_ACQUIRE)
            self._pause_script = redis.register_script(_PAUSE)
        else:
            self._local = _LocalState()

    def _key(self, tenant_id: str, part: str) -> str:
        return f"{self.prefix}:{tenant_id}:{part}"

    # -- taking and giving back a slot -----------------------------------------------------
    @contextmanager
    def call(self, tenant_id: str):
        """Hold one of the tenant's call slots (waiting for room) around one request."""
        self._check_day(tenant_id)
        token = uuid.uuid4().hex
        while True:
            wait = self._try_acquire(tenant_id, token)
            if wait is None:
                break
            self.sleep(wait)
            self._check_day(tenant_id)
        try:
            yield
        finally:
            self._release(tenant_id, token)

    def _try_acquire(self, tenant_id: str, token: str) -> float | None:
        if self._redis is None:
            return self._local.try_acquire(tenant_id, token, self)
        keys = [self._key(tenant_id, "slots"), self._key(tenant_id, "minute"),
                self._key(tenant_id, "pause")]
        ok, wait = self._acquire_script(keys=keys, args=[
            token, self.concurrent, self.per_minute, self.lease, self.window, POLL_SECONDS,
            self.clock()])
        return None if int(ok) == 1 else max(float(wait), 0.0)

    def _release(self, tenant_id: str, token: str) -> None:
        if self._redis is None:
            self._local.release(tenant_id, token)
        else:
            self._redis.zrem(self._key(tenant_id, "slots"), token)

    # -- what Xero says --------------------------------------------------------------------
    def observe(self, tenant_id: str, response) -> None:
        """Read the limit headers of a response. A 429 pauses the tenant for every process:
        for Retry-After on the minute problem, and until Xero's day rolls on for the day
        problem (later calls then raise DayLimitReached without reaching Xero)."""
        headers = response.headers
        status = {}
        for header, name in (("X-MinLimit-Remaining", "minute_remaining"),
                             ("X-DayLimit-Remaining", "day_remaining"),
                             ("X-AppMinLimit-Remaining", "app_minute_remaining")):
            if headers.get(header, "").strip().lstrip("-").isdigit():
                status[name] = int(headers[header])
        if response.status_code == 429 and _problem(response) == "day":
            status["day_remaining"] = 0
            self._pause(tenant_id, "day-pause", _seconds(headers.get("Retry-After")) or 3600.0)
        elif response.status_code == 429:
            self._pause(tenant_id, "pause", _seconds(headers.get("Retry-After")) or 1.0)
        if status:
            self._save_status(tenant_id, status)

    @staticmethod
    def raise_for_day(tenant_id: str, response) -> None:
        """Raise DayLimitReached for Xero's day-limit 429."""
        if response.status_code == 429 and _problem(response) == "day":
            raise DayLimitReached(tenant_id, _seconds(response.headers.get("Retry-After")))

    def remaining_today(self, tenant_id: str) -> int | None:
        """The calls Xero last said the organisation has left today (None: not known)."""
        value = self.status(tenant_id).get("day_remaining")
        return int(value) if value is not None else None

    def status(self, tenant_id: str) -> dict:
        if self._redis is None:
            return dict(self._local.status.get(tenant_id, {}))
        raw = self._redis.hgetall(self._key(tenant_id, "status"))
        return {k.decode(): int(v) for k, v in raw.items()}

    def _save_status(self, tenant_id: str, status: dict) -> None:
        if self._redis is None:
            self._local.status.setdefault(tenant_id, {}).update(status)
            return
        key = self._key(tenant_id, "status")
        self._redis.hset(key, mapping=status)
        self._redis.expire(key, 2 * 86400)

    def _pause(self, tenant_id: str, part: str, seconds: float) -> None:
        if self._redis is None:
            self._local.pause(tenant_id, part, self.clock() + seconds)
        else:
            self._pause_script(keys=[self._key(tenant_id, part)], args=[seconds, self.clock()])

    def day_limit_wait(self, tenant_id: str) -> float:
        """Seconds until Xero takes calls for this organisation again after its day limit
        was reached (0.0: not stopped)."""
        if self._redis is None:
            left = self._local.paused_until(tenant_id, "day-pause") - self.clock()
        else:
            until = self._redis.get(self._key(tenant_id, "day-pause"))
            left = float(until) - self.clock() if until else 0.0
        return max(left, 0.0)

    def _check_day(self, tenant_id: str) -> None:
        left = self.day_limit_wait(tenant_id)
        if left > 0:
            raise DayLimitReached(tenant_id, left)


def _problem(response) -> str:
    return response.headers.get("X-Rate-Limit-Problem", "").strip().lower()


def _seconds(value: str | None) -> float | None:
    try:
        return max(float(value), 0.0) if value is not None else None
    except ValueError:
        return None


class _LocalState:
    """The same rules inside one process, for tests and tools that run without Redis."""

    def __init__(self):
        self._lock = threading.Lock()
        self.slots: dict[str, set] = {}
        self.starts: dict[str, deque] = {}
        self.pauses: dict[tuple, float] = {}
        self.status: dict[str, dict] = {}

    def try_acquire(self, tenant_id, token, governor) -> float | None:
        now = governor.clock()
        with self._lock:
            pause = self.pauses.get((tenant_id, "pause"), 0.0)
            if pause > now:
                return pause - now
            slots = self.slots.setdefault(tenant_id, set())
            if len(slots) >= governor.concurrent:
                return POLL_SECONDS
            starts = self.starts.setdefault(tenant_id, deque())
            while starts and starts[0] <= now - governor.window:
                starts.popleft()
            if len(starts) >= governor.per_minute:
                return starts[0] + governor.window - now
            slots.add(token)
            starts.append(now)
            return None

    def release(self, tenant_id, token) -> None:
        with self._lock:
            self.slots.get(tenant_id, set()).discard(token)

    def pause(self, tenant_id, part, until) -> None:
        with self._lock:
            key = (tenant_id, part)
            self.pauses[key] = max(self.pauses.get(key, 0.0), until)

    def paused_until(self, tenant_id, part) -> float:
        with self._lock:
            return self.pauses.get((tenant_id, part), 0.0)


class GovernedTransport(httpx2.BaseTransport):
    """An httpx2 transport that passes every attempt through the governor, keyed by the
    request's `xero-tenant-id`, so retries made higher up are limited and observed too."""

    def __init__(self, governor: Governor, inner: httpx2.BaseTransport | None = None):
        self.governor = governor
        self.inner = inner or httpx2.HTTPTransport()

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        tenant_id = request.headers.get("xero-tenant-id")
        if not tenant_id:
            return self.inner.handle_request(request)
        with self.governor.call(tenant_id):
            response = self.inner.handle_request(request)
            try:
                response.read()                  # the slot covers the whole transfer
            except BaseException:
                response.close()
                raise
        self.governor.observe(tenant_id, response)
        return response

    def close(self) -> None:
        self.inner.close()

"""Xero's API limits by the kit clock: per tenant 60 calls in any 60 seconds, 5,000 in any
24 hours (configurable: 1,000 on the Starter tier) and 5 in flight at once; 10,000 a
minute for the whole app. Every answered call carries X-MinLimit-Remaining,
X-DayLimit-Remaining and X-AppMinLimit-Remaining; a refused one is a 429 with
X-Rate-Limit-Problem (minute, day or concurrent) and Retry-After in seconds."""
from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass, field

MINUTE = 60.0
DAY = 86400.0


@dataclass
class _Tenant:
    minute: deque = field(default_factory=deque)
    day: deque = field(default_factory=deque)
    in_flight: int = 0


class Limits:
    def __init__(self, clock, minute_limit: int = 60, day_limit: int = 5000,
                 concurrent_limit: int = 5, app_minute_limit: int = 10000):
        self.clock = clock
        self.minute_limit = minute_limit
        self.day_limit = day_limit
        self.concurrent_limit = concurrent_limit
        self.app_minute_limit = app_minute_limit
        self._tenants: dict[str, _Tenant] = {}
        self._app: deque = deque()
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self._tenants.clear()
            self._app.clear()

    @staticmethod
    def _trim(window: deque, now: float, span: float) -> None:
        while window and window[0] <= now - span:
            window.popleft()

    def acquire(self, tenant_id: str) -> tuple[str | None, int, dict]:
        """(problem or None, retry_after, headers). On success the call is counted and in
        flight until `release`."""
        now = self.clock.monotonic()
        with self._lock:
            state = self._tenants.setdefault(tenant_id, _Tenant())
            self._trim(state.minute, now, MINUTE)
            self._trim(state.day, now, DAY)
            self._trim(self._app, now, MINUTE)
            problem, retry = None, 0
            if len(state.day) >= self.day_limit:
                problem, retry = "day", state.day[0] + DAY - now
            elif len(state.minute) >= self.minute_limit:
                problem, retry = "minute", state.minute[0] + MINUTE - now
            elif len(self._app) >= self.app_minute_limit:
                problem, retry = "appminute", self._app[0] + MINUTE - now
            elif state.in_flight >= self.concurrent_limit:
                problem, retry = "concurrent", 1
            if problem is None:
                state.minute.append(now)
                state.day.append(now)
                self._app.append(now)
                state.in_flight += 1
            headers = self._headers(state)
        return problem, max(1, math.ceil(retry)), headers

    def release(self, tenant_id: str) -> None:
        with self._lock:
            state = self._tenants.get(tenant_id)
            if state is not None and state.in_flight > 0:
                state.in_flight -= 1

    def headers(self, tenant_id: str) -> dict:
        with self._lock:
            return self._headers(self._tenants.setdefault(tenant_id, _Tenant()))

    def _headers(self, state: _Tenant) -> dict:
        return {"X-MinLimit-Remaining": str(max(0, self.minute_limit - len(state.minute))),
                "X-DayLimit-Remaining": str(max(0, self.day_limit - len(state.day))),
                "X-AppMinLimit-Remaining": str(max(0, self.app_minute_limit - len(self._app)))}

    def exhaust(self, tenant_id: str, which: str) -> None:
        """Use up a window, as if the calls had been made (for tests and faults)."""
        now = self.clock.monotonic()
        with self._lock:
            state = self._tenants.setdefault(tenant_id, _Tenant())
            window, limit = (state.day, self.day_limit) if which == "day" else \
                (state.minute, self.minute_limit)
            while len(window) < limit:
                window.append(now)

"""What both sandboxes need to call out: a watcher that notices records changing (by
their last-updated stamp, whichever way they changed: an API write, a /_sandbox/
action), and a sender that POSTs the notifications, with faults of its own.

Faults (`configure`): `lose` (probability an event is never sent), `duplicate` (sent
twice), `delay` (probability it waits `delay_seconds` first). Every delivery is kept in
`deliveries` (url, status or error, what happened to it) for tests to read.
"""
from __future__ import annotations

import queue
import random
import threading
import time
import urllib.error
import urllib.request
from typing import Callable


class Sender:
    def __init__(self, seed: int = 0, timeout: float = 5.0):
        self.rng = random.Random(seed)
        self.timeout = timeout
        self.lose = self.duplicate = self.delay = 0.0
        self.delay_seconds = 2.0
        self.deliveries: list[dict] = []
        self._lock = threading.Lock()
        self._queue: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None

    def configure(self, settings: dict) -> dict:
        for name in ("lose", "duplicate", "delay", "delay_seconds"):
            if name in settings:
                setattr(self, name, float(settings[name]))
        if "seed" in settings:
            self.rng.seed(int(settings["seed"]))
        return self.faults()

    def faults(self) -> dict:
        return {"lose": self.lose, "duplicate": self.duplicate, "delay": self.delay,
                "delay_seconds": self.delay_seconds}

    def reset(self) -> None:
        with self._lock:
            self.deliveries.clear()
        self.lose = self.duplicate = self.delay = 0.0

    def send(self, url: str, body: bytes, headers: dict, label: str = "") -> None:
        """Queue one notification, faults applied (in order, one thread: the order of
        changes is kept unless a delay says otherwise)."""
        with self._lock:
            lost = self.rng.random() < self.lose
            twice = self.rng.random() < self.duplicate
            late = self.rng.random() < self.delay
        if lost:
            self._note(url, label, None, "lost")
            return
        due = time.monotonic() + (self.delay_seconds if late else 0.0)
        for copy in range(2 if twice else 1):
            fault = "delayed" if late else ("duplicated" if copy else None)
            if late:
                threading.Timer(self.delay_seconds,
                                lambda: self._queue.put((0, url, body, headers, label,
                                                         fault))).start()
            else:
                self._queue.put((due, url, body, headers, label, fault))
        self._start()

    def post_now(self, url: str, body: bytes, headers: dict) -> int | None:
        """A POST made and answered here (Xero's intent-to-receive check)."""
        status, _ = self._post(url, body, headers)
        return status

    def _start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name="sandbox-webhooks")
                self._thread.start()

    def _run(self) -> None:
        while True:
            _, url, body, headers, label, fault = self._queue.get()
            status, error = self._post(url, body, headers)
            self._note(url, label, status, fault, error)

    def _post(self, url, body, headers) -> tuple[int | None, str | None]:
        request = urllib.request.Request(url, data=body, method="POST", headers={
            "Content-Type": "application/json", **headers})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.status, None
        except urllib.error.HTTPError as exc:
            return exc.code, None
        except Exception as exc:          # refused, timed out: the event is gone
            return None, f"{type(exc).__name__}: {exc}"

    def _note(self, url, label, status, fault, error=None) -> None:
        with self._lock:
            self.deliveries.append({"url": url, "label": label, "status": status,
                                    "fault": fault, "error": error, "at": time.time()})
            del self.deliveries[:-2000]


class Watcher:
    """Calls `changed(key, stamp, created)` for each key whose stamp in `snapshot()`
    differs from the last look (every `interval` seconds, once started). The first look
    only learns what is there."""

    def __init__(self, snapshot: Callable[[], dict], changed: Callable, interval: float = 0.3):
        self.snapshot, self.changed, self.interval = snapshot, changed, interval
        self._seen: dict | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._seen = self.snapshot()
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name="sandbox-watcher")
                self._thread.start()

    def forget(self) -> None:
        """After a reset: learn the new store without announcing it."""
        with self._lock:
            if self._thread is not None:
                self._seen = self.snapshot()

    def look(self) -> None:
        now = self.snapshot()
        seen, self._seen = self._seen or {}, now
        for key, stamp in now.items():
            if seen.get(key) != stamp:
                try:
                    self.changed(key, stamp, key not in seen)
                except Exception:       # a sandbox must not die of a bad callback
                    pass

    def _run(self) -> None:
        while True:
            time.sleep(self.interval)
            with self._lock:
                self.look()

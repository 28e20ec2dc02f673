"""Xero's Idempotency-Key on writes: the same key with the same request within 6 minutes
(by the kit clock) replays the stored response without writing again; the same key with
a different request is refused with a 400; after 6 minutes the key is forgotten. Keys
are per tenant and at most 128 characters."""
from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass

KEY_LIFETIME = 360.0
MAX_KEY_LENGTH = 128


@dataclass
class Stored:
    fingerprint: str
    at: float
    status: int
    headers: dict
    body: bytes


def fingerprint(method: str, path: str, query: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), path.lower().encode(), query.encode(), body):
        digest.update(part + b"\x00")
    return digest.hexdigest()


class IdempotencyKeys:
    def __init__(self, clock):
        self.clock = clock
        self._stored: dict[tuple[str, str], Stored] = {}
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self._stored.clear()

    def find(self, tenant_id: str, key: str) -> Stored | None:
        now = self.clock.monotonic()
        with self._lock:
            for name in [k for k, v in self._stored.items() if now - v.at > KEY_LIFETIME]:
                del self._stored[name]
            return self._stored.get((tenant_id, key))

    def remember(self, tenant_id: str, key: str, fp: str, status: int, headers: dict,
                 body: bytes) -> None:
        with self._lock:
            self._stored[(tenant_id, key)] = Stored(fp, self.clock.monotonic(), status,
                                                    headers, body)

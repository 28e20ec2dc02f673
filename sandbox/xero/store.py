"""Everything the Xero sandbox holds, behind one lock.

Writes take `store.lock` for the whole batch, so a batch is applied in order and a
retried request (same Idempotency-Key) waits for the first to finish rather than racing
it. New ids come from a seeded generator: the same seed and the same requests give the
same ids, which keeps demos repeatable."""
from __future__ import annotations

import random
import threading

from .orgs import Org, build_orgs, new_id


class Store:
    def __init__(self, seed: int, scale: int):
        self.seed = seed
        self.scale = scale
        self.lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.orgs: dict[str, Org] = {o.tenant_id: o for o in build_orgs(self.seed, self.scale)}
            self._rng = random.Random(f"xero-ids:{self.seed}")

    def new_id(self) -> str:
        with self.lock:
            return new_id(self._rng)

    def org(self, tenant_id: str | None) -> Org | None:
        if not tenant_id:
            return None
        return self.orgs.get(tenant_id.strip().lower())

    def org_named(self, name: str) -> Org | None:
        return next((o for o in self.orgs.values() if o.name == name), None)

"""One cycle per record type at a time, across every worker: a Redis lock.

The lock expires on its own (`ttl`, 90 s) so a worker that dies cannot block the cycle
for ever; while the cycle lives a heartbeat thread (`Heartbeat`) extends it every 30 s
and stamps the run's `heartbeat_at`, however long a read or a rate-limit wait takes. A
worker on the same host finds a holder whose process is gone and takes the lock over at
once. A lock lost anyway (Redis restarted, a stalled process) is noticed: `lost` is set
and the cycle stops before its next write instead of overlapping another.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import uuid

from connectors.errors import ApiError

log = logging.getLogger("ferry.cycle")
TTL = 90
BEAT = 30

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_EXTEND = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return 0
"""


class CycleBusy(Exception):
    """Another cycle of this record type is running."""


class LockLost(ApiError):
    """This cycle's lock went to another worker: the cycle stops before its next write
    (a stopped run, as any connector error makes it)."""

    def __init__(self):
        super().__init__("Another worker took over this cycle's lock; this run stopped "
                         "so the two never write the same records.")


class CycleLock:
    def __init__(self, redis, record_type: str, ttl: int | None = None):
        self.redis = redis
        self.key = lock_key(record_type)
        self.ttl = ttl or TTL             # read when made, so a test may shorten TTL
        self.token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex}"
        self.lost = False

    def acquire(self) -> None:
        if self.redis.set(self.key, self.token, nx=True, ex=self.ttl):
            return
        holder = (self.redis.get(self.key) or b"").decode()
        if _dead_local_holder(holder):
            self.redis.eval(_RELEASE, 1, self.key, holder)
            if self.redis.set(self.key, self.token, nx=True, ex=self.ttl):
                return
        raise CycleBusy(holder)

    def extend(self) -> bool:
        """Keep the lock; False (and `lost`) when another holder has it now."""
        if self.redis.eval(_EXTEND, 1, self.key, self.token, self.ttl):
            return True
        # Expired (Redis restarted, or a stall longer than the ttl): take it back if free.
        if self.redis.set(self.key, self.token, nx=True, ex=self.ttl):
            return True
        self.lost = True
        return False

    def check(self) -> None:
        """Called before a write: raises LockLost once the heartbeat found it gone."""
        if self.lost:
            raise LockLost()

    def release(self) -> None:
        self.redis.eval(_RELEASE, 1, self.key, self.token)

    def __enter__(self) -> "CycleLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def lock_key(record_type: str) -> str:
    return f"ferry:cycle-lock:{record_type}"


def lock_state(redis, record_type: str) -> str:
    """"free", "dead" (its holder was a process on this host that is gone: a killed
    worker, known at once) or "held". A run can only be alive while its lock is held."""
    holder = redis.get(lock_key(record_type))
    if holder is None:
        return "free"
    return "dead" if _dead_local_holder(holder.decode()) else "held"


def _dead_local_holder(holder: str) -> bool:
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class Heartbeat:
    """While a cycle runs: extend its lock and stamp its run every `every` seconds from
    a daemon thread, so a long read or a wait for Xero's limit never loses the lock, and
    a run whose worker died shows a stale heartbeat (jobs/cycle.py marks it interrupted).
    The thread dies with the process; the lock then expires within its ttl."""

    def __init__(self, lock: CycleLock, run_id: int, every: float | None = None):
        self.lock, self.run_id, self.every = lock, run_id, every or BEAT
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"ferry-heartbeat-{run_id}",
                                        daemon=True)

    def start(self) -> "Heartbeat":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _beat(self) -> None:
        from models import SyncRun, db, utcnow
        while not self._stop.wait(self.every):
            try:
                if not self.lock.extend():
                    log.warning("cycle lock %s lost to %s", self.lock.key,
                                self.lock.redis.get(self.lock.key))
            except Exception:                  # Redis restarting: try again next beat
                log.warning("could not extend the cycle lock %s", self.lock.key)
            try:
                with db.connection_context():
                    SyncRun.update(heartbeat_at=utcnow()).where(
                        SyncRun.id == self.run_id).execute()
            except Exception:
                log.warning("could not stamp the heartbeat of run %s", self.run_id)

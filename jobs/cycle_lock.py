"""One cycle per record type at a time, across every worker: a Redis lock.

The lock expires on its own (`ttl`, extended after every batch) so a worker that dies
cannot block the cycle for ever; and a worker on the same host finds a holder whose
process is gone and takes the lock over at once, so a crashed cycle resumes on the next
run instead of after the expiry.
"""
from __future__ import annotations

import os
import socket
import uuid

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


class CycleLock:
    def __init__(self, redis, record_type: str, ttl: int = 300):
        self.redis = redis
        self.key = f"ferry:cycle-lock:{record_type}"
        self.ttl = ttl
        self.token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex}"

    def acquire(self) -> None:
        if self.redis.set(self.key, self.token, nx=True, ex=self.ttl):
            return
        holder = (self.redis.get(self.key) or b"").decode()
        if _dead_local_holder(holder):
            self.redis.eval(_RELEASE, 1, self.key, holder)
            if self.redis.set(self.key, self.token, nx=True, ex=self.ttl):
                return
        raise CycleBusy(holder)

    def extend(self) -> None:
        self.redis.eval(_EXTEND, 1, self.key, self.token, self.ttl)

    def release(self) -> None:
        self.redis.eval(_RELEASE, 1, self.key, self.token)

    def __enter__(self) -> "CycleLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


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

"""Is this host's worker or scheduler alive? For a container's healthcheck, where each
process runs alone in its container (its hostname): RQ registers every worker with its
host name and a heartbeat, and rq-scheduler registers itself under a key that lapses
when it stops beating."""
from __future__ import annotations

import socket
import time


def scheduler_name() -> str:
    """rq-scheduler's name for this process: its host first, so a healthcheck on that
    host finds it (rq-scheduler's own default is a bare uuid)."""
    import os
    import uuid
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def alive_here(part: str, stale_after: float | None = None) -> bool:
    from rq import Worker

    from blueprints.health import HEARTBEAT_STALE_SECONDS
    from jobs.queue import get_redis
    stale_after = stale_after or HEARTBEAT_STALE_SECONDS
    connection = get_redis()
    host = socket.gethostname()
    if part == "worker":
        now = time.time()
        return any(w.hostname == host and w.last_heartbeat and
                   now - w.last_heartbeat.timestamp() < stale_after
                   for w in Worker.all(connection=connection))
    # Ferry names its scheduler by host (scheduler_name); the key expires unless it
    # beats, and a scheduler that stops marks it dead.
    for key in connection.scan_iter("rq:scheduler_instance:*"):
        name = key.decode().split("rq:scheduler_instance:", 1)[1]
        if name.startswith(f"{host}:") and not connection.hexists(key, "death"):
            return True
    return False

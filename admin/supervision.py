"""Is this host's worker or scheduler alive? For a container's healthcheck, where each
process runs alone in its container (its hostname): RQ registers every worker with its
host name and a heartbeat, and Ferry's scheduler beats under a key naming its host
(jobs/scheduler.py); both lapse when the process stops beating."""
from __future__ import annotations

import socket


def alive_here(part: str) -> bool:
    from jobs.queue import get_redis
    connection = get_redis()
    host = socket.gethostname()
    if part == "worker":
        from jobs.worker import live_workers
        return any(w.hostname == host for w in live_workers(connection))
    from jobs.scheduler import live_schedulers
    return live_schedulers(connection, host=host) > 0

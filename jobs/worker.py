"""The worker process (`flask --app app worker`): an RQ worker that reports often enough
for /readyz to tell within a minute that it is gone, and that puts itself back on RQ's
list of workers when Redis lost its data (it went on running jobs, unseen, before).

An idle RQ worker reports (its heartbeat) once per `worker_ttl - 15` seconds, 405 by
default; Ferry's every 30 s (WORKER_TTL), and while a job runs RQ beats every 30 s too.
A worker counts as alive when it beat within STALE_SECONDS and, when it runs on this
host, its process still exists: a worker killed with -9 is known at once.

RQ's worker quits when Redis goes away in the middle of a job, and cannot start while
Redis is down; systemd restarts it at most 5 times in 10 minutes and then gives up, so a
Redis outage of a few minutes stopped every sync for good. `run()` waits for Redis and
starts a new worker instead; only a stop request (SIGTERM, Ctrl-C) ends it.
"""
from __future__ import annotations

import logging
import signal
import time
from datetime import datetime, timezone

import redis
from rq import Worker, worker_registration

log = logging.getLogger("ferry.worker")

WORKER_TTL = 45
STALE_SECONDS = 60
REDIS_RETRY_SECONDS = 5


class FerryWorker(Worker):
    def heartbeat(self, timeout: int | None = None, pipeline=None):
        super().heartbeat(timeout, pipeline)
        if self.birth_date is None:          # before register_birth: nothing to restore
            return
        connection = pipeline if pipeline is not None else self.connection
        # After a Redis restart the worker's hash and its place in rq:workers are gone;
        # writing both on every beat brings it back within one.
        connection.hset(self.key, mapping=self.serialize())
        worker_registration.register(self, connection)


def run(connection, queues: list[str], *, burst: bool = False) -> None:
    from admin.logs import rq_level
    while True:
        _wait_for_redis(connection)
        worker = None
        try:
            worker = FerryWorker(queues, connection=connection, worker_ttl=WORKER_TTL)
            # RQ's per-job lines only at FERRY_RQ_LOG_LEVEL=INFO (RQ sets INFO otherwise).
            worker.work(burst=burst, logging_level=rq_level())
        except redis.RedisError as exc:       # quitting, it could not even say so
            log.warning("Redis went away (%s).", type(exc).__name__)
        if burst or (worker is not None and worker._shutdown_requested_date is not None):
            return
        log.warning("The worker stopped without being asked to; it starts again once "
                    "Redis answers.")
        time.sleep(REDIS_RETRY_SECONDS)


def _wait_for_redis(connection) -> None:
    # Between workers no job runs: SIGTERM and Ctrl-C stop the process at once.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    said = False
    while True:
        try:
            connection.ping()
            if said:
                log.warning("Redis answers again; the worker starts.")
            return
        except redis.RedisError as exc:
            if not said:
                log.warning("Waiting for Redis (%s): no job runs until it answers; trying "
                            "every %d s.", type(exc).__name__, REDIS_RETRY_SECONDS)
                said = True
            time.sleep(REDIS_RETRY_SECONDS)


def live_workers(connection, now: datetime | None = None) -> list[Worker]:
    now = now or datetime.now(timezone.utc)
    alive = []
    for worker in Worker.all(connection=connection):
        beat = worker.last_heartbeat
        if beat is None:
            continue
        if beat.tzinfo is None:
            beat = beat.replace(tzinfo=timezone.utc)
        if (now - beat).total_seconds() > STALE_SECONDS:
            continue
        if process_gone(worker.hostname, worker.pid):
            continue
        alive.append(worker)
    return alive


def process_gone(host: str | None, pid) -> bool:
    """True only when `pid` names a process of this very host that no longer exists
    (a process elsewhere, or one we may not signal, is taken as alive)."""
    from jobs.cycle_lock import _dead_local_holder      # the cycle lock's same test
    if not host or pid in (None, ""):
        return False
    return _dead_local_holder(f"{host}:{pid}")


"""The scheduler process (`flask --app app scheduler`): rq-scheduler's loop, made to
last and to look after the schedule. It is Ferry's only scheduler: the worker runs
without RQ's own one, since Ferry puts nothing in RQ's delayed-job registry.

Each pass (every `interval` seconds, 30 by default) it beats (so /readyz and `flask
check` know it is alive) and puts the due jobs on the queue. Every `check_every`
seconds (FERRY_SCHEDULE_CHECK_SECONDS, 60) it first makes sure the schedule holds every
job, due when it should be (jobs/schedule.py puts back what is missing and logs it).
Every WATCH_SECONDS, and at once after putting a job back, it runs the incident check
and sends the outbox itself (jobs/alerts.watch), so a dead worker is still reported.

rq-scheduler's own loop exits on the first Redis error (and systemd gives up after
five restarts): this one says Redis is not answering, keeps trying each pass, and once
Redis is back the heal puts back whatever a Redis that lost its data forgot.
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import time

import redis
from rq_scheduler import Scheduler

from jobs.worker import STALE_SECONDS, process_gone

log = logging.getLogger("ferry.scheduler")

HEARTBEAT_KEY = "ferry:scheduler:{}"
WATCH_SECONDS = 300


class FerryScheduler(Scheduler):
    def __init__(self, connection, interval: int = 30, check_every: int = 60):
        super().__init__(connection=connection, interval=interval)
        self.check_every = check_every
        self._last_check: float | None = None
        # The first incident check waits for a worker started alongside to report (it
        # has not yet, and "not seen" would be a false alarm).
        self._last_watch = time.monotonic() - WATCH_SECONDS + STALE_SECONDS
        self._redis_down = False
        self._stopping = False

    # -- liveness -----------------------------------------------------------------------
    @property
    def allowance(self) -> int:
        """Seconds without a beat after which this scheduler counts as gone: two passes
        and room for a slow one (an SMTP server taking its time in the watch)."""
        return 2 * int(self._interval) + 30

    def beat(self) -> None:
        key = HEARTBEAT_KEY.format(self.name)
        with self.connection.pipeline() as pipe:
            pipe.hset(key, mapping={"beat": time.time(), "host": socket.gethostname(),
                                    "pid": os.getpid(), "allowance": self.allowance})
            pipe.expire(key, self.allowance)
            pipe.execute()

    # -- the loop -----------------------------------------------------------------------
    def run(self, burst: bool = False) -> None:
        self._install_signal_handlers()
        try:
            while not self._stopping:
                started = time.monotonic()
                self._pass()
                if burst:
                    break
                time.sleep(max(0.0, self._interval - (time.monotonic() - started)))
        finally:
            self.register_death()

    def _pass(self) -> None:
        try:
            self.beat()
            if self.acquire_lock():
                try:
                    self.enqueue_jobs()
                finally:
                    self.remove_lock()
            if self._redis_down:
                self._redis_down = False
                log.warning("Redis answers again; the scheduler carries on.")
        except redis.RedisError as exc:
            self._lock_acquired = False
            if not self._redis_down:
                self._redis_down = True
                log.warning("Redis is not answering (%s): no job starts until it is back. "
                            "The scheduler tries again every %d s.", type(exc).__name__,
                            self._interval)

    def enqueue_jobs(self):
        now = time.monotonic()
        repaired = []
        if self._last_check is None or now - self._last_check >= self.check_every:
            self._last_check = now
            repaired = self.heal()
        jobs = super().enqueue_jobs()
        if any(r.lost for r in repaired) or now - self._last_watch >= WATCH_SECONDS:
            self._last_watch = now
            from jobs.alerts import watch
            watch()
        return jobs

    def heal(self) -> list:
        """Put back what the schedule lacks (jobs/schedule.py logs each); a database
        that does not answer postpones it to the next check."""
        from jobs.context import job_context
        from jobs.schedule import register_schedule
        try:
            with job_context() as app:
                repaired = register_schedule(self.connection, locked=True)
                # Real time: register the ConnectWise callbacks again when Ferry's
                # address changed (a call to CW only then; jobs/realtime.py).
                from jobs.realtime import keep_callbacks
                keep_callbacks(app.config["BASE_URL"])
                return repaired
        except redis.RedisError:
            raise
        except Exception as exc:
            log.warning("Could not check the schedule (%s: is the database up?); trying "
                        "again in %d s.", type(exc).__name__, self.check_every)
            return []

    # -- stopping -----------------------------------------------------------------------
    def _install_signal_handlers(self) -> None:
        def stop(signum, frame):
            log.info("Stopping the scheduler.")
            self._stopping = True
            raise SystemExit()
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)

    def register_death(self) -> None:
        try:
            self.remove_lock()
            self.connection.delete(HEARTBEAT_KEY.format(self.name))
        except redis.RedisError:
            pass                 # Redis is down: the beat expires by itself


def live_schedulers(connection, now: float | None = None, host: str | None = None) -> int:
    """How many scheduler processes beat within their allowance (and, on this host,
    still exist: one killed with -9 is known at once); with `host`, only that host's
    (a container's healthcheck: `flask alive scheduler`)."""
    now = now or time.time()
    alive = 0
    for key in connection.scan_iter(HEARTBEAT_KEY.format("*")):
        beat = connection.hgetall(key)
        if host is not None and beat.get(b"host", b"").decode() != host:
            continue
        try:
            age = now - float(beat[b"beat"])
            allowance = float(beat[b"allowance"])
        except (KeyError, ValueError):
            continue
        if age <= allowance and not process_gone(beat.get(b"host", b"").decode(),
                                                 beat.get(b"pid", b"").decode()):
            alive += 1
    return alive

"""Ferry's worker and scheduler as real processes on the test's database and Redis
(tests/processes.py), and helpers to read and move the schedule as rq-scheduler keeps
it, with Redis's own commands."""
from __future__ import annotations

import os
import time

import pytest
import redis as redis_client

from tests.chaos.conftest import private_redis  # noqa: F401 (fixture)
from tests.processes import Processes

SCHEDULED = "rq:scheduler:scheduled_jobs"
CYCLES = ["ferry-cycle-invoice", "ferry-cycle-credit-note", "ferry-cycle-bill",
          "ferry-cycle-payment"]
SMALL_JOBS = ["ferry-audit-retention", "ferry-outbox", "ferry-incident-check",
              "ferry-digest"]
ALL_JOBS = SMALL_JOBS + CYCLES


@pytest.fixture
def processes(app, tmp_path):
    """Worker and scheduler as the systemd units start them, with the demo's short
    cycles (2 s) so a test sees several; the schedule check's period is per test."""
    env = dict(os.environ, DATABASE_URL=app.config["DATABASE_URL"],
               FERRY_SECRET_KEY=app.config["SECRET_KEY"], FERRY_DEMO="1",
               FERRY_DEMO_CYCLE_SECONDS="2", FERRY_SCHEDULE_CHECK_SECONDS="3600")
    started = Processes(tmp_path, env)
    yield started
    started.close()


def scheduled(connection: redis_client.Redis) -> dict[str, float]:
    """Job id -> next run, as rq-scheduler keeps it, for Ferry's jobs whose RQ record is
    there too (rq-scheduler drops an id whose record is gone at its next look)."""
    return {job_id.decode(): score
            for job_id, score in connection.zrange(SCHEDULED, 0, -1, withscores=True)
            if job_id.startswith(b"ferry-") and connection.exists(f"rq:job:{job_id.decode()}")}


def make_due(connection: redis_client.Redis, job_ids) -> None:
    """Time moves past their next run: what the clock would do."""
    now = time.time()
    for job_id in job_ids:
        if connection.zscore(SCHEDULED, job_id) is not None:
            connection.zadd(SCHEDULED, {job_id: now - 1})


def run_out_expiries(connection: redis_client.Redis, job_ids) -> list[str]:
    """Time moves past every expiry RQ set on these jobs' records (PEXPIRE 1 ms does
    at once what the clock would do in `result_ttl` seconds); returns those that had
    one."""
    expiring = [j for j in job_ids if connection.ttl(f"rq:job:{j}") >= 0]
    for job_id in expiring:
        connection.pexpire(f"rq:job:{job_id}", 1)
    time.sleep(0.05)
    return expiring

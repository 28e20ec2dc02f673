"""The periodic jobs are registered once each, however often the scheduler starts."""
from datetime import datetime, timezone

import redis
from rq_scheduler import Scheduler

from jobs.schedule import PERIODIC_JOBS, register_schedule


def test_registering_twice_keeps_one_entry_per_job_and_drops_stale_ones(redis_url):
    connection = redis.Redis.from_url(redis_url)
    scheduler = Scheduler(connection=connection)
    # A job an older Ferry registered and this one no longer has.
    scheduler.schedule(scheduled_time=datetime.now(timezone.utc),
                       func="jobs.audit.purge_audit", interval=60, id="ferry-retired-job")
    register_schedule(connection)
    register_schedule(connection)
    ids = sorted(job.id for job in scheduler.get_jobs())
    assert ids == sorted(job_id for job_id, _, _ in PERIODIC_JOBS)
    assert "ferry-audit-retention" in ids

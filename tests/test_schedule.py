"""The periodic jobs are registered once each, however often the scheduler starts, and a
changed interval moves only that cycle's next run."""
from datetime import datetime, timedelta, timezone

import pytest
import redis
from rq_scheduler import Scheduler

from jobs.cycle import INTERVAL_HOURS, cycle_entries
from jobs.schedule import PERIODIC_JOBS, entries, next_runs, register_schedule
from models import Setting, db


@pytest.fixture
def connection(app, redis_url):
    with app.app_context(), db.connection_context():
        yield redis.Redis.from_url(redis_url)


def _wanted_ids():
    # The payment back-sync (jobs/cycle_payments.py) is registered after the cycles.
    return sorted([job_id for job_id, _, _ in PERIODIC_JOBS + cycle_entries()]
                  + ["ferry-cycle-payment"])


def test_registering_twice_keeps_one_entry_per_job_and_drops_stale_ones(connection):
    scheduler = Scheduler(connection=connection)
    # A job an older Ferry registered and this one no longer has.
    scheduler.schedule(scheduled_time=datetime.now(timezone.utc),
                       func="jobs.audit.purge_audit", interval=60, id="ferry-retired-job")
    register_schedule(connection)
    register_schedule(connection)
    ids = sorted(job.id for job in scheduler.get_jobs())
    assert ids == _wanted_ids()
    assert "ferry-audit-retention" in ids
    assert "ferry-cycle-credit-note" in ids
    assert all(c.isalnum() or c in "_-" for job_id in ids for c in job_id)


def test_an_unchanged_interval_keeps_its_next_run(connection):
    register_schedule(connection)
    # As if the scheduler had already run each job once and set its next run.
    key = Scheduler(connection=connection).scheduled_jobs_key
    now = datetime.now(timezone.utc).replace(microsecond=0)
    later = {e.job_id: now + timedelta(seconds=e.interval - 10) for e in entries()}
    for job_id, when in later.items():
        connection.zadd(key, {job_id: int(when.timestamp())})
    register_schedule(connection)
    assert next_runs(connection) == later


def test_a_changed_interval_next_runs_one_new_interval_from_now(connection):
    register_schedule(connection)
    before = next_runs(connection)
    Setting.set_value(INTERVAL_HOURS.format("bill"), 2)
    start = datetime.now(timezone.utc)
    register_schedule(connection)
    after = next_runs(connection)
    moved = after["ferry-cycle-bill"] - start
    assert timedelta(hours=2) - timedelta(seconds=2) <= moved <= timedelta(hours=2, seconds=2)
    job = Scheduler(connection=connection).job_class.fetch("ferry-cycle-bill",
                                                          connection=connection)
    assert job.meta["interval"] == 2 * 3600
    unchanged = {k: v for k, v in after.items() if k != "ferry-cycle-bill"}
    assert unchanged == {k: v for k, v in before.items() if k != "ferry-cycle-bill"}


def test_first_registration_runs_invoices_before_credit_notes(connection):
    register_schedule(connection)
    runs = next_runs(connection)
    assert runs["ferry-cycle-invoice"] < runs["ferry-cycle-credit-note"]
    assert runs["ferry-cycle-credit-note"] < runs["ferry-cycle-bill"]


def test_cycles_get_a_timeout_that_fits_a_first_sync(connection):
    """RQ's default 180 s killed a first sync of thousands of invoices on schedule: a
    cycle (scheduled or forced) gets the cycle timeout, a small job a short one."""
    from jobs.cycle import JOB_TIMEOUT
    register_schedule(connection)
    jobs = {job.id: job for job in Scheduler(connection=connection).get_jobs()}
    assert JOB_TIMEOUT >= 3 * 3600
    for job_id in ("ferry-cycle-invoice", "ferry-cycle-credit-note", "ferry-cycle-bill"):
        assert jobs[job_id].timeout == JOB_TIMEOUT
    assert jobs["ferry-audit-retention"].timeout == 600

"""The periodic jobs rq-scheduler starts, registered idempotently at start-up.

Each entry has a fixed job id, so registering again (every scheduler start, and after a
settings change) replaces the old entry instead of adding a second one. An entry whose
interval is unchanged keeps its next run time, so saving the settings does not start
every cycle at once; one whose interval changed next runs a new interval from now.
"""
from datetime import datetime, timedelta, timezone

from rq_scheduler import Scheduler

DAY = 24 * 3600
# RQ job ids allow letters, digits, "_" and "-" only.
JOB_PREFIX = "ferry-"

# (job id, function path, interval in seconds)
PERIODIC_JOBS: list[tuple[str, str, int]] = [
    ("ferry-audit-retention", "jobs.audit.purge_audit", DAY),
    # Alerts (jobs/alerts.py, jobs/digest.py, jobs/outbox.py): the outbox every minute,
    # failure incidents every 5 minutes, and a check whether the digest's time has come.
    ("ferry-outbox", "jobs.outbox.send_outbox", 60),
    ("ferry-incident-check", "jobs.alerts.incident_check", 300),
    ("ferry-digest", "jobs.digest.digest_job", 300),
]


def register_schedule(connection) -> list[str]:
    """Needs an open DB connection: the cycles' intervals are settings."""
    scheduler = Scheduler(connection=connection)
    from jobs.cycle import cycle_entries, interval_hours   # sync cycles, set intervals
    # The payment back-sync (jobs/cycle_payments.py) after the others: its own interval
    # setting, sync.interval_hours.payment.
    entries = PERIODIC_JOBS + cycle_entries() + [
        ("ferry-cycle-payment", "jobs.cycle_payments.payment_cycle",
         interval_hours("payment") * 3600)]
    wanted = {job_id for job_id, _, _ in entries}
    existing = {}
    for job in scheduler.get_jobs():
        if not job.id.startswith(JOB_PREFIX):
            continue
        if job.id in wanted:
            existing[job.id] = job
        else:
            scheduler.cancel(job)
    now = datetime.now(timezone.utc)
    for position, (job_id, func, interval) in enumerate(entries):
        job = existing.get(job_id)
        if job is not None and job.func_name == func and \
                job.meta.get("interval") == interval:
            continue
        # New entries start in list order, 30 s apart: invoices reach Xero before the
        # credit memos that apply to them (jobs due together run in id order otherwise).
        first_run = (now + timedelta(seconds=30 * position) if job is None
                     else now + timedelta(seconds=interval))
        if job is not None:
            scheduler.cancel(job)
        scheduler.schedule(scheduled_time=first_run, func=func, interval=interval,
                           repeat=None, id=job_id, result_ttl=interval * 2)
    return sorted(wanted)


def next_runs(connection) -> dict[str, datetime]:
    """Job id -> when rq-scheduler next starts it (UTC)."""
    key = Scheduler(connection=connection).scheduled_jobs_key
    return {job_id.decode(): datetime.fromtimestamp(score, timezone.utc)
            for job_id, score in connection.zrange(key, 0, -1, withscores=True)
            if job_id.decode().startswith(JOB_PREFIX)}

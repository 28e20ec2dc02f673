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

CYCLE_PREFIX = "ferry-cycle-"
DEMO_CYCLE_SECONDS = 180

# (job id, function path, interval in seconds)
PERIODIC_JOBS: list[tuple[str, str, int]] = [
    ("ferry-audit-retention", "jobs.audit.purge_audit", DAY),
    # Alerts (jobs/alerts.py, jobs/digest.py, jobs/outbox.py): the outbox every minute,
    # failure incidents every 5 minutes, and a check whether the digest's time has come.
    ("ferry-outbox", "jobs.outbox.send_outbox", 60),
    ("ferry-incident-check", "jobs.alerts.incident_check", 300),
    ("ferry-digest", "jobs.digest.digest_job", 300),
]


def job_timeout(func: str) -> int:
    """RQ kills a job that runs longer than its timeout (180 s by default): a sync
    cycle gets room for a first sync of thousands of records under Xero's minute limit
    (its lock lives by heartbeat, not by this number); the small jobs keep a short one."""
    if func.startswith(("jobs.cycle.", "jobs.cycle_payments.")):
        from jobs.cycle import JOB_TIMEOUT
        return JOB_TIMEOUT
    return 600


def _demo() -> bool:
    from flask import current_app, has_app_context
    return has_app_context() and bool(current_app.config.get("DEMO"))


def register_schedule(connection) -> list[str]:
    """Needs an open DB connection: the cycles' intervals are settings."""
    scheduler = Scheduler(connection=connection)
    from jobs.cycle import cycle_entries, interval_hours   # sync cycles, set intervals
    # The payment back-sync (jobs/cycle_payments.py) after the others: its own interval
    # setting, sync.interval_hours.payment.
    entries = PERIODIC_JOBS + cycle_entries() + [
        ("ferry-cycle-payment", "jobs.cycle_payments.payment_cycle",
         interval_hours("payment") * 3600)]
    if _demo():
        # The demo shows several cycles in ten minutes; real use keeps the set hours.
        entries = [(job_id, func, DEMO_CYCLE_SECONDS if job_id.startswith(CYCLE_PREFIX)
                    else interval) for job_id, func, interval in entries]
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
    cycles = [job_id for job_id, _, _ in entries if job_id.startswith(CYCLE_PREFIX)]
    for job_id, func, interval in entries:
        job = existing.get(job_id)
        if job is not None and job.func_name == func and \
                job.meta.get("interval") == interval and job.timeout == job_timeout(func):
            continue
        # New cycles start in list order, 30 s apart, the first at once: invoices reach
        # Xero before the credit memos that apply to them (jobs due together run in id
        # order otherwise). The small periodic jobs start at once.
        position = cycles.index(job_id) if job_id in cycles else 0
        first_run = (now + timedelta(seconds=30 * position) if job is None
                     else now + timedelta(seconds=interval))
        if job is not None:
            scheduler.cancel(job)
        scheduler.schedule(scheduled_time=first_run, func=func, interval=interval,
                           repeat=None, id=job_id, result_ttl=interval * 2,
                           timeout=job_timeout(func))
    return sorted(wanted)


def next_runs(connection) -> dict[str, datetime]:
    """Job id -> when rq-scheduler next starts it (UTC)."""
    key = Scheduler(connection=connection).scheduled_jobs_key
    return {job_id.decode(): datetime.fromtimestamp(score, timezone.utc)
            for job_id, score in connection.zrange(key, 0, -1, withscores=True)
            if job_id.decode().startswith(JOB_PREFIX)}

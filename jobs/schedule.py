"""The periodic jobs rq-scheduler starts, registered idempotently at start-up.

Each entry has a fixed job id, so registering again (every scheduler start, and after a
settings change) replaces the old entry instead of adding a second one.
"""
from datetime import datetime, timezone

from rq_scheduler import Scheduler

DAY = 24 * 3600
# RQ job ids allow letters, digits, "_" and "-" only.
JOB_PREFIX = "ferry-"

# (job id, function path, interval in seconds)
PERIODIC_JOBS: list[tuple[str, str, int]] = [
    ("ferry-audit-retention", "jobs.audit.purge_audit", DAY),
]


def register_schedule(connection) -> list[str]:
    scheduler = Scheduler(connection=connection)
    from jobs.cycle import cycle_entries     # the sync cycles, at their set intervals
    entries = PERIODIC_JOBS + cycle_entries()
    wanted = {job_id for job_id, _, _ in entries}
    for job in scheduler.get_jobs():
        if job.id.startswith(JOB_PREFIX) and job.id not in wanted:
            scheduler.cancel(job)
    for job_id, func, interval in entries:
        if job_id in scheduler:
            scheduler.cancel(job_id)
        scheduler.schedule(
            scheduled_time=datetime.now(timezone.utc), func=func, interval=interval,
            repeat=None, id=job_id, result_ttl=interval * 2,
        )
    return sorted(wanted)

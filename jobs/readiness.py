"""Is Ferry working? One answer per part, each with a sentence: the database, Redis, a
worker, the scheduler and the schedule. /readyz, the dashboard's parts panel, `flask
check` and the failure alerts all read it here, so they never disagree.

Sentences name no host, address, key or error text (/readyz is public): an error is
named by its kind only.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field

import migrations
from models import db


@dataclass
class Check:
    name: str             # database | redis | worker | scheduler | schedule
    ok: bool
    sentence: str
    count: int | None = None
    problems: list[str] = field(default_factory=list)   # one sentence per schedule job

    def as_json(self) -> dict:
        body = {"ok": self.ok, "sentence": self.sentence}
        if self.count is not None:
            body["count"] = self.count
        if self.problems:
            body["problems"] = self.problems
        return body


def database_check() -> Check:
    try:
        with _connected():
            db.execute_sql("SELECT 1")
            waiting = migrations.pending(db)
    except Exception as exc:      # any driver error means "down"; say which kind
        return Check("database", False, f"The database does not answer "
                     f"({type(exc).__name__}). Check DATABASE_URL and that the database "
                     "server runs.")
    if waiting:
        return Check("database", False, f"The database answers but {len(waiting)} "
                     "migration(s) are pending: the web process applies them when it "
                     "starts (flask --app app db upgrade).")
    return Check("database", True, "The database answers and its schema is up to date.")


def redis_check(connection) -> Check:
    try:
        connection.ping()
    except Exception as exc:
        return Check("redis", False, f"Redis does not answer ({type(exc).__name__}): no "
                     "sync cycle or e-mail job runs. Check REDIS_URL and that redis-server "
                     "runs.")
    return Check("redis", True, "Redis answers.")


def worker_check(connection) -> Check:
    from jobs.worker import STALE_SECONDS, live_workers
    count = len(live_workers(connection))
    if count:
        return Check("worker", True, f"{count} worker(s) reported in the last "
                     f"{STALE_SECONDS} seconds.", count=count)
    return Check("worker", False, "No worker is running (none reported in the last "
                 f"{STALE_SECONDS} seconds, or its process has ended), so no sync cycle or "
                 "e-mail job runs. Start it (systemctl start ferry-worker) and see why it "
                 "stopped (journalctl -u ferry-worker).", count=0)


def scheduler_check(connection) -> Check:
    from jobs.scheduler import live_schedulers
    count = live_schedulers(connection)
    if count:
        return Check("scheduler", True, f"{count} scheduler(s) running.", count=count)
    return Check("scheduler", False, "The scheduler is not running, so no cycle, digest "
                 "or e-mail starts on time. Start it (systemctl start ferry-scheduler) and "
                 "see why it stopped (journalctl -u ferry-scheduler).", count=0)


def schedule_check(connection) -> Check:
    from jobs.schedule import schedule_state
    with _connected():
        states = schedule_state(connection)
    problems = [s.sentence() for s in states if not s.verdict.ok]
    if problems:
        return Check("schedule", False, " ".join(problems), problems=problems)
    return Check("schedule", True, f"All {len(states)} scheduled jobs are in place and "
                 "no cycle is overdue.")


def readiness() -> list[Check]:
    """Every check; never raises (a check that cannot run is a failed check)."""
    from jobs.queue import get_redis
    checks = [database_check()]
    try:
        connection = get_redis()
    except Exception as exc:          # the private Redis could not be started
        connection = None
        checks.append(Check("redis", False, f"Redis cannot be reached "
                            f"({type(exc).__name__}). Check REDIS_URL."))
    else:
        checks.append(redis_check(connection))
    if not checks[-1].ok:
        for name in ("worker", "scheduler", "schedule"):
            checks.append(Check(name, False, "Not known while Redis does not answer."))
        return checks
    checks.append(_safely("worker", worker_check, connection))
    checks.append(_safely("scheduler", scheduler_check, connection))
    if checks[0].ok:
        checks.append(_safely("schedule", schedule_check, connection))
    else:
        checks.append(Check("schedule", False, "Not known while the database does not "
                            "answer (the cycles' intervals and runs are kept there)."))
    return checks


def _safely(name: str, check, *args) -> Check:
    try:
        return check(*args)
    except Exception as exc:
        return Check(name, False, f"Could not be checked ({type(exc).__name__}).")


@contextmanager
def _connected():
    """The caller's open connection (a page, a job), else one for this check alone."""
    if not db.is_closed():
        yield
        return
    with db.connection_context():
        yield

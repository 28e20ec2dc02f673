"""The periodic jobs rq-scheduler starts: registered idempotently, kept whole, and read
back for the dashboard, /readyz, `flask check` and the alerts.

How rq-scheduler (0.14) keeps a periodic job: its id in the sorted set
`rq:scheduler:scheduled_jobs`, scored by its next run, and its definition (function,
interval, timeout) in RQ's job hash `rq:job:<id>`. Each pass reads the hashes of the ids
that are due; an id whose hash is gone is taken out of the set for good and never runs
again. RQ makes a hash expire `result_ttl` seconds after a run succeeds and clears that
expiry only when a worker next starts the job (enqueueing keeps it). So a finite
result_ttl lost every job no worker started in time: the worker stopped, crash-looping,
or busy with one long cycle (ferry-outbox, every minute, went after two).

Hence periodic jobs keep their hash for ever (result_ttl=-1, and registering clears an
expiry an older Ferry left), and `register_schedule` doubles as the heal the scheduler
runs every minute (jobs/scheduler.py): it puts back whatever is missing (a Redis that
lost its data) and any next run further off than its interval, says so in the log and
records it for the alert (jobs/alerts.py, the "schedule" incident).

Each entry has a fixed job id, so registering again replaces the old entry instead of
adding a second one. An entry whose interval is unchanged keeps its next run time, so
saving the settings does not start every cycle at once; one whose interval changed
next runs a new interval from now.
"""
from __future__ import annotations

import logging
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from rq.job import Job
from rq_scheduler import Scheduler

from models import Setting, SyncRun, utcnow
from sync import schedule as judging
from sync.alerts import ONE

log = logging.getLogger("ferry.schedule")

DAY = 24 * 3600
# RQ job ids allow letters, digits, "_" and "-" only.
JOB_PREFIX = "ferry-"

CYCLE_PREFIX = "ferry-cycle-"
DEMO_CYCLE_SECONDS = 180
# The job ids ever registered here: one of them missing later was lost (a new one, on
# a first start or after an upgrade, was not).
REGISTERED = "schedule.registered"
# Job id -> what the heal put back and when, until the job has run since.
REPAIRS = "schedule.repairs"
# A next run further off than its interval plus this cannot be right.
AHEAD_SLACK = timedelta(seconds=60)
# How long a pass of the scheduler may hold a job out of the set (see _next_run).
IN_TRANSIT = timedelta(seconds=30)

# (job id, function path, interval in seconds)
PERIODIC_JOBS: list[tuple[str, str, int]] = [
    ("ferry-audit-retention", "jobs.audit.purge_audit", DAY),
    # Alerts (jobs/alerts.py, jobs/digest.py, jobs/outbox.py): the outbox every minute,
    # failure incidents every 5 minutes, and a check whether the digest's time has come.
    ("ferry-outbox", "jobs.outbox.send_outbox", 60),
    ("ferry-incident-check", "jobs.alerts.incident_check", 300),
    ("ferry-digest", "jobs.digest.digest_job", 300),
]
LABELS = {"ferry-audit-retention": "the audit log clean-up",
          "ferry-outbox": "the outbox (Ferry's e-mail sender)",
          "ferry-incident-check": "the check for failures to alert on",
          "ferry-digest": "the daily digest"}


@dataclass(frozen=True)
class Entry:
    job_id: str
    func: str
    interval: int

    @property
    def record_type(self) -> str | None:
        """invoice, credit_note, bill, payment for a sync cycle; None otherwise."""
        if not self.job_id.startswith(CYCLE_PREFIX):
            return None
        return self.job_id[len(CYCLE_PREFIX):].replace("-", "_")

    @property
    def label(self) -> str:
        if self.record_type:
            return f"the {ONE.get(self.record_type, self.record_type).lower()} cycle"
        return LABELS.get(self.job_id, self.job_id)


@dataclass(frozen=True)
class Repair:
    job_id: str
    reason: str          # new | missing | ahead | changed | updated
    next_run: datetime   # naive UTC

    @property
    def lost(self) -> bool:
        """The schedule had broken (as opposed to a first start, a new interval or an
        upgrade): worth a line in the log at warning level and an alert."""
        return self.reason in ("missing", "ahead")


def job_timeout(func: str) -> int:
    """RQ kills a job that runs longer than its timeout (180 s by default): a sync
    cycle gets room for a first sync of thousands of records under Xero's minute limit
    (its lock lives by heartbeat, not by this number); the small jobs keep a short one."""
    if func.startswith(("jobs.cycle.", "jobs.cycle_payments.")):
        from jobs.cycle import JOB_TIMEOUT
        return JOB_TIMEOUT
    return 600


def _demo_cycle_seconds() -> int | None:
    from flask import current_app, has_app_context
    if has_app_context() and current_app.config.get("DEMO"):
        return int(current_app.config.get("DEMO_CYCLE_SECONDS") or DEMO_CYCLE_SECONDS)
    return None


def entries() -> list[Entry]:
    """What the schedule should hold. Needs an open DB connection: the cycles'
    intervals are settings."""
    from jobs.cycle import cycle_entries, interval_hours   # sync cycles, set intervals
    # The payment back-sync (jobs/cycle_payments.py) after the others: its own interval
    # setting, sync.interval_hours.payment.
    found = PERIODIC_JOBS + cycle_entries() + [
        ("ferry-cycle-payment", "jobs.cycle_payments.payment_cycle",
         interval_hours("payment") * 3600)]
    demo = _demo_cycle_seconds()
    # The demo shows several cycles in ten minutes; real use keeps the set hours.
    return [Entry(job_id, func, demo if demo and job_id.startswith(CYCLE_PREFIX)
                  else interval) for job_id, func, interval in found]


def register_schedule(connection, *, locked: bool = False) -> list[Repair]:
    """Make the schedule hold exactly `entries()`, each due when it should be, and
    return what was changed. The scheduler calls it at start and every minute (with
    its pass lock already held: `locked`); saving the sync settings calls it too."""
    with (nullcontext() if locked else _scheduler_lock(connection)):
        return _register(connection)


def _register(connection) -> list[Repair]:
    scheduler = Scheduler(connection=connection)
    wanted = entries()
    ids = [e.job_id for e in wanted]
    scores = _scores(connection)
    for job_id in scores:
        if job_id not in ids:              # a job an older Ferry had
            scheduler.cancel(job_id)
    jobs = _fetch(connection, ids)
    known = set(Setting.get_value(REGISTERED) or [])
    last = _last_runs([e.record_type for e in wanted if e.record_type])
    now = utcnow()
    cycles = [e.job_id for e in wanted if e.record_type]
    repairs = []
    for entry in wanted:
        job, score = jobs.get(entry.job_id), scores.get(entry.job_id)
        reason, next_run = _decide(connection, entry, job, score, now,
                                   entry.job_id not in known,
                                   cycles.index(entry.job_id) if entry.job_id in cycles
                                   else 0, last.get(entry.record_type))
        if reason is None:
            continue
        scheduler.cancel(entry.job_id)
        # A fresh hash: the old one's expiry (an older Ferry's result_ttl) and its last
        # enqueue time (what "overdue" is measured from) must not carry over.
        connection.delete(Job.key_for(entry.job_id))
        scheduler.schedule(scheduled_time=next_run.replace(tzinfo=timezone.utc),
                           func=entry.func, interval=entry.interval, repeat=None,
                           id=entry.job_id, result_ttl=-1,
                           timeout=job_timeout(entry.func))
        repair = Repair(entry.job_id, reason, next_run)
        repairs.append(repair)
        (log.warning if repair.lost else log.info)(
            "Schedule: %s %s; next run %s (job %s).", entry.label, _REASONS[reason],
            judging.utc(next_run), entry.job_id)
    if not known >= set(ids):
        Setting.set_value(REGISTERED, sorted(known | set(ids)))
    _remember([r for r in repairs if r.lost], wanted, now, last, jobs)
    return repairs


_REASONS = {"new": "registered",
            "missing": "was missing; put it back",
            "ahead": "was not due for longer than its interval; moved its next run",
            "changed": "has a new interval",
            "updated": "updated (kept its next run)"}


def _decide(connection, entry: Entry, job, score, now: datetime, new: bool,
            position: int, last_run: datetime | None):
    """(reason, next run) for an entry that needs registering, else (None, None)."""
    interval = timedelta(seconds=entry.interval)
    if job is None or score is None:
        # New cycles start in list order, 30 s apart (less in a demo's short interval),
        # the first at once: invoices reach Xero before the credit memos that apply to
        # them (jobs due together run in id order otherwise). A lost cycle is due an
        # interval after its last run.
        step = min(30, max(1, entry.interval // 10))
        next_run = now + timedelta(seconds=step * position)
        if last_run is not None and last_run + interval > next_run:
            next_run = last_run + interval
        return ("new" if new else "missing"), next_run
    if job.func_name != entry.func or job.meta.get("interval") != entry.interval:
        return "changed", now + interval
    scheduled = datetime.fromtimestamp(score, timezone.utc).replace(tzinfo=None)
    if scheduled > now + interval + AHEAD_SLACK:
        return "ahead", now + interval
    if job.timeout != job_timeout(entry.func) or job.result_ttl != -1 or \
            connection.ttl(job.key) >= 0:
        return "updated", scheduled
    return None, None


def _fetch(connection, ids: list[str]) -> dict:
    """Job id -> its RQ job, or None when its hash is gone (or unreadable: a hash a
    worker half-wrote after it was deleted counts as gone)."""
    try:
        return dict(zip(ids, Job.fetch_many(ids, connection=connection)))
    except Exception:
        found = {}
        for job_id in ids:
            try:
                found[job_id] = Job.fetch(job_id, connection=connection)
            except Exception:
                found[job_id] = None
        return found


def _scores(connection) -> dict[str, float]:
    key = Scheduler.scheduled_jobs_key
    return {job_id.decode(): score
            for job_id, score in connection.zrange(key, 0, -1, withscores=True)
            if job_id.decode().startswith(JOB_PREFIX)}


@contextmanager
def _scheduler_lock(connection, patience: float = 10.0):
    """rq-scheduler's own pass lock, so registering from the web (a settings save)
    never reads the schedule between a pass's take-out and put-back of a job."""
    key = Scheduler.scheduler_lock_key
    deadline = time.monotonic() + patience
    held = False
    while not held and time.monotonic() < deadline:
        held = bool(connection.set(key, time.time(), ex=30, nx=True))
        if not held:
            time.sleep(0.1)
    try:
        yield
    finally:
        if held:
            connection.delete(key)


# -- what the schedule holds now ---------------------------------------------------------
def next_runs(connection) -> dict[str, datetime]:
    """Job id -> when rq-scheduler next starts it (UTC)."""
    return {job_id: datetime.fromtimestamp(score, timezone.utc)
            for job_id, score in _scores(connection).items()}


@dataclass(frozen=True)
class EntryState:
    entry: Entry
    facts: judging.Facts
    verdict: judging.Verdict

    def sentence(self, when=judging.utc) -> str:
        return judging.sentence(self.facts, self.verdict, when)


def schedule_state(connection, *, cycles_only: bool = False,
                   now: datetime | None = None) -> list[EntryState]:
    """Each entry the schedule should hold, with its facts and whether it is there
    and on time. Needs Redis and an open DB connection."""
    now = now or utcnow()
    wanted = [e for e in entries() if e.record_type or not cycles_only]
    ids = [e.job_id for e in wanted]
    scores = _scores(connection)
    jobs = _fetch(connection, ids)
    runs = _last_runs([e.record_type for e in wanted if e.record_type])
    registered = set(Setting.get_value(REGISTERED) or [])
    states = []
    for entry in wanted:
        job = jobs.get(entry.job_id)
        facts = judging.Facts(
            job_id=entry.job_id, label=entry.label, interval=entry.interval,
            is_cycle=entry.record_type is not None,
            next_run=_next_run(entry, job, scores.get(entry.job_id), now),
            enqueued_at=_naive(job.enqueued_at) if job is not None else None,
            last_run=(runs.get(entry.record_type) if entry.record_type
                      else _job_last_run(job)),
            registered=entry.job_id in registered)
        states.append(EntryState(entry, facts, judging.judge(facts, now)))
    return states


def _next_run(entry: Entry, job, score, now: datetime) -> datetime | None:
    """Its next run; None when it is not in the schedule. A pass of the scheduler takes
    a due job out of the set, queues it and puts it back an interval on: a job queued
    within IN_TRANSIT is on its way back, not missing."""
    if job is None:
        return None
    if score is not None:
        return datetime.fromtimestamp(score, timezone.utc).replace(tzinfo=None)
    queued = _naive(job.enqueued_at)
    if queued is not None and now - queued <= IN_TRANSIT:
        return queued + timedelta(seconds=entry.interval)
    return None


def _last_runs(record_types: list[str]) -> dict[str, datetime]:
    """Record type -> the latest sign of life of its latest run (scheduled, forced or
    from the command line): its start, last heartbeat or end. One cycle of a type runs
    at a time, so the latest started is the one to ask; read through the started_at
    index, it costs the same after years of runs."""
    found = {}
    for record_type in record_types:
        run = (SyncRun.select(SyncRun.started_at, SyncRun.heartbeat_at, SyncRun.finished_at)
               .where(SyncRun.record_type == record_type)
               .order_by(SyncRun.started_at.desc(), SyncRun.id.desc()).first())
        if run is not None:
            found[record_type] = max(t for t in (run.started_at, run.heartbeat_at,
                                                 run.finished_at) if t is not None)
    return found


def _job_last_run(job) -> datetime | None:
    if job is None:
        return None
    times = [_naive(t) for t in (job.started_at, job.ended_at) if t is not None]
    return max(times) if times else None


def _naive(at: datetime | None) -> datetime | None:
    if at is None:
        return None
    return at.astimezone(timezone.utc).replace(tzinfo=None) if at.tzinfo else at


# -- what the heal did, for the alert ------------------------------------------------------
@dataclass(frozen=True)
class RepairRecord:
    entry: Entry
    at: datetime
    next_run: datetime
    last_run: datetime | None


def _remember(lost: list[Repair], wanted: list[Entry], now: datetime, last: dict,
              jobs: dict) -> None:
    if not lost:
        return
    kept = dict(Setting.get_value(REPAIRS) or {})
    by_id = {e.job_id: e for e in wanted}
    for repair in lost:
        entry = by_id[repair.job_id]
        last_run = last.get(entry.record_type) if entry.record_type else \
            _job_last_run(jobs.get(repair.job_id))
        kept[repair.job_id] = {"at": now.isoformat(), "next_run": repair.next_run.isoformat(),
                               "last_run": last_run.isoformat() if last_run else None}
    Setting.set_value(REPAIRS, kept)


def unsettled_repairs(states: list[EntryState]) -> list[RepairRecord]:
    """Jobs the heal put back that have not run since: the alert says what Ferry did
    until they have. Records of jobs that ran since are dropped."""
    kept = dict(Setting.get_value(REPAIRS) or {})
    if not kept:
        return []
    by_id = {s.entry.job_id: s for s in states}
    out, settled = [], []
    for job_id, record in kept.items():
        state = by_id.get(job_id)
        at = datetime.fromisoformat(record["at"])
        if state is None or (state.facts.last_run is not None and
                             state.facts.last_run > at):
            settled.append(job_id)
            continue
        out.append(RepairRecord(state.entry, at, datetime.fromisoformat(record["next_run"]),
                                datetime.fromisoformat(record["last_run"])
                                if record.get("last_run") else None))
    if settled:
        Setting.set_value(REPAIRS, {k: v for k, v in kept.items() if k not in settled})
    return out

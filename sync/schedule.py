"""Is a periodic job where it should be, and on time? Pure decisions on the facts that
jobs/schedule.py reads from Redis and the database, and the sentences that say what is
wrong, since when, and what to check.

- **Missing**: not in rq-scheduler's schedule (its entry or its RQ record is gone), so
  it never runs by itself again. A job the scheduler never registered here (it has not
  started yet on this database) is **not registered**: the scheduler's own check says
  why.
- **Overdue**: it was due longer ago than half its interval (at least 5 minutes, at
  most an hour) and has not run since: either the scheduler has not started it (its
  next run lies that far in the past), or, for a sync cycle, the scheduler put it on
  the queue and no run of that cycle has been alive since (no worker took it, or the
  job failed before its run began). A cycle every 6 hours due at 10:00 is overdue at
  11:00 with no run since; a cycle waiting behind a long one on a busy worker is not,
  until then.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

OVERDUE_AT_LEAST = timedelta(minutes=5)
OVERDUE_AT_MOST = timedelta(hours=1)
# The scheduler's clock and a worker's may differ a little (other hosts).
CLOCK_SLACK = timedelta(seconds=60)

SCHEDULER_ADVICE = ("Check that Ferry's scheduler runs (systemctl status ferry-scheduler; "
                    "journalctl -u ferry-scheduler says why it stopped).")
WORKER_ADVICE = ("Check that Ferry's worker runs and stays up (systemctl status "
                 "ferry-worker; journalctl -u ferry-worker says why it stopped), or "
                 "whether it is busy with a long cycle (Runs).")
REDIS_ADVICE = ("Nothing more needs doing unless it happens again. Jobs drop out of the "
                "schedule when Redis loses its data (restarted without saving it, or "
                "emptied): if it repeats, check Redis's log and its save settings.")


@dataclass(frozen=True)
class Facts:
    job_id: str
    label: str                      # "the invoice cycle"
    interval: int                   # seconds
    is_cycle: bool
    next_run: datetime | None       # naive UTC; None: not in the schedule
    enqueued_at: datetime | None    # when the scheduler last put it on the queue
    last_run: datetime | None       # the latest sign of a run (its start, beat or end)
    registered: bool = True         # the scheduler registered it here once


@dataclass(frozen=True)
class Verdict:
    kind: str                       # ok | missing | not_registered | overdue
    due: datetime | None = None
    waiting_for: str | None = None  # scheduler | worker

    @property
    def ok(self) -> bool:
        return self.kind == "ok"


def overdue_after(interval: int) -> timedelta:
    return min(max(timedelta(seconds=interval / 2), OVERDUE_AT_LEAST), OVERDUE_AT_MOST)


def judge(facts: Facts, now: datetime) -> Verdict:
    if facts.next_run is None:
        return Verdict("missing" if facts.registered else "not_registered")
    grace = overdue_after(facts.interval)
    if facts.next_run <= now - grace:
        # Due, and the scheduler has not put it on the queue since.
        return Verdict("overdue", facts.next_run, "scheduler")
    if not facts.is_cycle or facts.enqueued_at is None or facts.next_run <= now:
        return Verdict("ok")
    # On the queue since enqueued_at: a run must have been alive since then. (The small
    # jobs wait behind a long cycle on a one-worker installation; only cycles count.)
    due = facts.enqueued_at
    if now - due <= grace or (facts.last_run is not None and
                              facts.last_run >= due - CLOCK_SLACK):
        return Verdict("ok")
    return Verdict("overdue", due, "worker")


def sentence(facts: Facts, verdict: Verdict, when: Callable[[datetime], str]) -> str:
    """What is wrong with one job, since when, and what to check; `when` formats a
    naive UTC time for the reader (UTC on the pages, the alerts' zone in e-mails)."""
    label = facts.label[0].upper() + facts.label[1:]
    last = f" (its last run: {when(facts.last_run)})" if facts.last_run else ""
    if verdict.kind == "missing":
        return (f"{label} is not in Ferry's schedule, so it does not run by itself{last}. "
                "Ferry's scheduler puts it back within a minute; if it stays missing, "
                "the scheduler is not running. " + SCHEDULER_ADVICE)
    if verdict.kind == "not_registered":
        return (f"{label} is not scheduled yet: the scheduler registers it when it "
                "starts. " + SCHEDULER_ADVICE)
    if verdict.kind == "overdue" and verdict.waiting_for == "scheduler":
        return (f"{label} is overdue: it was due at {when(verdict.due)} and the scheduler "
                f"has not started it{last}. " + SCHEDULER_ADVICE)
    if verdict.kind == "overdue":
        return (f"{label} is overdue: the scheduler put it on the queue at "
                f"{when(verdict.due)} and it has not run since{last}. " + WORKER_ADVICE)
    return f"{label} is scheduled and on time."


def repair_sentence(label: str, put_back_at: datetime, next_run: datetime,
                    last_run: datetime | None, when: Callable[[datetime], str]) -> str:
    """A job the scheduler found missing and put back: what Ferry did about it."""
    last = f" (its last run: {when(last_run)})" if last_run else ""
    return (f"{label[0].upper() + label[1:]} was missing from Ferry's schedule{last}. "
            f"Ferry's scheduler put it back at {when(put_back_at)}; it runs next at "
            f"{when(next_run)}.")


def title(problems: list[tuple[str, str]]) -> str:
    """The incident's title for (label, kind) pairs, kind missing | overdue | repaired."""
    if len(problems) == 1:
        label, kind = problems[0]
        label = label[0].upper() + label[1:]
        return {"missing": f"{label} is not in Ferry's schedule",
                "overdue": f"{label} is overdue",
                "repaired": f"{label} had dropped out of Ferry's schedule"}[kind]
    count, kinds = len(problems), {kind for _label, kind in problems}
    if kinds == {"repaired"}:
        return f"{count} jobs had dropped out of Ferry's schedule"
    if kinds == {"missing"}:
        return f"{count} jobs are not in Ferry's schedule"
    if kinds == {"overdue"}:
        return f"{count} of Ferry's scheduled jobs are overdue"
    return f"{count} of Ferry's scheduled jobs need attention"


def utc(at: datetime) -> str:
    return f"{at:%d %b %H:%M} UTC"

"""When a scheduled job is missing or overdue (sync/schedule.py): what a person would
call overdue, and not a moment before."""
from datetime import datetime, timedelta

from sync.schedule import Facts, judge, overdue_after, sentence, title, utc

NOW = datetime(2026, 12, 7, 12, 0)
HOUR = 3600


def _cycle(**facts) -> Facts:
    base = dict(job_id="ferry-cycle-invoice", label="the invoice cycle", interval=6 * HOUR,
                is_cycle=True, next_run=NOW + timedelta(hours=5), enqueued_at=None,
                last_run=NOW - timedelta(hours=1))
    return Facts(**{**base, **facts})


def test_how_late_is_overdue():
    assert overdue_after(60) == timedelta(minutes=5)          # the outbox
    assert overdue_after(HOUR) == timedelta(minutes=30)       # an hourly cycle
    assert overdue_after(6 * HOUR) == timedelta(hours=1)      # the default
    assert overdue_after(24 * HOUR) == timedelta(hours=1)


def test_missing_is_missing_whatever_else():
    assert judge(_cycle(next_run=None), NOW).kind == "missing"


def test_due_and_not_started_by_the_scheduler():
    due = NOW - timedelta(minutes=59)
    assert judge(_cycle(next_run=due), NOW).ok                 # within the hour
    verdict = judge(_cycle(next_run=NOW - timedelta(minutes=61)), NOW)
    assert (verdict.kind, verdict.waiting_for) == ("overdue", "scheduler")
    # The small jobs too: the outbox due 6 minutes ago was never started.
    outbox = Facts("ferry-outbox", "the outbox", 60, False, NOW - timedelta(minutes=6),
                   None, None)
    assert judge(outbox, NOW).kind == "overdue"


def test_queued_and_no_run_since():
    queued = NOW - timedelta(minutes=70)
    facts = _cycle(enqueued_at=queued, last_run=queued - timedelta(hours=6))
    verdict = judge(facts, NOW)
    assert (verdict.kind, verdict.due, verdict.waiting_for) == ("overdue", queued, "worker")
    # Not yet an hour: a busy worker gets its time.
    assert judge(_cycle(enqueued_at=NOW - timedelta(minutes=50),
                        last_run=queued - timedelta(hours=6)), NOW).ok
    # Any run alive since (a forced one, one still beating, one that found the lock
    # busy with it): on time.
    assert judge(_cycle(enqueued_at=queued, last_run=queued + timedelta(minutes=5)), NOW).ok
    # A worker's clock a little behind the scheduler's is not a missed run.
    assert judge(_cycle(enqueued_at=queued, last_run=queued - timedelta(seconds=30)), NOW).ok


def test_small_jobs_waiting_behind_a_long_cycle_are_not_overdue():
    digest = Facts("ferry-digest", "the daily digest", 300, False,
                   NOW + timedelta(minutes=4), NOW - timedelta(hours=2), None)
    assert judge(digest, NOW).ok


def test_sentences_say_which_job_since_when_and_what_to_check():
    facts = _cycle(next_run=NOW - timedelta(hours=2), last_run=NOW - timedelta(hours=8))
    text = sentence(facts, judge(facts, NOW), utc)
    assert text == ("The invoice cycle is overdue: it was due at 07 Dec 10:00 UTC and the "
                    "scheduler has not started it (its last run: 07 Dec 04:00 UTC). Check "
                    "that Ferry's scheduler runs (systemctl status ferry-scheduler; "
                    "journalctl -u ferry-scheduler says why it stopped).")
    assert title([("the invoice cycle", "overdue")]) == "The invoice cycle is overdue"
    assert title([("the outbox", "repaired"), ("the invoice cycle", "repaired")]) == \
        "2 jobs had dropped out of Ferry's schedule"
    assert title([("the outbox", "repaired"), ("the invoice cycle", "overdue")]) == \
        "2 of Ferry's scheduled jobs need attention"

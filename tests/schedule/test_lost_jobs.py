"""Issue 20: the schedule lost its jobs for good. rq-scheduler drops an entry whose RQ
record is gone, and RQ let the record of a periodic job expire twice its interval after
its last run: a worker stopped (or busy, or crash-looping) that long, and the job never
ran again. Now the records never expire, and the scheduler puts back, every check,
whatever is missing (also after a Redis that lost its data), logs it and mails it."""
import time

import redis

from models import SyncRun, db
from tests.alerts.conftest import SmtpServer
from tests.processes import wait_for

from .conftest import ALL_JOBS, make_due, run_out_expiries, scheduled


def _ran(connection, job_id: str) -> bool:
    return connection.hget(f"rq:job:{job_id}", "status") == b"finished"


def _runs(app, record_type="invoice") -> int:
    with app.app_context(), db.connection_context():
        return SyncRun.select().where(SyncRun.record_type == record_type).count()


def test_a_stopped_worker_no_longer_loses_the_schedule(app, processes, redis_url):
    connection = redis.Redis.from_url(redis_url)
    processes.start("scheduler", "--interval", "1")     # its check once an hour: no heal
    processes.start("worker")
    wait_for("the outbox and the invoice cycle ran once",
             lambda: _ran(connection, "ferry-outbox") and
             _ran(connection, "ferry-cycle-invoice"), logs=processes)
    processes.stop("worker")
    # Time passes with no worker: more than twice the cycles' 2 s interval for real,
    # and RQ's expiry of each job's record, whatever its length, runs out (what the
    # clock does to it in result_ttl seconds, done at once by Redis).
    time.sleep(5)
    expiring = run_out_expiries(connection, ALL_JOBS)
    make_due(connection, ALL_JOBS)
    time.sleep(3)                                       # the scheduler's next passes
    assert sorted(scheduled(connection)) == sorted(ALL_JOBS), processes.all_logs()
    assert expiring == [], "a periodic job's record must not expire"
    # The worker comes back and the cycles carry on by themselves.
    before = _runs(app)
    processes.start("worker")
    wait_for("an invoice cycle after the worker came back",
             lambda: _runs(app) > before, logs=processes)


def test_the_scheduler_puts_a_lost_job_back_within_its_check_and_says_so(
        app, processes, redis_url):
    smtp = SmtpServer().start()
    try:
        connection = redis.Redis.from_url(redis_url)
        # Cycles every minute here: nothing comes due while the test takes jobs away.
        processes.start("scheduler", "--interval", "1", FERRY_SCHEDULE_CHECK_SECONDS="2",
                        FERRY_DEMO_CYCLE_SECONDS="60", FERRY_SMTP_HOST="127.0.0.1",
                        FERRY_SMTP_PORT=str(smtp.port), FERRY_SMTP_STARTTLS="0")
        wait_for("the schedule registered and its first pass done",
                 lambda: sorted(scheduled(connection)) == sorted(ALL_JOBS) and
                 min(scheduled(connection).values()) > time.time() + 5, logs=processes)
        # As issue 20 saw it go: the invoice cycle's record is gone and it comes due,
        # so rq-scheduler's next pass drops it; the outbox's entry is simply gone.
        connection.delete("rq:job:ferry-cycle-invoice")
        make_due(connection, ["ferry-cycle-invoice"])
        connection.zrem("rq:scheduler:scheduled_jobs", "ferry-outbox")
        lost_at = time.monotonic()
        wait_for("both back in the schedule",
                 lambda: {"ferry-cycle-invoice", "ferry-outbox"} <= set(scheduled(connection)),
                 timeout=30, logs=processes)
        took = time.monotonic() - lost_at
        assert took < 2 * 2 + 1 + 3, f"put back after {took:.1f} s"   # two checks, a pass
        log = processes.log("scheduler")
        assert "the invoice cycle was missing; put it back" in log
        assert "the outbox (Ferry's e-mail sender) was missing; put it back" in log
        mail = wait_for("the alert", lambda: [m for m in smtp.inbox.messages
                                              if "schedule" in m["Subject"]],
                        timeout=30, logs=processes)[0]
        assert mail["Subject"].strip() == (
            "Ferry needs attention: 2 jobs had dropped out of Ferry's schedule")
        text = mail.get_body(("plain",)).get_content()
        assert "The invoice cycle was missing from Ferry's schedule" in text
        assert "The outbox (Ferry's e-mail sender) was missing" in text
        assert "Ferry's scheduler put it back at" in text and "it runs next at" in text
        assert "Redis loses its data" in text and "/readyz" in text
    finally:
        smtp.stop()


def test_a_redis_crash_loses_nothing_for_good(app, private_redis, processes, client):
    """A private redis-server that keeps nothing on disk, killed -9 and started again:
    every key is gone. The scheduler lives through it and puts the whole schedule
    back; the worker reports again; the jobs run again."""
    connection = redis.Redis.from_url(private_redis.url)
    processes.start("scheduler", "--interval", "1", FERRY_SCHEDULE_CHECK_SECONDS="1")
    processes.start("worker")
    wait_for("the schedule registered",
             lambda: sorted(scheduled(connection)) == sorted(ALL_JOBS), logs=processes)
    wait_for("the outbox ran", lambda: _ran(connection, "ferry-outbox"), logs=processes)
    private_redis.restart()                              # kill -9, and start again empty
    restarted = time.time()
    wait_for("every job back in the schedule",
             lambda: sorted(scheduled(connection)) == sorted(ALL_JOBS),
             timeout=30, logs=processes)
    assert "the outbox (Ferry's e-mail sender) was missing; put it back" in \
        processes.log("scheduler")
    wait_for("the outbox ran after the crash",
             lambda: _ended(connection, "ferry-outbox") > restarted, timeout=30,
             logs=processes)
    body = wait_for("ready again", lambda: client.get("/readyz").get_json()
                    if client.get("/readyz").status_code == 200 else None,
                    timeout=30, logs=processes)
    assert body["checks"]["worker"]["ok"] and body["checks"]["scheduler"]["ok"]
    # Neither process exited (systemd would have given up after five restarts).
    assert all(p.poll() is None for p in processes.running.values()), processes.all_logs()


def test_a_worker_started_while_redis_is_down_waits_for_it(app, private_redis, processes,
                                                           client):
    private_redis.stop()
    worker = processes.start("worker")
    wait_for("the worker waiting", lambda: "Waiting for Redis" in processes.log("worker"),
             logs=processes)
    time.sleep(2)
    assert worker.poll() is None, processes.all_logs()
    private_redis.start()
    wait_for("the worker seen", lambda: client.get("/readyz").get_json()["checks"]
             ["worker"]["ok"], logs=processes)


def _ended(connection, job_id: str) -> float:
    from rq.utils import utcparse
    ended = connection.hget(f"rq:job:{job_id}", "ended_at")
    return utcparse(ended.decode()).timestamp() if ended else 0.0

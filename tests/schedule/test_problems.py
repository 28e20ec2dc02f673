"""A job missing from the schedule, or a cycle overdue, is a problem wherever a person
or a monitor looks: /readyz answers 503 saying which job and what to check, the
dashboard's tile says so instead of a quiet "not scheduled", `flask check` has a
PROBLEM line and exits 1, and the failure alert mails it (issue 20: all said ok)."""
import html
import re
import time
from datetime import timedelta

import redis
from rq_scheduler import Scheduler

from jobs.alerts import check_incidents
from jobs.schedule import register_schedule
from models import AlertIncident, OutboxMail, SyncRun, utcnow
from tests.alerts.conftest import inside

from .conftest import SCHEDULED, make_due, scheduled


def _setup(app, redis_url, last_run_hours: float = 1.0):
    """A schedule as the scheduler registered it, and an invoice cycle that ran."""
    connection = redis.Redis.from_url(redis_url)
    with inside(app):
        started = utcnow() - timedelta(hours=last_run_hours)
        SyncRun.create(record_type="invoice", trigger="schedule", status="done",
                       started_at=started, heartbeat_at=started,
                       finished_at=started + timedelta(seconds=40))
        register_schedule(connection)
    return connection


def _tile(client, record_type: str) -> str:
    live = client.get("/dashboard/live").get_data(as_text=True)
    found = re.search(rf'<section class="card tile" id="tile-{record_type}".*?</section>',
                      live, re.S)
    assert found, live[:2000]
    return html.unescape(found.group(0))


def _schedule_lines(app) -> tuple[int, list[str]]:
    result = app.test_cli_runner().invoke(args=["check"])
    return result.exit_code, [line for line in result.output.splitlines()
                              if line.startswith(("PROBLEM Schedule:", "ok      Schedule:"))]


def test_a_job_dropped_from_the_schedule_is_a_problem_everywhere(app, client, auth,
                                                                redis_url):
    connection = _setup(app, redis_url)
    # Issue 20's reproduction: the invoice cycle's record expires, it comes due, and a
    # pass of rq-scheduler (the scheduler without Ferry's check) drops it for good.
    connection.pexpire("rq:job:ferry-cycle-invoice", 1)
    time.sleep(0.05)
    make_due(connection, ["ferry-cycle-invoice"])
    list(Scheduler(connection=connection).enqueue_jobs())
    assert "ferry-cycle-invoice" not in scheduled(connection)
    assert connection.zscore(SCHEDULED, "ferry-cycle-invoice") is None

    assert client.get("/healthz").status_code == 200          # the web process is up
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.is_json
    schedule = ready.get_json()["checks"]["schedule"]
    assert schedule["ok"] is False
    assert len(schedule["problems"]) == 1
    assert schedule["problems"][0].startswith(
        "The invoice cycle is not in Ferry's schedule, so it does not run by itself "
        "(its last run: ")
    assert "scheduler is not running" in schedule["problems"][0]

    auth.login()
    tile = _tile(client, "invoice")
    assert 'data-state="not_scheduled"' in tile
    assert "The invoice cycle is not in Ferry's schedule" in tile
    assert "not scheduled" in tile
    assert 'data-state="not_scheduled"' not in _tile(client, "bill")

    code, lines = _schedule_lines(app)
    assert code == 1
    assert lines and lines[0].startswith(
        "PROBLEM Schedule: The invoice cycle is not in Ferry's schedule")

    with inside(app):
        opened = check_incidents()["opened"]
        assert "schedule" in opened
        incident = AlertIncident.get(AlertIncident.key == "schedule")
        assert incident.title == "The invoice cycle is not in Ferry's schedule"
        mail = OutboxMail.get(OutboxMail.key == f"incident:{incident.id}:open")
        assert mail.subject == ("Ferry needs attention: The invoice cycle is not in "
                                "Ferry's schedule")
        assert "systemctl status ferry-scheduler" in mail.text


def test_a_cycle_the_scheduler_did_not_start_is_overdue(app, client, auth, redis_url):
    connection = _setup(app, redis_url, last_run_hours=8)
    # Due two hours ago and still waiting for the scheduler (stopped, stuck).
    connection.zadd(SCHEDULED, {"ferry-cycle-invoice": time.time() - 2 * 3600})
    ready = client.get("/readyz")
    assert ready.status_code == 503
    problems = ready.get_json()["checks"]["schedule"]["problems"]
    assert len(problems) == 1
    assert re.match(r"The invoice cycle is overdue: it was due at \d\d \w{3} \d\d:\d\d UTC "
                    r"and the scheduler has not started it \(its last run: ", problems[0])
    auth.login()
    tile = _tile(client, "invoice")
    assert 'data-state="overdue"' in tile and "The invoice cycle is overdue" in tile
    code, lines = _schedule_lines(app)
    assert code == 1 and lines[0].startswith("PROBLEM Schedule: The invoice cycle is overdue")
    with inside(app):
        check_incidents()
        assert AlertIncident.get(AlertIncident.key == "schedule").title == \
            "The invoice cycle is overdue"


def test_a_cycle_queued_with_no_run_since_is_overdue_until_one_runs(app, client,
                                                                    redis_url):
    connection = _setup(app, redis_url, last_run_hours=8)
    make_due(connection, ["ferry-cycle-invoice"])
    list(Scheduler(connection=connection).enqueue_jobs())      # on the queue now
    assert client.get("/readyz").get_json()["checks"]["schedule"]["ok"] is True
    # Two hours pass and no worker takes it (the job's record says when it was queued).
    queued = utcnow() - timedelta(hours=2)
    connection.hset("rq:job:ferry-cycle-invoice", "enqueued_at",
                    queued.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    ready = client.get("/readyz")
    assert ready.status_code == 503
    problem = ready.get_json()["checks"]["schedule"]["problems"][0]
    assert problem.startswith("The invoice cycle is overdue: the scheduler put it on the "
                              f"queue at {queued:%d %b %H:%M} UTC and it has not run since")
    assert "systemctl status ferry-worker" in problem
    # A run of that cycle (forced, say) since it was queued: on time again.
    with inside(app):
        SyncRun.create(record_type="invoice", trigger="force", status="running",
                       started_at=utcnow(), heartbeat_at=utcnow())
    assert client.get("/readyz").get_json()["checks"]["schedule"]["ok"] is True


def test_a_whole_schedule_in_place_says_ok(app, redis_url):
    _setup(app, redis_url)
    code, lines = _schedule_lines(app)
    assert lines == ["ok      Schedule: All 8 scheduled jobs are in place and no cycle is "
                     "overdue."]

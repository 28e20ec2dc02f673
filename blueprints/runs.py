"""Sync runs: the recent ones, one run live while it works, and force-sync.

A forced sync is an RQ job; its run exists only once a worker starts it. So "Sync now"
leads to the job's page, which waits for the worker and then hands over to the run's
own page. A run page polls every 2 seconds while the run works and stops (286) when
it is over.
"""
from __future__ import annotations

from datetime import timedelta, timezone

import redis
from flask import (
    Blueprint,
    abort,
    flash,
    get_flashed_messages,
    redirect,
    render_template,
    request,
    url_for,
)
from rq.exceptions import DeserializationError, NoSuchJobError
from rq.job import Job, JobStatus

from blueprints.labels import DOCUMENT_TYPES, MANY, ONE
from blueprints.query_args import whole_number
from jobs.cycle import mark_interrupted
from jobs.force import force_sync
from jobs.queue import RedisUnavailable, get_redis
from models import RecordEvent, SyncRecord, SyncRun, utcnow
from blueprints.roles import role

bp = Blueprint("runs", __name__, url_prefix="/runs")

STATUS_BADGES = {"done": "ok", "running": "pending", "failed": "failed",
                 "stopped": "warning", "interrupted": "warning"}
STOP_POLLING = 286
QUEUE_DOWN = ("Ferry could not start the sync because its queue (Redis) is not "
              "answering. Start Ferry's background services (systemctl start redis-server "
              "ferry-worker ferry-scheduler, or docker compose up -d; make demo when trying "
              "Ferry) and press the button again; nothing was sent.")


def _partial_or_page(partial: str, page: str, status: int = 200, **context):
    if request.headers.get("HX-Request"):
        return render_template(partial, **context), status
    return render_template(page, **context), status


def seconds_taken(run: SyncRun) -> float:
    return ((run.finished_at or utcnow()) - run.started_at).total_seconds()


@bp.app_context_processor
def _labels():
    return {"run_type_labels": MANY, "run_badges": STATUS_BADGES,
            "seconds_taken": seconds_taken}


@bp.app_template_filter("duration")
def duration(seconds: float) -> str:
    """42.0 s, 3 min 5 s, 1 h 2 min: short enough for a tile, never wrapping."""
    seconds = max(seconds or 0.0, 0.0)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


@bp.route("/")
@role("viewer")
def index():
    mark_interrupted()          # a run whose worker died is never shown as running
    runs = list(SyncRun.select().order_by(SyncRun.started_at.desc(), SyncRun.id.desc())
                .limit(50))
    return render_template("runs/index.html", runs=runs)


@bp.route("/<int:run_id>")
@role("viewer")
def detail(run_id):
    mark_interrupted()
    run = SyncRun.get_or_none(SyncRun.id == run_id)
    if run is None:
        abort(404)
    running = run.status == "running"
    status = STOP_POLLING if request.headers.get("HX-Request") and not running else 200
    touched = _invoices_paid(run) if run.record_type == "payment" else None
    return _partial_or_page("runs/_run.html", "runs/detail.html", status, run=run,
                            running=running, touched=touched)


TOUCHED_SHOWN = 200


def _invoices_paid(run: SyncRun) -> list[dict]:
    """The invoices a payment run settled, each with what it did to them: those whose
    history names the run, and those it last looked at (its records keep `last_run`
    until a later run looks again). Each links to the invoice's page when Ferry wrote
    it (its Payments are there), else to the payment record."""
    events: dict[int, list[str]] = {}
    for event in (RecordEvent.select(RecordEvent.record, RecordEvent.message)
                  .join(SyncRecord)
                  .where((RecordEvent.run == run.id) &
                         (SyncRecord.record_type == "payment"))
                  .order_by(RecordEvent.id)):
        events.setdefault(event.record_id, []).append(event.message)
    records = list(SyncRecord.select().where(
        (SyncRecord.record_type == "payment") &
        ((SyncRecord.last_run == run.id) | SyncRecord.id.in_(list(events) or [0])))
        .order_by(SyncRecord.cw_number, SyncRecord.id).limit(TOUCHED_SHOWN))
    invoices = {r.cw_id: r for r in SyncRecord.select().where(
        (SyncRecord.record_type == "invoice") &
        SyncRecord.cw_id.in_([r.cw_id for r in records if r.cw_id > 0] or [0]))}
    return [{"record": invoices.get(r.cw_id, r), "label": r.cw_number or r.cw_id,
             "state": r.state, "what": " ".join(events.get(r.id, [])) or
             ("Needs a person: see what to fix." if r.state == "exception" else
              "Already agreed with Xero; nothing to change.")}
            for r in records]


@bp.post("/force")
@role("finance")
def force():
    """Sync now: a whole record type (`record_type`), or the records ticked
    (`record` = "type:cw_id", as many as chosen)."""
    wanted: dict[str, list[int] | None] = {}
    forceable = DOCUMENT_TYPES + ("payment",)     # payment: jobs/cycle_payments.py
    for value in request.form.getlist("record"):
        kind, _, cw_id = value.partition(":")
        if (kind == "payment" and cw_id.startswith("-")
                and whole_number(cw_id[1:]) is not None):
            wanted["payment"] = None    # something only Xero has: look at it all again
        elif (kind in forceable and whole_number(cw_id) is not None
              and wanted.get(kind, []) is not None):
            wanted.setdefault(kind, []).append(whole_number(cw_id))
    if not wanted:
        kind = request.form.get("record_type", "")
        if kind not in forceable:
            return _sentence("Tick at least one record (or choose a record type) and "
                             "press Sync again.", 422)
        wanted[kind] = None
    try:
        jobs = [force_sync(kind, ids) for kind, ids in wanted.items()]
    except (RedisUnavailable, redis.RedisError, OSError):
        return _sentence(QUEUE_DOWN, 503)
    if len(jobs) > 1:
        flash(f"{len(jobs)} syncs are queued, one per record type; they appear here "
              "as they start.")
        return redirect(url_for("runs.index"), 303)
    return redirect(url_for("runs.job", job_id=jobs[0].id), 303)


@role("finance")
def confirm_force():
    """An alert's force-sync link, /force-sync?record=type:cw_id (a GET never changes
    anything): name the record and ask for the press that posts to Sync now."""
    kind, _, cw_id = request.args.get("record", "").partition(":")
    if kind not in DOCUMENT_TYPES or whole_number(cw_id) is None:
        abort(404)
    record = SyncRecord.get_or_none((SyncRecord.record_type == kind) &
                                    (SyncRecord.cw_id == whole_number(cw_id)))
    if record is None:
        abort(404)
    return render_template("runs/force_confirm.html", record=record, label=ONE[kind])


# The mails' links say /force-sync (outside /runs/), but it is a Runs page: its endpoint
# is in this blueprint, so the navigation shows Runs.
bp.record_once(lambda state: state.app.add_url_rule(
    "/force-sync", "runs.confirm_force", confirm_force))


def _sentence(text: str, status: int):
    return _partial_or_page("runs/_problem.html", "runs/problem.html", status,
                            problem=text)


# The jobs "Sync now" queues (jobs/force.py); this page follows no other.
FORCE_JOBS = ("jobs.force.forced_cycle", "jobs.cycle_payments.forced_payment_cycle")


@bp.route("/job/<job_id>")
@role("viewer")
def job(job_id):
    """A queued force-sync: wait for the worker, then go to the run it started."""
    try:
        queued = Job.fetch(job_id, connection=get_redis())
        state = queued.get_status()
    except (NoSuchJobError, ValueError):      # RQ refuses an id such as "1.5"
        abort(404)
    except (RedisUnavailable, redis.RedisError, OSError):
        return _sentence("Ferry's queue (Redis) is not answering, so it cannot tell how "
                         "this sync is doing. Start Ferry's background services and "
                         "reload this page.", 503)
    try:
        func_name = queued.func_name
    except DeserializationError:
        func_name = None
    if func_name not in FORCE_JOBS:
        abort(404)          # the schedule's jobs (ferry-outbox...) are no sync to follow
    kind = queued.args[0] if queued.args else ""
    over = state in (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED)
    result = queued.latest_result() if over else None
    busy = "CycleBusy" in ((result and result.exc_string) or "")
    run = None if busy else _run_of(queued, state)
    if run is not None:
        # Also a run whose worker was killed: its page says it was interrupted.
        target = url_for("runs.detail", run_id=run.id)
        if request.headers.get("HX-Request"):
            return "", 200, {"HX-Redirect": target}
        return redirect(target)
    if over:
        problem = (f"A sync of {MANY.get(kind, kind).lower()} was already "
                   "running, so this one did not start. Its results are under Recent "
                   "runs; press Sync now again once it has finished." if busy else
                   "The sync stopped: the worker stopped before the run began, or the "
                   "run was not recorded. The worker's log says why; fix that and press "
                   "Sync now again.")
        status = STOP_POLLING if request.headers.get("HX-Request") else 200
        return _partial_or_page("runs/_waiting.html", "runs/waiting.html", status,
                                job_id=job_id, kind=kind, problem=problem)
    if request.headers.get("HX-Request"):
        return render_template("runs/_waiting.html", job_id=job_id, kind=kind,
                               problem=None)
    # The page shows what was flashed before the redirect here ("Paid invoice …"), and
    # keeps it for the run's page this one hands over to, where the person looks next.
    kept = get_flashed_messages(with_categories=True)
    page = render_template("runs/waiting.html", job_id=job_id, kind=kind, problem=None)
    for category, message in kept:
        flash(message, category)
    return page


def _run_of(queued: Job, state) -> SyncRun | None:
    """The run a force-sync job started. When it has finished, its result names it.
    Otherwise (working, or its worker died or was stopped) no run keeps the job's id:
    it is the forced run of its type that started after the job did and before it
    ended (two cycles of one type never overlap)."""
    if state == JobStatus.FINISHED:
        run_id = queued.return_value()
        return SyncRun.get_or_none(SyncRun.id == run_id) if run_id else None
    if queued.started_at is None or not queued.args:
        return None
    found = SyncRun.select().where(
        (SyncRun.record_type == queued.args[0]) & (SyncRun.trigger == "force") &
        (SyncRun.started_at >= _naive(queued.started_at) - timedelta(seconds=1)))
    if state != JobStatus.STARTED and queued.ended_at is not None:
        found = found.where(SyncRun.started_at <= _naive(queued.ended_at))
    return found.order_by(SyncRun.id).first()


def _naive(moment):
    """RQ's times as naive UTC, as Ferry stores its own."""
    if moment.tzinfo is not None:
        return moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment

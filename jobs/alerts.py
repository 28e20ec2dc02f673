"""Alert e-mails: a cycle's new exceptions (immediately, for record types set so) and
failure incidents (whatever the mode), each through the outbox.

`after_cycle(run)` is called by jobs/cycle.py when a cycle ends. `check_incidents()`
runs every few minutes, from a worker (scheduled) and from the scheduler process itself
(jobs/scheduler.py), so a dead worker is still noticed and its mail still sent.
"""
from __future__ import annotations

import logging
from datetime import datetime
from urllib.parse import urlsplit

from flask import current_app, has_request_context, render_template
from flask.globals import app_ctx

from jobs.context import in_job_context, job_context
from jobs.outbox import queue_mail, send_due
from models import (
    AlertIncident, AuditEntry, Connection, RecordEvent, RecordProblem, Setting, SyncRecord,
    SyncRun, User, XeroGrant, utcnow,
)
from sync import alerts as compose
from sync.alerts import Condition, ExceptionItem

log = logging.getLogger("ferry.alerts")

MODE = "alerts.mode.{}"
RECIPIENTS = "alerts.recipients.{}"
DIGEST_TIME = "alerts.digest_time"
TIMEZONE = "alerts.timezone"
FAILURES_IN_A_ROW = "alerts.failures_in_a_row"


# -- settings ----------------------------------------------------------------------------
def mode(record_type: str) -> str:
    value = Setting.get_value(MODE.format(record_type), compose.DEFAULT_MODE)
    return value if value in compose.MODES else compose.DEFAULT_MODE


def administrators() -> list[str]:
    return [u.email for u in User.select().where(User.role == "administrator")
            .order_by(User.id)]


def recipients(record_type: str) -> list[str]:
    """The addresses set for a record type; every administrator when none are set."""
    chosen = Setting.get_value(RECIPIENTS.format(record_type))
    return list(chosen) if chosen else administrators()


def everyone() -> list[str]:
    """Who gets failure alerts: everyone on any record type's list."""
    seen: list[str] = []
    for kind in compose.RECORD_TYPES:
        for address in recipients(kind):
            if address.lower() not in (s.lower() for s in seen):
                seen.append(address)
    return seen


def digest_time():
    return compose.parse_time_of_day(Setting.get_value(DIGEST_TIME) or "") or \
        compose.parse_time_of_day(compose.DEFAULT_DIGEST_TIME)


def timezone_name() -> str:
    """The installation's one display zone (jobs/display_zone.py): the digest goes out
    on its clock and every time in a mail is shown in it."""
    from jobs.display_zone import display_zone
    return display_zone()


def failures_in_a_row() -> int:
    try:
        return max(1, int(Setting.get_value(FAILURES_IN_A_ROW,
                                            compose.DEFAULT_FAILURES_IN_A_ROW)))
    except (TypeError, ValueError):
        return compose.DEFAULT_FAILURES_IN_A_ROW


def render_mail(template: str, content: dict) -> tuple[str, str]:
    """(plain text, HTML) of templates/mail/<template>.txt and .html."""
    content = {"base_url": base_url().rstrip("/"), **content}
    return (render_template(f"mail/{template}.txt", **content),
            render_template(f"mail/{template}.html", **content))


def local_time(at: datetime) -> str:
    """A naive UTC time on the clock of the alerts' timezone, the zone named."""
    from sync.clock import show
    return show(at, timezone_name())


def base_url() -> str:
    return current_app.config["BASE_URL"]


# -- a cycle's new exceptions --------------------------------------------------------------
def exception_items(records) -> list[ExceptionItem]:
    ids = [r.id for r in records]
    problems = (list(RecordProblem.select().where(RecordProblem.record.in_(ids))
                     .order_by(RecordProblem.id)) if ids else [])
    fixes = fix_paths(problems)
    # A record held back by a mapping was never written, so its own total is unset: the
    # problem rows keep the ConnectWise total it holds back.
    held_back = {p.record_id: p.amount for p in problems if p.amount is not None}
    return [ExceptionItem(record_id=r.id, record_type=r.record_type, cw_id=r.cw_id,
                          number=r.cw_number, org_id=r.org_id,
                          org_name=r.org.name if r.org_id else None,
                          problems=list(r.problems or []), since=r.updated_at,
                          run_id=r.last_run_id, fix_path=fixes.get(r.id),
                          party=r.party_name, currency=r.currency,
                          total=r.cw_total if r.cw_total is not None else held_back.get(r.id))
            for r in records]


def fix_paths(problems: list[RecordProblem]) -> dict[int, str]:
    """Per record, the path of the first mapping row that fixes it (`problems`: the
    records' RecordProblem rows, in order): the very link the Exceptions page opens (its
    helper, so the URL logic lives in one place)."""
    from jobs.fix_links import fix_link
    if not problems:
        return {}
    found: dict[int, str] = {}
    # A job has no request, so url_for has no adapter: lend it one for the paths (a
    # test request context would run the request teardown and close the job's DB).
    context = app_ctx._get_current_object()
    lent = context.url_adapter is None and not has_request_context()
    if lent:
        context.url_adapter = current_app.url_map.bind(
            "ferry.invalid", script_name=current_app.config.get("APPLICATION_ROOT") or "/")
    try:
        for p in problems:
            if p.record_id not in found:
                link = fix_link(p.kind, p.cw_value, p.org_id)
                if link:
                    parts = urlsplit(link)
                    found[p.record_id] = parts.path + (f"?{parts.query}" if parts.query else "")
    finally:
        if lent:
            context.url_adapter = None
    return found


def new_exceptions(run: SyncRun) -> list[SyncRecord]:
    """Records this run put in exception (or whose problem changed) and that still are."""
    ids = {e.record_id for e in RecordEvent.select(RecordEvent.record).where(
        (RecordEvent.run == run) & (RecordEvent.kind == "exception"))}
    if not ids:
        return []
    return list(SyncRecord.select().where(SyncRecord.id.in_(sorted(ids)) &
                                          (SyncRecord.state == "exception"))
                .order_by(SyncRecord.cw_number, SyncRecord.id))


def after_cycle(run: SyncRun) -> None:
    """Called as a cycle ends: for a record type alerted immediately, one mail listing
    the run's new exceptions. Never lets a mail problem fail the cycle."""
    try:
        if mode(run.record_type) != "immediate":
            return
        content = compose.exceptions_mail(run.record_type, run.id,
                                          exception_items(new_exceptions(run)), base_url())
        if content is None:
            return
        text, html = render_mail("exceptions", content)
        queue_mail("exceptions", recipients(run.record_type), content["subject"], text,
                   html, key=f"run:{run.id}")
    except Exception:
        log.exception("could not queue the exception mail of run %s", run.id)


# -- failure incidents -------------------------------------------------------------------
def current_conditions() -> list[Condition]:
    """Everything that needs a person right now, each under a key that stays the same
    for as long as it lasts."""
    found: list[Condition] = []
    flagged_grants = set()
    for c in Connection.select().where(Connection.status == "needs_reconnect"):
        what = "Xero organisation" if c.kind == "xero" else "ConnectWise"
        flagged_grants.add((c.settings or {}).get("grant_id"))
        found.append(Condition(
            f"reconnect:{c.id}", f"{what} {c.name} needs reconnecting",
            (c.last_error or "Ferry can no longer use this connection.") +
            " Until it is reconnected under Settings, nothing is written to or read "
            "from it."))
    for g in XeroGrant.select().where(XeroGrant.status == "needs_reconnect"):
        if g.id not in flagged_grants:
            found.append(Condition(
                f"grant:{g.id}", "Xero needs reconnecting",
                (g.last_error or "Xero no longer accepts Ferry's consent.") +
                " Choose Connect Xero under Settings."))
    found += _connectwise_keys_refused()
    found += _day_limits()
    found += _failing_types()
    found += _processes()
    return found


def _connectwise_keys_refused() -> list[Condition]:
    cw = Connection.get_or_none(Connection.kind == "connectwise")
    if cw is None:
        return []
    last = (AuditEntry.select(AuditEntry.status, AuditEntry.at)
            # Calls of cycles only: a Test connection with keys being typed is not news.
            .where((AuditEntry.api == "connectwise") & AuditEntry.status.is_null(False) &
                   AuditEntry.run_id.is_null(False))
            .order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).first())
    if last is None or last.status != 401:
        return []
    return [Condition("connectwise-keys", "ConnectWise refuses Ferry's API keys",
                      "ConnectWise answered 401 (not authorised) to Ferry's last call, at "
                      f"{local_time(last.at)}. The API member's keys were probably "
                      "changed or removed: enter a working public and private key under "
                      "Settings → ConnectWise.")]


def _day_limits() -> list[Condition]:
    from connectors.xero_governor import Governor
    from jobs.queue import get_redis
    try:
        governor = Governor(get_redis())
        found = []
        for org in Connection.select().where((Connection.kind == "xero") &
                                             Connection.tenant_id.is_null(False)):
            wait = governor.day_limit_wait(org.tenant_id)
            if wait > 0:
                found.append(Condition(
                    f"day-limit:{org.id}", f"Xero organisation {org.name} reached its day limit",
                    "Xero refuses more API calls for this organisation today (about "
                    f"{wait / 3600:.1f} hours to go). Ferry stopped its cycles there and "
                    "carries on by itself once Xero allows calls again; nothing is lost."))
        return found
    except Exception as exc:      # Redis down is its own incident (_processes)
        log.info("day limits unknown: %s", exc)
        return []


def _failing_types() -> list[Condition]:
    n = failures_in_a_row()
    found = []
    for kind in compose.RECORD_TYPES:
        runs = list(SyncRun.select(SyncRun.status, SyncRun.message, SyncRun.started_at).where(
            (SyncRun.record_type == kind) & (SyncRun.status != "running"))
            .order_by(SyncRun.started_at.desc(), SyncRun.id.desc()).limit(n))
        if compose.failing_in_a_row([r.status for r in runs], n):
            noun = compose.ONE[kind].lower()
            cycles = f"last {n} {noun} cycles" if n > 1 else f"last {noun} cycle"
            latest = compose.first_sentence(runs[0].message or "")
            found.append(Condition(
                f"failing:{kind}", f"The {cycles} did not finish",
                f"The {cycles} failed or stopped (the first of them at "
                f"{local_time(runs[-1].started_at)}). "
                + (f"The latest said: “{latest}” " if latest else "")
                + ("Failing this many times in a row, it is not clearing by itself. "
                   if n > 1 else "")
                + "Runs shows each cycle's message and calls. If the message names "
                "ConnectWise or Xero, check that it is up (its status page) and that "
                "Ferry's server can reach it, then press Test connection for it under "
                "Settings."))
    return found


def _processes() -> list[Condition]:
    from jobs import readiness
    from jobs.queue import get_redis
    try:
        connection = get_redis()
        connection.ping()
    except Exception:
        return [Condition("redis", "Ferry's queue (Redis) is not answering",
                          "Without Redis no sync cycle or e-mail job runs. Start Redis (or "
                          "check REDIS_URL) and restart Ferry's worker and scheduler.")]
    found = []
    if not readiness.worker_check(connection).ok:
        from jobs.worker import STALE_SECONDS
        found.append(Condition(
            "worker", "Ferry's worker has not been seen",
            f"No RQ worker is running (none reported in the last {STALE_SECONDS} seconds, "
            "or its process has ended), so no sync cycle runs. Restart the worker (flask "
            "--app app worker, or its systemd unit) and see why it stopped (journalctl -u "
            "ferry-worker)."))
    if not readiness.scheduler_check(connection).ok:
        found.append(Condition(
            "scheduler", "Ferry's scheduler has not been seen",
            "The scheduler is not running, so no cycle, digest or retry starts on time. "
            "Restart it (flask --app app scheduler, or its systemd unit)."))
    try:
        found += _schedule(connection)
    except Exception:
        log.exception("could not read the schedule for the alerts")
    return found


def _schedule(connection) -> list[Condition]:
    """One incident for the schedule: jobs missing from it or overdue, and jobs the
    scheduler put back that have not run since (what Ferry did about it)."""
    from jobs.schedule import schedule_state, unsettled_repairs
    from sync import schedule as judging
    states = schedule_state(connection)
    # Never registered: the scheduler has not started here, its own alert says so.
    wrong = [s for s in states if s.verdict.kind in ("missing", "overdue")]
    repaired = [r for r in unsettled_repairs(states)
                if r.entry.job_id not in {s.entry.job_id for s in wrong}]
    if not wrong and not repaired:
        return []
    sentences = [s.sentence(local_time) for s in wrong] + [
        judging.repair_sentence(r.entry.label, r.at, r.next_run, r.last_run, local_time)
        for r in repaired]
    if repaired:
        sentences.append(judging.REDIS_ADVICE)
    title = judging.title([(s.entry.label, s.verdict.kind) for s in wrong] +
                          [(r.entry.label, "repaired") for r in repaired])
    sentences.append(f"The state now: {base_url().rstrip('/')}/readyz")
    return [Condition("schedule", title, " ".join(sentences))]


def check_incidents(now: datetime | None = None, conditions: list[Condition] | None = None
                    ) -> dict:
    """Open an incident (and mail it) for each new failure; resolve (and mail) each
    that has cleared. Returns the keys opened and resolved."""
    now = now or utcnow()
    lock = _lock()
    if lock is False:
        return {"opened": [], "resolved": []}
    try:
        conditions = current_conditions() if conditions is None else conditions
        open_now = {i.key: i for i in AlertIncident.select().where(
            AlertIncident.resolved_at.is_null())}
        to_open, cleared = compose.incident_changes(conditions, set(open_now))
        people = everyone()
        for condition in to_open:
            incident = AlertIncident.create(key=condition.key, title=condition.title,
                                            detail=condition.detail, opened_at=now)
            _mail_incident(incident, people, resolved=False)
        for key in sorted(cleared):
            incident = open_now[key]
            incident.resolved_at = now
            incident.save()
            _mail_incident(incident, people, resolved=True)
        return {"opened": [c.key for c in to_open], "resolved": sorted(cleared)}
    finally:
        if lock:
            lock.release()


def _mail_incident(incident: AlertIncident, people: list[str], *, resolved: bool) -> None:
    content = compose.incident_mail(incident.title, incident.detail, base_url(),
                                    resolved=resolved, opened_at=incident.opened_at)
    if resolved:
        content["detail"] = ("This has cleared: " + _resolved_sentence(incident))
    text, html = render_mail("incident", content)
    queue_mail("resolved" if resolved else "incident", people, content["subject"], text,
               html, key=f"incident:{incident.id}:{'resolved' if resolved else 'open'}")


def _resolved_sentence(incident: AlertIncident) -> str:
    took = (incident.resolved_at - incident.opened_at) if incident.resolved_at else None
    span = f" after {_duration(took)}" if took else ""
    return (f"“{incident.title}” (first noticed {local_time(incident.opened_at)}) "
            f"is no longer the case{span}. Nothing more to do.")


def _duration(delta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 60:
        minutes = max(minutes, 1)          # under a minute reads "1 minute"
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def _lock():
    """One incident check at a time across processes (a Redis lock); None when Redis
    is down (then this process checks alone), False when another holds it."""
    try:
        from jobs.queue import get_redis
        lock = get_redis().lock("ferry:alerts:incident-check", timeout=120,
                                blocking_timeout=30)
        return lock if lock.acquire() else False
    except Exception:
        return None


# -- jobs ------------------------------------------------------------------------------
@in_job_context
def incident_check() -> dict:
    """The scheduled job (every few minutes)."""
    return check_incidents()


def watch() -> None:
    """What the scheduler process does every few minutes (jobs/scheduler.py), and at
    once after it put a job back in the schedule: the incident check and the outbox,
    so a worker that is gone is reported (and the mail sent) all the same."""
    try:
        with job_context():
            check_incidents()
            send_due()
    except Exception:
        log.exception("alerts watch failed")

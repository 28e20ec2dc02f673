"""The dashboard: per record type and per Xero organisation what Ferry is doing now, how
its last cycle went and when the next one starts; a 30-day chart of what reached Xero;
and how Ferry's parts are doing. The live part (`/dashboard/live`) is polled by HTMX
every 2 seconds, so counts move while a cycle runs without reloading the page.

Also here: the error pages (404, 500, a form open too long) drawn inside the layout,
and the navigation.
"""
from __future__ import annotations

import time
from datetime import date, datetime, timedelta

from urllib.parse import urlsplit

from flask import Blueprint, current_app, g, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from redis.exceptions import RedisError
from peewee import fn

from blueprints.labels import DOCUMENT_TYPES, MANY
from connectors.xero_governor import DayLimitReached
from connectors.xero_oauth import XeroAuthError
from models import AuditEntry, Connection, MeteredVersion, SyncRecord, SyncRun, db, utcnow
from blueprints.roles import role

bp = Blueprint("dashboard", __name__)

NAVIGATION = [("dashboard.index", "Dashboard"), ("records.index", "Records"),
              ("runs.index", "Runs"), ("mappings.index", "Mappings"),
              ("exceptions.index", "Exceptions"), ("reports.reconciliation", "Reports"),
              ("audit.index", "Audit"),
              ("outbox.index", "Outbox"), ("settings.index", "Settings"),
              ("people.index", "People"), ("demo.index", "Demo")]
REFUSED = (401, 403)
CHART_DAYS = 30


@bp.app_context_processor
def _navigation():
    def nav_links():
        from blueprints.roles import can
        have = current_app.view_functions
        return [(endpoint, label) for endpoint, label in NAVIGATION
                if endpoint in have and can(endpoint, "GET")]
    return {"nav_links": nav_links}


# -- error pages inside the layout ------------------------------------------------------
@bp.app_errorhandler(404)
def not_found(_error):
    return render_template("errors/404.html"), 404


@bp.app_errorhandler(500)
def server_error(_error):
    # The database may be what failed: the page must not need it.
    if not hasattr(g, "user"):
        g.user = None
    return render_template("errors/500.html"), 500


CSRF_SENTENCE = ("This page was open too long, or you signed in again since it opened, "
                 "so Ferry could not accept what you sent and saved nothing.")


@bp.app_errorhandler(CSRFError)
def form_too_old(_error):
    """A post whose CSRF token is missing or no longer valid (its sign-in ended, or the
    browser lost its cookie): a sentence instead of Werkzeug's bare "The CSRF token has
    expired." page, and for HTMX a fragment put above the form instead of in its place,
    so what was typed stays on the screen."""
    return _refusal("csrf", CSRF_SENTENCE, 400)


NOT_NOW = {"title": "Not now", "heading": "Ferry could not do that right now"}


@bp.app_errorhandler(DayLimitReached)
def xero_day_limit(error):
    """A page's own call to Xero (create a contact, refresh choices, ...) met the
    organisation's day limit: say so and when, never an error page."""
    return _refusal("refused", f"{error} Nothing was changed by this press; try it "
                    "again after that.", 503, **NOT_NOW)


@bp.app_errorhandler(XeroAuthError)
def xero_sign_in_gone(error):
    """A page's own call to Xero found the organisation's sign-in withdrawn or expired
    (the sentence says to connect Xero again, and where)."""
    return _refusal("refused", f"{error} Nothing was changed by this press.", 503,
                    **NOT_NOW)


@bp.app_errorhandler(RedisError)
def redis_down(_error):
    """Redis (the queue, the API limits' counters) did not answer a page that needs it."""
    return _refusal("refused", "Ferry's Redis (its queue and the APIs' limit counters) is "
                    "not answering, so this could not be done; nothing was sent. Start it "
                    "(systemctl start redis-server, or docker compose up -d) and try "
                    "again.", 503, **NOT_NOW)


NUL_SENTENCE = ("What was sent holds an invisible character (NUL) that no field or search "
                "can hold, so Ferry did nothing with it.")


def refuse_nul():
    """A blueprint's before_request: one answer for a NUL anywhere in the address or a
    form of its pages (those that pass what was typed straight to a query; Records and
    Audit say it beside their own search box). PostgreSQL refuses a NUL in any text (a
    500 on that database only), and a keyboard never types it. Uploaded files are not
    looked at (the CSV import says its own)."""
    if not any("\x00" in text for pair in request.args.items(multi=True) for text in pair) \
            and not any("\x00" in text for pair in request.form.items(multi=True)
                        for text in pair):
        return None
    return _refusal("bad_input", NUL_SENTENCE, 422)


def _refusal(name: str, sentence: str, status: int, **page):
    """What was sent is refused with `sentence`: a page (errors/NAME.html) with a way
    back, or for HTMX a fragment (errors/_NAME.html) put above what the request would
    have replaced, so the form and what was typed stay on the screen."""
    if not hasattr(g, "user"):        # refused before the user is loaded
        from blueprints.auth import _session_user
        g.user = _session_user()
    if request.headers.get("HX-Request"):
        response = current_app.make_response(
            (render_template(f"errors/_{name}.html", sentence=sentence), status))
        response.headers["HX-Reswap"] = "beforebegin"
        return response
    return render_template(f"errors/{name}.html", sentence=sentence,
                           back=_same_site_referrer(), **page), status


def _same_site_referrer() -> str:
    """The page the post came from, if it was one of ours; else the dashboard."""
    parts = urlsplit(request.referrer or "")
    if parts.netloc == request.host and parts.path.startswith("/"):
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return url_for("dashboard.index")


# -- the pages --------------------------------------------------------------------------
@bp.route("/")
@role("viewer")
def index():
    if _first_run():
        # Nothing to show yet: the first open step of the guided setup, in its place.
        from blueprints.setup import first_open_step, step
        return step(first_open_step())
    from jobs.reconcile import DRIFT_DAYS, drift
    return render_template("dashboard/index.html", live=live_state(), health=_health(),
                           realtime=_realtime(), chart=chart(),
                           sync_types={t: MANY[t] for t in DOCUMENT_TYPES},
                           drift=drift(since=utcnow() - timedelta(days=DRIFT_DAYS)))


@bp.route("/dashboard/live")
@role("viewer")
def live():
    """The live part alone (tiles and recent runs), polled every 2 seconds."""
    return render_template("dashboard/_live.html", live=live_state())


@bp.route("/dashboard/health")
@role("viewer")
def health():
    """The parts panel alone, refreshed by HTMX every 10 seconds."""
    return render_template("dashboard/_health.html", health=_health(), realtime=_realtime())


def _first_run() -> bool:
    """Nothing connected and no cycle ever ran: the guided setup is the place to start."""
    return not Connection.select().exists() and not SyncRun.select().exists()


def _health() -> list:
    """The parts as /readyz sees them (jobs/readiness.py), each with its sentence."""
    from jobs.readiness import readiness
    return readiness()


def _realtime() -> list[dict]:
    """Per source: whether real time is on anywhere, and when its last event arrived."""
    from jobs import realtime
    orgs = list(Connection.select().where(Connection.kind == "xero"))
    return [{"source": "ConnectWise", "on": realtime.is_on(realtime.cw_connection()),
             "last": realtime.last_event("connectwise"), "what": "callback"},
            {"source": "Xero", "on": any(realtime.is_on(o) for o in orgs),
             "last": realtime.last_event("xero"), "what": "webhook"}]


# -- the live state ---------------------------------------------------------------------
def live_state() -> dict:
    from jobs.cycle import mark_interrupted
    mark_interrupted()          # a run whose worker died is never shown as running
    now = utcnow()
    connections = list(Connection.select().order_by(Connection.kind, Connection.name))
    runs = _recent_runs()
    limits = _xero_limits(connections)
    exceptions = _open_exceptions()
    metered = _metered_this_month(now)
    schedule = _schedule()
    types = []
    record_types = list(DOCUMENT_TYPES) + [t for t in MANY if t not in DOCUMENT_TYPES and
                                           any(r.record_type == t for r in runs)]
    for record_type in record_types:
        mine = [r for r in runs if r.record_type == record_type]
        current = next((r for r in mine if r.status == "running"), None)
        last = next((r for r in mine if r.status != "running"), None)
        entry = schedule.get(record_type)
        state = _state_now(current, last, connections, limits, now)
        if entry is not None and entry.verdict.kind in ("missing", "overdue") and \
                current is None:
            # Nothing runs it by itself: that outranks how its last cycle ended.
            state = {"kind": "overdue" if entry.verdict.kind == "overdue" else
                     "not_scheduled", "badge": "failed", "text": entry.sentence()}
        types.append({
            "type": record_type, "label": MANY.get(record_type, record_type),
            "state": state, "last": last, "current": current,
            # None when the schedule cannot be read (Redis down): "not known".
            "scheduled": bool(entry and entry.facts.next_run) if schedule else None,
            "next_run": entry.facts.next_run if entry is not None else None,
            "exceptions": sum(n for (t, _org), n in exceptions.items() if t == record_type),
            "metered": metered.get(record_type, 0),
        })
    orgs = [_org_tile(c, limits.get(c.id, {}), exceptions) for c in connections]
    return {"types": types, "orgs": orgs, "runs": runs[:10], "now": now,
            "month": now.strftime("%B %Y"),
            "any_running": any(t["current"] for t in types)}


def _recent_runs(limit: int = 40) -> list[SyncRun]:
    return list(SyncRun.select().order_by(SyncRun.started_at.desc(), SyncRun.id.desc())
                .limit(limit))


def _field(run, name, default=None):
    """A SyncRun column that a later migration adds (total, done, waiting_until,
    heartbeat_at): read it when it is there."""
    return getattr(run, name, default) if run is not None else default


def _state_now(current, last, connections, limits, now) -> dict:
    """What a record type is doing now, in words, with the action a person can take."""
    if current is not None:
        waiting = _field(current, "waiting_until")
        if waiting is None:
            minute = [v["minute_wait"] for v in limits.values() if v.get("minute_wait")]
            if minute:
                waiting = now + timedelta(seconds=max(minute))
        if waiting is not None and waiting > now:
            seconds = max(int((waiting - now).total_seconds()), 1)
            return {"kind": "waiting", "badge": "pending", "seconds": seconds, "text":
                    f"Waiting for Xero's one-minute limit: {seconds} s left, then it "
                    "carries on by itself."}
        total, done = _field(current, "total"), _field(current, "done")
        return {"kind": "running", "badge": "pending", "total": total, "done": done,
                "text": "Running."}
    if last is not None and last.status in ("stopped", "failed", "interrupted"):
        return _stopped(last, connections, limits)
    return {"kind": "idle", "badge": "ok", "text": "Idle."}


def _stopped(run, connections, limits) -> dict:
    message = run.message or ""
    day = [c for c in connections if limits.get(c.id, {}).get("day_wait")]
    if day:
        hours = max(limits[c.id]["day_wait"] for c in day) / 3600
        return {"kind": "day_limit", "badge": "failed", "text":
                f"Stopped: Xero's daily API limit is used up. It resumes by itself in "
                f"about {hours:.1f} hours; nothing is lost meanwhile."}
    reconnect = [c for c in connections if c.status == "needs_reconnect"]
    # An interrupted run's message names ConnectWise: that is no call to reconnect.
    if run.status == "interrupted" and not reconnect:
        when = f" at {run.finished_at:%d %b %H:%M} UTC" if run.finished_at else ""
        return {"kind": "interrupted", "badge": "warning", "text":
                f"The last cycle's worker stopped responding{when} (killed, or its server "
                "restarted). The next run picks up where it left off; check that Ferry's "
                "worker is running."}
    if reconnect or "reconnect" in message.lower() or "connect" in message.lower():
        return {"kind": "reconnect", "badge": "failed", "action": "settings", "text":
                f"Stopped: {message or 'a connection needs to be made again.'}"}
    return {"kind": "stopped", "badge": "failed",
            "text": f"Last cycle {run.status}: {message}" if message else
            f"Last cycle {run.status}."}


def _open_exceptions() -> dict[tuple[str, int | None], int]:
    rows = (SyncRecord.select(SyncRecord.record_type, SyncRecord.org,
                              fn.COUNT(SyncRecord.id).alias("n"))
            .where(SyncRecord.state == "exception")
            .group_by(SyncRecord.record_type, SyncRecord.org).tuples())
    return {(t, org): n for t, org, n in rows}


# The month's counts move only when a batch lands; a 15-second cache keeps the live
# endpoint cheap at 100,000 records (per process, keyed by database).
_metered_cache: dict = {}


def _metered_this_month(now: datetime) -> dict[str, int]:
    """Records written to Xero this calendar month (UTC), each version counted once."""
    month = now.strftime("%Y-%m")
    key = (id(db.obj), month)
    hit = _metered_cache.get(key)
    if hit and time.monotonic() - hit[0] < 15:
        return hit[1]
    rows = (MeteredVersion.select(MeteredVersion.record_type,
                                  fn.COUNT(MeteredVersion.id).alias("n"))
            .where(MeteredVersion.month == month).group_by(MeteredVersion.record_type)
            .tuples())
    counts = dict(rows)
    _metered_cache.clear()
    _metered_cache[key] = (time.monotonic(), counts)
    return counts


# The schedule moves once a scheduler pass (30 s); a 5-second cache spares the live
# endpoint, polled every 2 seconds by each open dashboard, its ten small queries.
_schedule_cache: dict = {}


def _schedule() -> dict:
    """Record type -> its cycle's place in the schedule (jobs/schedule.py): next run,
    and whether it is missing or overdue. Empty when Redis is down (the parts panel
    says so)."""
    from jobs.queue import get_redis
    from jobs.schedule import next_runs, schedule_state
    try:
        connection = get_redis()
        # Whatever moves in the schedule itself (a pass, a job lost or put back) is seen
        # at once; only the runs' side waits for the cache to age.
        key = (current_app.config["DATABASE_URL"], tuple(sorted(next_runs(connection).items())))
        hit = _schedule_cache.get(key)
        if hit and time.monotonic() - hit[0] < 5:
            return hit[1]
        states = schedule_state(connection, cycles_only=True)
    except Exception:
        return {}
    found = {s.entry.record_type: s for s in states}
    _schedule_cache.clear()
    _schedule_cache[key] = (time.monotonic(), found)
    return found


def _xero_limits(connections) -> dict[int, dict]:
    """Per Xero connection, what the governor learnt from Xero's headers: calls left
    today, and any pause (minute or day limit) in force. Empty when Redis is down."""
    from connectors.xero_governor import Governor
    from jobs.queue import get_redis
    orgs = [c for c in connections if c.kind == "xero" and c.tenant_id]
    if not orgs:
        return {}
    try:
        redis = get_redis()
        governor = Governor(redis)
        limits = {}
        for org in orgs:
            minute = redis.get(governor._key(org.tenant_id, "pause"))
            limits[org.id] = {
                "remaining": governor.remaining_today(org.tenant_id),
                "day_wait": governor.day_limit_wait(org.tenant_id),
                "minute_wait": max(float(minute) - time.time(), 0.0) if minute else 0.0}
        return limits
    except Exception:  # the parts panel already says Redis is down
        return {}


def _org_tile(connection: Connection, limit: dict, exceptions) -> dict:
    problem, action = connection_problem(connection)
    day_wait = limit.get("day_wait") or 0
    return {"connection": connection,
            "system": "ConnectWise" if connection.kind == "connectwise" else "Xero",
            "problem": problem, "action": action,
            "remaining": limit.get("remaining"),
            "day_hours": round(day_wait / 3600, 1) if day_wait else None,
            "exceptions": sum(n for (_t, org), n in exceptions.items()
                              if org == connection.id)}


def connection_problem(connection: Connection) -> tuple[str | None, str | None]:
    """A sentence when the connection does not work, and what to do. Its own status is
    not enough: ConnectWise stays "active" after refusing its keys, so the last call
    made with it decides. A refusal counts until a later call succeeds."""
    if connection.status == "disabled":
        return ("Disconnected in Ferry's settings; nothing is written to it.", "settings")
    if connection.status == "needs_reconnect":
        return (connection.last_error or "Xero no longer accepts Ferry's access: connect "
                "Xero again in Settings.", "settings")
    last = (AuditEntry.select(AuditEntry.status, AuditEntry.at, AuditEntry.error)
            .where((AuditEntry.connection_id == connection.id) &
                   AuditEntry.status.is_null(False))
            .order_by(AuditEntry.connection_id.desc(), AuditEntry.at.desc()).first())
    if last is not None and last.status in REFUSED:
        system = "ConnectWise" if connection.kind == "connectwise" else "Xero"
        return (f"{system} refused Ferry's credentials at {last.at:%Y-%m-%d %H:%M} UTC "
                f"(HTTP {last.status}). Check them in Settings and press Test "
                "connection; this clears once a call succeeds.", "settings")
    return None, None


# -- the 30-day chart -------------------------------------------------------------------
_chart_cache: dict = {}


def chart(days: int = CHART_DAYS) -> dict:
    """Records written to Xero per day and type over the last `days` days (the sum of
    the runs' written counts, by the day each run started), as bars of an SVG drawn on
    the server (no script, nothing from elsewhere). Payment runs are left out: what
    they write goes to ConnectWise, not Xero (the chart's title says Xero)."""
    today = utcnow().date()
    first = today - timedelta(days=days - 1)
    key = (id(db.obj), today)
    hit = _chart_cache.get(key)
    if hit and time.monotonic() - hit[0] < 30:
        return hit[1]
    # From the runs (a few a day per type), not the records: cheap at any volume.
    day = fn.date(SyncRun.started_at)
    rows = (SyncRun.select(day.alias("day"), SyncRun.record_type, fn.SUM(SyncRun.written))
            .where((SyncRun.started_at >= datetime.combine(first, datetime.min.time())) &
                   SyncRun.record_type.in_(DOCUMENT_TYPES))
            .group_by(day, SyncRun.record_type).tuples())
    counts: dict[date, dict[str, int]] = {}
    for when, record_type, n in rows:
        when = date.fromisoformat(str(when)[:10])
        if n:
            counts.setdefault(when, {})[record_type] = int(n)
    drawn = _bars(first, days, counts)
    _chart_cache.clear()
    _chart_cache[key] = (time.monotonic(), drawn)
    return drawn


def _bars(first: date, days: int, counts) -> dict:
    width, height, left, bottom = 1000, 200, 40, 22
    plot_h = height - bottom - 8
    peak = max([sum(v.values()) for v in counts.values()] + [1])
    scale = _nice(peak)
    step = (width - left) / days
    bars = []
    for i in range(days):
        day = first + timedelta(days=i)
        y = height - bottom
        for record_type in DOCUMENT_TYPES:
            n = counts.get(day, {}).get(record_type, 0)
            if not n:
                continue
            h = max(n / scale * plot_h, 1)
            y -= h
            bars.append({"x": round(left + i * step + 1, 1), "y": round(y, 1),
                         "w": round(step - 2, 1), "h": round(h, 1), "type": record_type,
                         "title": f"{day:%d %b}: {n:,} {MANY[record_type].lower()}"})
    ticks = [{"y": round(height - bottom - plot_h * f, 1), "label": f"{int(scale * f):,}"}
             for f in ((0, 0.5, 1) if scale % 2 == 0 or scale >= 10 else (0, 1))]
    labels = [{"x": round(left + i * step + step / 2, 1),
               "text": f"{first + timedelta(days=i):%d %b}"} for i in range(0, days, 5)]
    totals = {t: sum(v.get(t, 0) for v in counts.values()) for t in DOCUMENT_TYPES}
    return {"width": width, "height": height, "bars": bars, "ticks": ticks,
            "labels": labels, "left": left, "base": height - bottom, "totals": totals,
            "first": first, "days": days}


def _nice(peak: int) -> int:
    """A round top for the scale (10, 20, 50, 100...) at or above the busiest day."""
    magnitude = 1
    while True:
        for step in (1, 2, 5):
            if step * magnitude >= peak:
                return step * magnitude
        magnitude *= 10

"""The dashboard: what is connected, each Xero organisation's API budget for the day,
and how Ferry's parts are doing."""
from flask import Blueprint, render_template
from peewee import fn

from blueprints.health import database_state, queue_state
from blueprints.labels import MANY
from models import Connection, MeteredVersion, SyncRun, utcnow

bp = Blueprint("dashboard", __name__)


@bp.route("/")
def index():
    connections = list(Connection.select().order_by(Connection.kind, Connection.name))
    return render_template("dashboard/index.html", connections=connections,
                           budgets=_xero_budgets(connections), health=_health(),
                           runs=_recent_runs(), month=_this_month(),
                           sync_types=MANY)


@bp.route("/dashboard/health")
def health():
    """The parts panel alone, refreshed by HTMX every 10 seconds."""
    return render_template("dashboard/_health.html", health=_health())


def _health() -> dict:
    redis_state, worker, scheduler = queue_state()
    return {"Database": database_state(), "Redis": redis_state, "Worker": worker,
            "Scheduler": scheduler}




def _recent_runs(limit: int = 10) -> list[SyncRun]:
    return list(SyncRun.select().order_by(SyncRun.started_at.desc(), SyncRun.id.desc())
                .limit(limit))


def _this_month() -> dict:
    """Records written to Xero this calendar month (UTC), each version counted once."""
    month = utcnow().strftime("%Y-%m")
    counts = {label: 0 for label in MANY.values()}
    rows = (MeteredVersion.select(MeteredVersion.record_type,
                                  fn.COUNT(MeteredVersion.id).alias("n"))
            .where(MeteredVersion.month == month).group_by(MeteredVersion.record_type))
    for row in rows:
        counts[MANY.get(row.record_type, row.record_type)] = row.n
    return {"month": utcnow().strftime("%B %Y"), "counts": counts}


def _xero_budgets(connections) -> dict[int, dict]:
    """Per Xero connection: calls Xero says are left today, and whether its day limit has
    stopped Ferry (with the hours until it lifts). Empty when Redis is unreachable."""
    from connectors.xero_governor import Governor
    from jobs.queue import get_redis
    orgs = [c for c in connections if c.kind == "xero" and c.tenant_id]
    if not orgs:
        return {}
    try:
        governor = Governor(get_redis())
        budgets = {}
        for org in orgs:
            wait = governor.day_limit_wait(org.tenant_id)
            budgets[org.id] = {"remaining": governor.remaining_today(org.tenant_id),
                               "stopped_hours": round(wait / 3600, 1) if wait else None}
        return budgets
    except Exception:  # the health panel already says Redis is down
        return {}

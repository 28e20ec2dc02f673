"""The dashboard: what is connected, each Xero organisation's API budget for the day,
and how Ferry's parts are doing."""
from flask import Blueprint, render_template

from blueprints.health import database_state, queue_state
from models import Connection

bp = Blueprint("dashboard", __name__)


@bp.route("/")
def index():
    connections = list(Connection.select().order_by(Connection.kind, Connection.name))
    return render_template("dashboard/index.html", connections=connections,
                           budgets=_xero_budgets(connections), health=_health())


@bp.route("/dashboard/health")
def health():
    """The parts panel alone, refreshed by HTMX every 10 seconds."""
    return render_template("dashboard/_health.html", health=_health())


def _health() -> dict:
    redis_state, worker, scheduler = queue_state()
    return {"Database": database_state(), "Redis": redis_state, "Worker": worker,
            "Scheduler": scheduler}


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

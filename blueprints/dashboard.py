"""The dashboard: what is connected and how Ferry's parts are doing."""
from flask import Blueprint, render_template

from blueprints.health import database_state, queue_state
from models import Connection

bp = Blueprint("dashboard", __name__)


@bp.route("/")
def index():
    connections = list(Connection.select().order_by(Connection.kind, Connection.name))
    return render_template("dashboard/index.html", connections=connections,
                           health=_health())


@bp.route("/dashboard/health")
def health():
    """The parts panel alone, refreshed by HTMX every 10 seconds."""
    return render_template("dashboard/_health.html", health=_health())


def _health() -> dict:
    redis_state, worker, scheduler = queue_state()
    return {"Database": database_state(), "Redis": redis_state, "Worker": worker,
            "Scheduler": scheduler}

"""/healthz: the state of the database, Redis, the worker and the scheduler, as JSON."""
import time

from flask import Blueprint, jsonify

from blueprints import public
from models import db
from version import version

bp = Blueprint("health", __name__)

# A worker that has not beaten for this long is taken as gone.
HEARTBEAT_STALE_SECONDS = 120


def database_state() -> dict:
    try:
        db.execute_sql("SELECT 1")
        return {"ok": True}
    except Exception as exc:  # any driver error means "down"; say which
        return {"ok": False, "error": type(exc).__name__}


def queue_state() -> tuple[dict, dict, dict]:
    from rq import Worker

    from jobs.queue import get_redis
    try:
        connection = get_redis()
        connection.ping()
    except Exception as exc:
        down = {"ok": False, "error": type(exc).__name__}
        return down, {"ok": False, "error": "redis down"}, {"ok": False, "error": "redis down"}
    now = time.time()
    workers = []
    for worker in Worker.all(connection=connection):
        beat = worker.last_heartbeat.timestamp() if worker.last_heartbeat else 0
        if now - beat < HEARTBEAT_STALE_SECONDS:
            workers.append(worker.name)
    schedulers = [
        key for key in connection.scan_iter("rq:scheduler_instance:*")
        if not connection.hexists(key, "death")
    ]
    return ({"ok": True},
            {"ok": bool(workers), "count": len(workers)},
            {"ok": bool(schedulers), "count": len(schedulers)})


@bp.route("/healthz")
@public
def healthz():
    database = database_state()
    redis_state, worker, scheduler = queue_state()
    checks = {"database": database, "redis": redis_state, "worker": worker,
              "scheduler": scheduler}
    healthy = all(c["ok"] for c in checks.values())
    body = {"status": "ok" if healthy else "degraded", "checks": checks}
    body["version"] = version()         # the release running (version.py)
    # The web side is unusable without its database: tell the load balancer.
    return jsonify(body), (200 if database["ok"] else 503)

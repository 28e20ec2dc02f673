"""/healthz and /readyz, for an uptime monitor or a load balancer: JSON, no sign-in.

- /healthz (liveness): the web process answers. Always 200 while it does; it touches
  neither the database nor Redis, so a database outage never makes it a 500 page.
- /readyz (readiness): Ferry is working: the database answers (schema up to date),
  Redis answers, a worker and the scheduler reported within their time, every job of
  the schedule is there and no cycle is overdue (jobs/readiness.py). 200 when all hold,
  503 otherwise; each part with a sentence. Point a monitor at /readyz.

Neither opens the database before the view runs (`without_database`), and neither
says anything secret: no host, address, key or error text.
"""
from flask import Blueprint, jsonify

from blueprints import without_database
from version import version

bp = Blueprint("health", __name__)


@bp.route("/healthz")
@without_database
def healthz():
    return jsonify({"status": "ok", "version": version(),   # the release running (version.py)
                    "sentence": "Ferry's web process answers. /readyz says "
                    "whether Ferry is working."}), 200


@bp.route("/readyz")
@without_database
def readyz():
    from jobs.readiness import readiness
    checks = readiness()
    ready = all(c.ok for c in checks)
    body = {"status": "ready" if ready else "not ready",
            "checks": {c.name: c.as_json() for c in checks}}
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response, (200 if ready else 503)

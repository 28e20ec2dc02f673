"""Reports → Reconciliation: for one Xero organisation and month, ConnectWise's documents
Ferry routes there against what Xero holds (figures per record type and tax type, and
every document that differs, with why), as a page, a CSV and `flask --app app reconcile`.

Asking for a report queues an RQ job (jobs/reconcile.py): the request never waits on
Xero's limits. The report's page says "running" and polls every 2 seconds until it is
done (286 stops the polling); without JavaScript it refreshes itself. Any signed-in
person may run and read it (Ferry's people are its finance people and administrators);
it changes nothing in Xero.
"""
from __future__ import annotations

import csv
import io

import redis
from flask import (
    Blueprint, Response, abort, redirect, render_template, request, url_for,
)

from jobs import reconcile as job
from jobs.queue import RedisUnavailable
from models import Connection, Reconciliation, utcnow
from sync import reconcile as rec
from blueprints.roles import role

bp = Blueprint("reports", __name__, url_prefix="/reports")

STOP_POLLING = 286
LISTED = 50
QUEUE_DOWN = ("Ferry could not start the reconciliation because its queue (Redis) is not "
              "answering. Start Ferry's background services (systemctl start redis-server "
              "ferry-worker ferry-scheduler, or docker compose up -d) and press the button "
              "again, or run flask --app app reconcile on the server.")


def _orgs():
    return list(Connection.select().where(Connection.kind == "xero").order_by(Connection.name))


def _last_month() -> str:
    today = utcnow().date().replace(day=1)
    return f"{today.year - (today.month == 1)}-{(today.month - 2) % 12 + 1:02d}"


@bp.route("/")
@role("viewer")
def index():
    return redirect(url_for("reports.reconciliation"))


@bp.route("/reconciliation", methods=["GET", "POST"])
@role(GET="viewer", POST="finance")
def reconciliation():
    orgs, error, status = _orgs(), None, 200
    chosen_org = request.values.get("org", type=int)
    month = (request.values.get("month") or _last_month()).strip()
    if request.method == "POST":
        org = next((o for o in orgs if o.id == chosen_org), None)
        try:
            if org is None:
                raise ValueError("Choose the Xero organisation to reconcile.")
            report = job.queue_report(org, month)
        except ValueError as exc:
            error, status = str(exc), 400
        except (RedisUnavailable, redis.RedisError, OSError):
            error, status = QUEUE_DOWN, 503
        else:
            return redirect(url_for("reports.report", report_id=report.id), 303)
    reports = list(Reconciliation.select().order_by(Reconciliation.id.desc()).limit(LISTED))
    return render_template("reports/reconciliation.html", orgs=orgs, reports=reports,
                           chosen_org=chosen_org, month=month, error=error,
                           month_name=_safe_month_name), status


@bp.route("/reconciliation/<int:report_id>")
@role("viewer")
def report(report_id):
    found = Reconciliation.get_or_none(Reconciliation.id == report_id)
    if found is None:
        abort(404)
    running = found.status in ("queued", "running")
    context = dict(report=found, running=running, labels=rec.LABELS, one=rec.ONE,
                   notes=rec.notes_of(found.result) if found.result else [],
                   summary=rec.summary(found.org_name, found.month, found.result)
                   if found.result else None, month_name=_safe_month_name)
    if request.headers.get("HX-Request"):
        return (render_template("reports/_report.html", **context),
                STOP_POLLING if not running else 200)
    return render_template("reports/report.html", **context)


@bp.route("/reconciliation/<int:report_id>.csv")
@role("viewer")
def report_csv(report_id):
    found = Reconciliation.get_or_none(Reconciliation.id == report_id)
    if found is None or not found.result:
        abort(404)
    out = io.StringIO()
    csv.writer(out).writerows(rec.csv_rows(found.result))
    name = f"reconciliation-{found.org_name.replace(' ', '-')}-{found.month}.csv"
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _safe_month_name(month: str) -> str:
    try:
        return rec.month_name(month)
    except ValueError:
        return month

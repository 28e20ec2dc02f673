"""Records: every ConnectWise record Ferry has read, its state in Xero and its history."""
from flask import Blueprint, abort, render_template, request
from peewee import JOIN

from blueprints.labels import ONE
from models import Connection, RecordEvent, SyncRecord

bp = Blueprint("records", __name__, url_prefix="/records")

PAGE_SIZE = 100
STATE_LABELS = {"pending": "waiting", "in_flight": "being written", "synced": "in Xero",
                "exception": "exception", "excluded": "excluded"}


@bp.route("/")
def index():
    record_type = request.args.get("type", "")
    state = request.args.get("state", "")
    number = request.args.get("q", "").strip()
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    query = (SyncRecord.select(SyncRecord, Connection)
             .join(Connection, JOIN.LEFT_OUTER, on=(SyncRecord.org == Connection.id)))
    if record_type in ONE:
        query = query.where(SyncRecord.record_type == record_type)
    if state in STATE_LABELS:
        query = query.where(SyncRecord.state == state)
    if number:
        query = query.where(SyncRecord.cw_number.contains(number))
    rows = list(query.order_by(SyncRecord.updated_at.desc(), SyncRecord.id.desc())
                .paginate(page, PAGE_SIZE + 1))
    context = {"records": rows[:PAGE_SIZE], "more": len(rows) > PAGE_SIZE, "page": page,
               "record_type": record_type, "state": state, "number": number,
               "types": ONE, "states": STATE_LABELS}
    if request.headers.get("HX-Request"):
        return render_template("records/_table.html", **context)
    return render_template("records/index.html", **context)


@bp.route("/<int:record_id>")
def detail(record_id):
    record = SyncRecord.get_or_none(SyncRecord.id == record_id)
    if record is None:
        abort(404)
    events = record.events.order_by(RecordEvent.at.desc(), RecordEvent.id.desc())
    return render_template("records/detail.html", record=record, events=events,
                           types=ONE, states=STATE_LABELS)

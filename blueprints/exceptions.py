"""Exceptions: records Ferry could not write to Xero, each with what to fix."""
from flask import Blueprint, render_template, request
from peewee import JOIN

from blueprints.labels import ONE
from models import Connection, SyncRecord

bp = Blueprint("exceptions", __name__, url_prefix="/exceptions")



@bp.route("/")
def index():
    record_type = request.args.get("type", "")
    query = (SyncRecord.select(SyncRecord, Connection)
             .join(Connection, JOIN.LEFT_OUTER, on=(SyncRecord.org == Connection.id))
             .where(SyncRecord.state == "exception"))
    if record_type in ONE:
        query = query.where(SyncRecord.record_type == record_type)
    records = list(query.order_by(SyncRecord.updated_at.desc()).limit(500))
    return render_template("exceptions/index.html", records=records,
                           record_type=record_type, labels=ONE)

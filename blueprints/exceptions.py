"""Exceptions: records Ferry could not write to Xero. Each says what is wrong and what to
do, links to the record, to the mapping row that fixes it (opened on that value) and to
its calls in the audit log, and has a one-click force-sync. An exception resolves itself
when a later sync writes the record; a user may dismiss one with a reason, kept in the
record's history (it comes back if the record changes in ConnectWise and still fails)."""
import re

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from peewee import JOIN

from blueprints.dashboard import refuse_nul
from blueprints.labels import MANY, ONE
from jobs.fix_links import KIND_LABELS, fix_link
from blueprints.query_args import whole_number
from models import Connection, RecordEvent, RecordProblem, SyncRecord, db
from blueprints.roles import role

bp = Blueprint("exceptions", __name__, url_prefix="/exceptions")
bp.before_request(refuse_nul)      # its filters go straight to queries

FIX_WORDS = {"account": "Map GL account {v}", "tax type": "Map tax code {v}",
             "tax rate": "Check the tax mapping to {v}",
             "tracking option": "Map {v} to a tracking option",
             "routing": "Add a routing rule", "contact": "Resolve the contact clash",
             "setting": "Set the {v}"}
# A total Xero would compute differently (sync/documents.py) is keyed on no mapping
# value, so its tax codes are read from the end of its sentence.
MISMATCH_CODES = re.compile(r"check the tax mapping for ConnectWise tax code ([^;]+)$")


def _query():
    record_type = request.args.get("type", "")
    query = (SyncRecord.select(SyncRecord, Connection)
             .join(Connection, JOIN.LEFT_OUTER, on=(SyncRecord.org == Connection.id))
             .where(SyncRecord.state == "exception"))
    if record_type in ONE:
        query = query.where(SyncRecord.record_type == record_type)
    kind, value = request.args.get("kind", ""), request.args.get("value")
    if kind:
        keyed = RecordProblem.select(RecordProblem.record).where(RecordProblem.kind == kind)
        if value is not None:
            keyed = keyed.where(RecordProblem.cw_value == value)
        org = request.args.get("org", "")
        if whole_number(org) is not None:
            keyed = keyed.where(RecordProblem.org == whole_number(org))
        query = query.where(SyncRecord.id.in_(keyed))
    return query, record_type


def _fixes(records) -> dict[int, list[dict]]:
    fixes: dict[int, list[dict]] = {r.id: [] for r in records}
    if not records:
        return fixes
    for p in RecordProblem.select().where(RecordProblem.record.in_([r.id for r in records])):
        link = fix_link(p.kind, p.cw_value, p.org_id)
        if link:
            words = FIX_WORDS.get(p.kind, "Fix {v}").format(v=p.label or p.cw_value)
            fixes[p.record_id].append({"href": link, "text": words,
                                       "kind": KIND_LABELS.get(p.kind, p.kind)})
    for r in records:
        for sentence in r.problems or ():
            found = MISMATCH_CODES.search(sentence)
            for code in found.group(1).split(", ") if found and r.org_id else ():
                if code != "(none)":
                    # The taxes table of the record's org, showing that code's row.
                    fixes[r.id].append({"href": fix_link("tax rate", code, r.org_id),
                                        "text": f"Check the tax mapping for {code}",
                                        "kind": KIND_LABELS["tax type"]})
    return fixes


def _shown():
    """The exceptions the page shows for its filters, and its record type."""
    query, record_type = _query()
    return list(query.order_by(SyncRecord.updated_at.desc()).limit(500)), record_type


@bp.route("/")
@role("viewer")
def index():
    records, record_type = _shown()
    return render_template("exceptions/index.html", records=records, fixes=_fixes(records),
                           record_type=record_type, labels=ONE, many=MANY,
                           filtered=bool(request.args.get("kind")),
                           dismissing=whole_number(request.args.get("dismiss")),
                           problem=None)


@bp.post("/<int:record_id>/dismiss")
@role("finance")
def dismiss(record_id):
    record = SyncRecord.get_or_none(SyncRecord.id == record_id)
    if record is None:
        abort(404)
    reason = " ".join(request.form.get("reason", "").split())
    if record.state != "exception":
        flash("That record is no longer an exception; nothing to dismiss.")
        return redirect(url_for(".index"), 303)
    if len(reason) < 3:
        problem = ("Say why this exception can be dismissed (for example “credited by "
                   "hand in Xero”); the reason is kept in the record's history.")
        if request.headers.get("HX-Request"):
            # The form stays (with the sentence beside its field), not the whole row.
            return render_template("exceptions/_dismiss.html", r=record, problem=problem,
                                   reason=reason), 422, {"HX-Retarget": "this",
                                                         "HX-Reswap": "outerHTML"}
        records, record_type = _shown()
        return render_template("exceptions/index.html", records=records,
                               fixes=_fixes(records), record_type=record_type, labels=ONE,
                               many=MANY, filtered=False, dismissing=record.id, problem=problem), 422
    with db.atomic():
        record.state = "excluded"
        record.save()
        who = g.user.email if getattr(g, "user", None) else "a user"
        RecordEvent.create(record=record, kind="dismissed",
                           message=f"Exception dismissed by {who}: {reason}")
    label = f"{ONE.get(record.record_type, record.record_type)} {record.cw_number or record.cw_id}"
    if request.headers.get("HX-Request"):
        # The row becomes a notice; the toolbar (its count and the records it re-syncs)
        # asks for itself again on this event, with the page's own filters.
        return render_template("exceptions/_dismissed.html", label=label, reason=reason), \
            {"HX-Trigger": "exception-dismissed"}
    flash(f"{label} dismissed; the reason is in its history.")
    return redirect(url_for(".index"), 303)


@bp.route("/toolbar")
@role("viewer")
def toolbar():
    """"Re-sync all N shown" for the page's filters, after a dismissal changed N."""
    records, _record_type = _shown()
    return render_template("exceptions/_toolbar.html", records=records)


@bp.route("/<int:record_id>/dismiss")
@role("finance")
def dismiss_form(record_id):
    record = SyncRecord.get_or_none(SyncRecord.id == record_id)
    if record is None:
        abort(404)
    if not request.headers.get("HX-Request"):
        return redirect(url_for(".index", dismiss=record_id, _anchor=f"exception-{record_id}"))
    return render_template("exceptions/_dismiss.html", r=record, problem=None, reason="")

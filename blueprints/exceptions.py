"""Exceptions: records Ferry could not write to Xero. Each says what is wrong and what to
do, links to the record, to the mapping row that fixes it (opened on that value) and to
its calls in the audit log, and has a one-click force-sync. An exception resolves itself
when a later sync writes the record; a user may dismiss one with a reason, kept in the
record's history (it comes back if the record changes in ConnectWise and still fails)."""
import re
from decimal import Decimal, InvalidOperation

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from peewee import JOIN

from blueprints.dashboard import refuse_nul
from blueprints.labels import MANY, ONE, filter_date
from blueprints.query_args import whole_number
from blueprints.roles import role
from blueprints.text_input import search_text
from jobs.display_zone import display_zone
from jobs.fix_links import KIND_LABELS, fix_link
from models import Connection, RecordEvent, RecordProblem, SyncRecord, SyncRun, db
from sync.clock import day_bounds

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


# ?sort= value -> column; "-" in front sorts descending. "raised" is when the record
# first entered exception (kept across re-tries), "tried" when a cycle last tried it.
SORTS = {"number": SyncRecord.cw_number, "party": SyncRecord.party_name,
         "amount": SyncRecord.cw_total, "org": Connection.name,
         "raised": SyncRecord.exception_since, "tried": SyncRun.started_at}
DEFAULT_SORT = "-raised"


class Filters:
    """The exceptions page's own filters and sort (customer, currency, amount, first
    raised, last tried), read from the query string; a value that cannot be used gets a
    sentence and is ignored, the others still apply."""

    def __init__(self, args):
        self.errors: list[str] = []
        self.party = search_text(args.get("party", ""), "Customer or vendor", self.errors)
        self.currency = search_text(args.get("currency", ""), "Currency", self.errors).upper()
        self.min_amount = _amount(args.get("min", ""), "Smallest amount", self.errors)
        self.max_amount = _amount(args.get("max", ""), "Largest amount", self.errors)
        self.raised_from = filter_date(args.get("raised_from", ""), "First raised from",
                                       self.errors)
        self.raised_to = filter_date(args.get("raised_to", ""), "First raised to", self.errors)
        self.tried_from = filter_date(args.get("tried_from", ""), "Last tried from",
                                      self.errors)
        self.tried_to = filter_date(args.get("tried_to", ""), "Last tried to", self.errors)
        sort = args.get("sort", DEFAULT_SORT)
        self.sort = sort if sort.lstrip("-") in SORTS else DEFAULT_SORT

    def apply(self, query):
        zone = display_zone()           # a day is the reader's day
        if self.party:
            query = query.where(SyncRecord.party_name.contains(self.party))
        if self.currency:
            query = query.where(SyncRecord.currency == self.currency)
        if self.min_amount is not None:
            query = query.where(SyncRecord.cw_total >= self.min_amount)
        if self.max_amount is not None:
            query = query.where(SyncRecord.cw_total <= self.max_amount)
        for column, start, end in ((SyncRecord.exception_since, self.raised_from,
                                    self.raised_to),
                                   (SyncRun.started_at, self.tried_from, self.tried_to)):
            if start:
                query = query.where(column >= day_bounds(start, zone)[0])
            if end:
                query = query.where(column < day_bounds(end, zone)[1])
        return query

    def order(self, query):
        column = SORTS[self.sort.lstrip("-")]
        if self.sort.startswith("-"):
            return query.order_by(column.desc(nulls="LAST"), SyncRecord.id.desc())
        return query.order_by(column.asc(nulls="LAST"), SyncRecord.id)

    def args(self, **extra) -> dict:
        """The page's whole query string (its tabs' and links' filters too) with `extra`."""
        values = {k: v for k, v in request.args.items() if k not in ("dismiss", "sort")}
        values["sort"] = "" if self.sort == DEFAULT_SORT else self.sort
        values.update(extra)
        return {k: v for k, v in values.items() if v not in ("", None)}

    def sort_link(self, key: str) -> tuple[str, str | None]:
        """(the sort value a column heading links to, its aria-sort now)."""
        if self.sort.lstrip("-") != key:
            return ("-" + key if key in ("raised", "tried", "amount") else key), None
        if self.sort.startswith("-"):
            return key, "descending"
        return "-" + key, "ascending"


def _amount(raw: str, label: str, errors: list[str]) -> Decimal | None:
    raw = raw.strip().replace(",", "")
    if not raw:
        return None
    try:
        value = Decimal(raw)
        if not value.is_finite():
            raise InvalidOperation
        return value
    except InvalidOperation:
        errors.append(f"{label} “{raw}” is not an amount like 1250.00.")
        return None


def _query(filters=None):
    record_type = request.args.get("type", "")
    query = (SyncRecord.select(SyncRecord, Connection, SyncRun)
             .join(Connection, JOIN.LEFT_OUTER, on=(SyncRecord.org == Connection.id))
             .switch(SyncRecord)
             .join(SyncRun, JOIN.LEFT_OUTER, on=(SyncRecord.last_run == SyncRun.id))
             .where(SyncRecord.state == "exception"))
    query = (filters or Filters(request.args)).apply(query)
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


SHOWN = 500


def _shown(filters=None):
    """The exceptions the page shows for its filters, and its record type."""
    filters = filters or Filters(request.args)
    query, record_type = _query(filters)
    return list(filters.order(query).limit(SHOWN)), record_type


def _page(filters, **context):
    records, record_type = _shown(filters)
    return render_template("exceptions/index.html", records=records, fixes=_fixes(records),
                           record_type=record_type, labels=ONE, many=MANY, filters=filters,
                           filtered=bool(request.args.get("kind")), shown_limit=SHOWN,
                           **context)


@bp.route("/")
@role("viewer")
def index():
    filters = Filters(request.args)
    return _page(filters, dismissing=whole_number(request.args.get("dismiss")),
                 problem=None), 422 if filters.errors else 200


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
        return _page(Filters(request.args), dismissing=record.id, problem=problem), 422
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

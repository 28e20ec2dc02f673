"""Records: every ConnectWise record Ferry has read, as a finance person reads it
(customer or vendor, number, date, total and currency, Xero's status and amounts,
organisation, state), filtered and sorted by each; and one record's page with its
versions, payments, exceptions, calls to the APIs and a link to it in Xero."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation
from urllib.parse import quote

from flask import Blueprint, abort, render_template, request
from peewee import JOIN, SqliteDatabase

from blueprints.labels import DOCUMENT_TYPES, ONE, filter_date
from blueprints.query_args import page_number, whole_number
from blueprints.text_input import search_text
from models import AuditEntry, Connection, MeteredVersion, RecordEvent, SyncRecord, db
from blueprints.roles import role

bp = Blueprint("records", __name__, url_prefix="/records")

PAGE_SIZE = 100
STATE_LABELS = {"pending": "to be written", "waiting": "waiting for its date",
                "in_flight": "being written", "synced": "in Xero",
                "exception": "exception", "excluded": "excluded"}
XERO_STATUSES = ("DRAFT", "SUBMITTED", "AUTHORISED", "PAID", "VOIDED", "DELETED")
# ?sort= value -> column; "-" in front sorts descending.
SORTS = {"number": SyncRecord.cw_number, "party": SyncRecord.party_name,
         "date": SyncRecord.doc_date, "total": SyncRecord.cw_total,
         "currency": SyncRecord.currency, "xero_status": SyncRecord.xero_status,
         "due": SyncRecord.amount_due, "paid": SyncRecord.amount_paid,
         "org": SyncRecord.org, "state": SyncRecord.state, "updated": SyncRecord.updated_at}
DEFAULT_SORT = "-updated"


class Filters:
    """The records page's filters and sort, read from the query string; a value that
    cannot be used gets a sentence and is ignored, the others still apply."""

    def __init__(self, args):
        self.errors: list[str] = []
        self.record_type = args.get("type", "")
        self.state = args.get("state", "")
        self.number = search_text(args.get("q", ""), "Number", self.errors)
        self.party = search_text(args.get("party", ""), "Customer or vendor", self.errors)
        self.org = args.get("org", "")
        self.currency = search_text(args.get("currency", ""), "Currency", self.errors).upper()
        self.xero_status = args.get("xero_status", "")
        self.due = args.get("due", "")
        self.day_from = self._date(args.get("from", ""), "From")
        self.day_to = self._date(args.get("to", ""), "To")
        self.min_total = self._amount(args.get("min", ""), "Smallest total")
        self.max_total = self._amount(args.get("max", ""), "Largest total")
        sort = args.get("sort", DEFAULT_SORT)
        self.sort = sort if sort.lstrip("-") in SORTS else DEFAULT_SORT

    def _date(self, raw: str, label: str):
        return filter_date(raw, label, self.errors)

    def _amount(self, raw, label):
        raw = raw.strip().replace(",", "")
        if not raw:
            return None
        try:
            return Decimal(raw)
        except InvalidOperation:
            self.errors.append(f"{label} “{raw}” is not an amount like 1250.00.")
            return None

    def query(self):
        q = (SyncRecord.select(SyncRecord, Connection)
             .join(Connection, JOIN.LEFT_OUTER, on=(SyncRecord.org == Connection.id)))
        if self.record_type in ONE:
            q = q.where(SyncRecord.record_type == self.record_type)
        if self.state in STATE_LABELS:
            q = q.where(SyncRecord.state == self.state)
        if self.number:
            q = q.where(_starts_with(SyncRecord.cw_number, self.number))
        if self.party:
            q = q.where(SyncRecord.party_name.contains(self.party))
        if whole_number(self.org) is not None:
            q = q.where(SyncRecord.org == whole_number(self.org))
        if self.currency:
            q = q.where(SyncRecord.currency == self.currency)
        if self.xero_status in XERO_STATUSES:
            q = q.where(SyncRecord.xero_status == self.xero_status)
        if self.due == "yes":
            q = q.where(SyncRecord.amount_due > 0)
        elif self.due == "no":
            q = q.where((SyncRecord.amount_due == 0) | SyncRecord.amount_due.is_null())
        if self.day_from:
            q = q.where(SyncRecord.doc_date >= self.day_from)
        if self.day_to:
            q = q.where(SyncRecord.doc_date <= self.day_to)
        if self.min_total is not None:
            q = q.where(SyncRecord.cw_total >= self.min_total)
        if self.max_total is not None:
            q = q.where(SyncRecord.cw_total <= self.max_total)
        key = self.sort.lstrip("-")
        column = SORTS[key]
        if key == "updated":          # never empty: the index serves it as it is
            return q.order_by(column.desc() if self.sort.startswith("-") else column.asc(),
                              SyncRecord.id.desc())
        if self.sort.startswith("-"):
            return q.order_by(column.desc(nulls="LAST"), SyncRecord.id.desc())
        return q.order_by(column.asc(nulls="LAST"), SyncRecord.id)

    def args(self, **extra) -> dict:
        values = {"type": self.record_type, "state": self.state, "q": self.number,
                  "party": self.party, "org": self.org, "currency": self.currency,
                  "xero_status": self.xero_status, "due": self.due,
                  "from": self.day_from.isoformat() if self.day_from else "",
                  "to": self.day_to.isoformat() if self.day_to else "",
                  "min": "" if self.min_total is None else str(self.min_total),
                  "max": "" if self.max_total is None else str(self.max_total),
                  "sort": "" if self.sort == DEFAULT_SORT else self.sort}
        values.update(extra)
        return {k: v for k, v in values.items() if v not in ("", None)}

    def sort_link(self, key: str) -> tuple[str, str | None]:
        """(the sort value a column heading links to, its aria-sort now)."""
        now = self.sort.lstrip("-")
        if now != key:
            return key, None
        if self.sort.startswith("-"):
            return key, "descending"
        return "-" + key, "ascending"


def _starts_with(column, prefix: str):
    """Numbers are searched from their start ("1004" finds 10041 and 10042). On SQLite a
    range on the indexed column (its LIKE ignores the index); PostgreSQL's LIKE."""
    if isinstance(db.obj, SqliteDatabase):
        return (column >= prefix) & (column < prefix + "\U0010ffff")
    return column.startswith(prefix)


@bp.route("/")
@role("viewer")
def index():
    filters = Filters(request.args)
    page = page_number(request.args)
    rows = list(filters.query().paginate(page, PAGE_SIZE + 1))
    context = {"records": rows[:PAGE_SIZE], "more": len(rows) > PAGE_SIZE, "page": page,
               "filters": filters, "types": ONE, "states": STATE_LABELS,
               "xero_statuses": XERO_STATUSES,
               "orgs": list(Connection.select().where(Connection.kind == "xero")
                            .order_by(Connection.name))}
    status = 422 if filters.errors else 200
    if request.headers.get("HX-Request"):
        return render_template("records/_table.html", **context), status
    return render_template("records/index.html", **context), status


def xero_link(record: SyncRecord) -> str | None:
    """The document in Xero's web app. The forms are those Xero's own MCP server builds
    (XeroAPI/xero-mcp-server, src/consts/deeplinks.ts): with the organisation's short
    code the link first switches to the right organisation; without it, it opens in the
    organisation the user last had open in Xero."""
    if not record.xero_id or record.record_type not in DOCUMENT_TYPES:
        return None
    doc = quote(record.xero_id, safe="")
    short = ((record.org.settings or {}).get("short_code") if record.org_id else None)
    if record.record_type == "invoice":
        if short:
            return f"https://go.xero.com/app/{quote(short, safe='!')}/invoicing/view/{doc}"
        return f"https://go.xero.com/AccountsReceivable/View.aspx?InvoiceID={doc}"
    path = (f"/AccountsPayable/Edit.aspx?InvoiceID={doc}" if record.record_type == "bill"
            else f"/AccountsPayable/ViewCreditNote.aspx?creditNoteID={doc}")
    if short:
        return ("https://go.xero.com/organisationlogin/default.aspx?shortcode="
                f"{quote(short, safe='!')}&redirecturl={path}")
    return "https://go.xero.com" + path


@bp.route("/<int:record_id>")
@role("viewer")
def detail(record_id):
    record = SyncRecord.get_or_none(SyncRecord.id == record_id)
    if record is None:
        abort(404)
    events = list(record.events.order_by(RecordEvent.at.desc(), RecordEvent.id.desc()))
    versions = list(MeteredVersion.select().where(
        (MeteredVersion.record_type == record.record_type) &
        (MeteredVersion.cw_id == record.cw_id)).order_by(MeteredVersion.at.desc()))
    ref = f"{record.record_type}:{record.cw_id}"
    calls = list(AuditEntry.select(AuditEntry.id, AuditEntry.at, AuditEntry.api,
                                   AuditEntry.method, AuditEntry.url, AuditEntry.status,
                                   AuditEntry.run_id)
                 .where(AuditEntry.record_ref == ref)
                 .order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(20))
    return render_template("records/detail.html", record=record, events=events,
                           versions=versions, calls=calls, ref=ref,
                           exceptions=[e for e in events if e.kind == "exception"],
                           xero_url=xero_link(record), types=ONE, states=STATE_LABELS)

"""Audit log: every request Ferry sent to ConnectWise and Xero, and the answer.

Searchable by API, outcome, text (URL, record, error) and date; each entry opens on its
own page; the current search exports as CSV. Secrets were masked before the rows were
written (connectors/audit.py), so nothing here needs hiding.
"""
import csv
import io
import re
from datetime import date, datetime, timedelta

from flask import Blueprint, Response, abort, render_template, request, stream_with_context

from models import AuditEntry, utcnow

bp = Blueprint("audit", __name__, url_prefix="/audit")

PAGE_SIZE = 50
RECORD_REF = re.compile(r"^[a-z_]+:\d+$")
OUTCOMES = {
    "ok": "Succeeded (2xx)",
    "client_error": "Refused (4xx)",
    "server_error": "Server error (5xx)",
    "no_answer": "No answer",
}


class Search:
    """The filters of the audit page, read from the query string."""

    def __init__(self, args):
        self.api = args.get("api", "")
        self.outcome = args.get("outcome", "")
        self.text = args.get("q", "").strip()
        self.run = args.get("run", "").strip()
        self.errors: list[str] = []
        self.day_from = self._date(args.get("from", ""), "From")
        self.day_to = self._date(args.get("to", ""), "To")

    def _date(self, raw: str, label: str) -> date | None:
        if not raw:
            return None
        try:
            return date.fromisoformat(raw)
        except ValueError:
            self.errors.append(f"{label} date “{raw}” is not a date like 2026-11-21.")
            return None

    def query(self):
        q = AuditEntry.select()
        if self.api in ("connectwise", "xero"):
            q = q.where(AuditEntry.api == self.api)
        if self.outcome == "ok":
            q = q.where(AuditEntry.status.between(200, 299))
        elif self.outcome == "client_error":
            q = q.where(AuditEntry.status.between(400, 499))
        elif self.outcome == "server_error":
            q = q.where(AuditEntry.status >= 500)
        elif self.outcome == "no_answer":
            q = q.where(AuditEntry.status.is_null())
        if RECORD_REF.match(self.text):
            # "invoice:5" means that record, not invoice:50; and the index finds it.
            q = q.where(AuditEntry.record_ref == self.text)
        elif self.text:
            like = f"%{self.text}%"
            q = q.where(AuditEntry.url.ilike(like) | AuditEntry.record_ref.ilike(like)
                        | AuditEntry.error.ilike(like))
        if self.run.isdigit():
            q = q.where(AuditEntry.run_id == int(self.run))
        if self.day_from:
            q = q.where(AuditEntry.at >= datetime.combine(self.day_from, datetime.min.time()))
        if self.day_to:
            end = datetime.combine(self.day_to + timedelta(days=1), datetime.min.time())
            q = q.where(AuditEntry.at < end)
        return q.order_by(AuditEntry.at.desc(), AuditEntry.id.desc())

    def args(self, **extra) -> dict:
        values = {"api": self.api, "outcome": self.outcome, "q": self.text, "run": self.run,
                  "from": self.day_from.isoformat() if self.day_from else "",
                  "to": self.day_to.isoformat() if self.day_to else ""}
        values.update(extra)
        return {k: v for k, v in values.items() if v not in ("", None)}


@bp.route("/")
def index():
    search = Search(request.args)
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    rows = list(search.query().paginate(page, PAGE_SIZE + 1))
    more = len(rows) > PAGE_SIZE
    context = {"search": search, "entries": rows[:PAGE_SIZE], "page": page, "more": more,
               "outcomes": OUTCOMES}
    if request.headers.get("HX-Request") and request.args.get("page"):
        # "Show more" appends rows to the table.
        return render_template("audit/_rows.html", **context)
    if request.headers.get("HX-Request"):
        return render_template("audit/_results.html", **context)
    return render_template("audit/index.html", **context)


@bp.route("/<int:entry_id>")
def detail(entry_id):
    entry = AuditEntry.get_or_none(AuditEntry.id == entry_id)
    if entry is None:
        abort(404)
    return render_template("audit/detail.html", entry=entry)


CSV_COLUMNS = ["time (UTC)", "api", "method", "url", "status", "duration ms",
               "connection", "run", "record", "error", "request body", "response body"]


@bp.route("/export.csv")
def export():
    search = Search(request.args)

    def rows():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(CSV_COLUMNS)
        for e in search.query().iterator():
            writer.writerow([e.at.isoformat(sep=" "), e.api, e.method, e.url, e.status or "",
                             f"{e.duration_ms:.0f}", e.connection_id or "", e.run_id or "",
                             e.record_ref or "", e.error or "", e.request_body or "",
                             e.response_body or ""])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()

    stamp = utcnow().strftime("%Y%m%d-%H%M")
    return Response(stream_with_context(rows()), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="ferry-audit-{stamp}.csv"'})

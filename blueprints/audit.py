"""Audit log: every request Ferry sent to ConnectWise and Xero, and the answer.

Searchable by date range, API, organisation, record type, customer, status code, method,
outcome and text; a record's reference (`invoice:11377`, by its number as the pages show
it or by its ConnectWise id) or its number alone finds that record's calls through the
indexed record_ref, and the batch calls that carried it through record_refs. New entries appear at the top while
a cycle runs (`/audit/live`, polled every 2 seconds, pausable). Each entry opens on its
own page with request and response side by side; the current search exports as a
streamed CSV. Secrets were masked before the rows were written (connectors/audit.py).
"""
from __future__ import annotations

import csv
import io
import json
import re
from functools import reduce
from operator import or_

from flask import Blueprint, Response, abort, render_template, request, stream_with_context

from blueprints.labels import MANY, ONE, filter_date
from blueprints.query_args import end_of, page_number, start_of, whole_number
from blueprints.text_input import search_text
from peewee import SQL, IntegerField, SqliteDatabase

from models import AuditEntry, Connection, RecordEvent, SyncRecord, db, utcnow
from sync.mapping_csv import neutralise
from blueprints.roles import role

bp = Blueprint("audit", __name__, url_prefix="/audit")

PAGE_SIZE = 50
LIVE_LIMIT = 50
EXPORT_CHUNK = 2000
CUSTOMER_RECORDS = 500          # a customer filter looks at this many of its records
TEXT_MATCHES = 10_000           # a text search (SQLite) looks at the newest this many
RUNS_PER_RECORD = 50            # a record's batch writes are looked for in this many runs
BATCH_SHOWN = 3                 # records a batch call's Record cell names (its page: all)
RECORD_REF = re.compile(r"^([a-z_]+):(\d+)$")            # as stored: type and CW id
SEARCHED_REF = re.compile(r"^([a-z_]+):\s*(\S+)$")       # as typed: type and number or id
METHODS = ("GET", "POST", "PUT", "DELETE")
OUTCOMES = {
    "ok": "Succeeded (2xx)",
    "client_error": "Refused (4xx)",
    "server_error": "Server error (5xx)",
    "no_answer": "No answer",
}
FILTERS = ("api", "outcome", "q", "run", "from", "to", "org", "type", "customer",
           "status", "method")


class Search:
    """The filters of the audit page, read from the query string."""

    def __init__(self, args):
        self.api = args.get("api", "")
        self.outcome = args.get("outcome", "")
        self.errors: list[str] = []
        self.text = self._searchable(args.get("q", ""), "The search text")
        self.run = args.get("run", "").strip()
        self.org = args.get("org", "").strip()
        self.record_type = args.get("type", "")
        self.customer = self._searchable(args.get("customer", ""), "The customer")
        self.status = args.get("status", "").strip()
        self.method = args.get("method", "").upper()
        self.day_from = self._date(args.get("from", ""), "From")
        self.day_to = self._date(args.get("to", ""), "To")
        if self.status and not (_whole(self.status) and 100 <= int(self.status) <= 599):
            self.errors.append(f"Status “{self.status}” is not an HTTP status code like "
                               "200, 401 or 429.")
        if self.run and not _whole(self.run):
            self.errors.append(f"Sync run “{self.run}” is not a run number (see Runs).")

    def _date(self, raw: str, label: str):
        return filter_date(raw, label, self.errors)

    def _searchable(self, raw: str, label: str) -> str:
        """PostgreSQL refuses a NUL in any text it is asked to compare (SQLite does not):
        such a search gets a sentence instead of a server error."""
        return search_text(raw, label, self.errors)

    def record_calls(self):
        """`invoice:11377` is the invoice numbered 11377 as the pages name it (or, the
        way calls are tagged, the one whose ConnectWise id is 11377); a number alone
        (10041, PO-5) is each record with that number. Their calls: those tagged with
        the record, and the batch calls of the runs that handled it that carried it
        (record_refs; before that column, a batch write whose body names its number).
        None: the text is neither, search it as text."""
        match = SEARCHED_REF.match(self.text)
        if match and match.group(1) in ONE:
            record_type, key = match.groups()
            # Each side of the OR on an index of its own (SQLite without statistics
            # would otherwise read every record of the type: see query()).
            where = ((SyncRecord.cw_number == key) &
                     (_sqlite_plain(SyncRecord.record_type) == record_type))
            if _whole(key):
                where |= ((SyncRecord.record_type == record_type) &
                          (SyncRecord.cw_id == int(key)))
        else:
            match = None
            where = SyncRecord.cw_number == self.text
        records = list(SyncRecord.select(SyncRecord.id, SyncRecord.record_type,
                                         SyncRecord.cw_id, SyncRecord.cw_number)
                       .where(where).limit(20))
        if not records and not match:
            return None
        refs = [f"{r.record_type}:{r.cw_id}" for r in records] or [self.text]
        found = AuditEntry.record_ref.in_(refs)
        runs = [run for (run,) in RecordEvent.select(RecordEvent.run).where(
            RecordEvent.record.in_([r.id for r in records]) & RecordEvent.run.is_null(False))
            .distinct().limit(RUNS_PER_RECORD).tuples()] if records else []
        if runs:
            carried = [(AuditEntry.record_ref == f"{r.record_type}:") &
                       AuditEntry.record_refs.contains(f",{r.cw_id},") for r in records]
            carried += [AuditEntry.record_refs.is_null() & (AuditEntry.method != "GET") &
                        AuditEntry.request_body.contains(f'"{number}"')
                        for number in {r.cw_number for r in records if r.cw_number}]
            found |= AuditEntry.run_id.in_(runs) & reduce(or_, carried)
        return found

    def query(self, *, newest_first: bool = True):
        q = AuditEntry.select()
        # SQLite without statistics takes any index for a few rows: common values (an
        # API, a method, success) are matched there as expressions, so it walks the
        # time index newest first and stops at a page instead of gathering half a
        # million rows by their own index and sorting them. PostgreSQL's planner knows
        # how common each value is and needs no such help.
        plain = _sqlite_plain
        if self.api in ("connectwise", "xero"):
            q = q.where(plain(AuditEntry.api) == self.api)
        if self.outcome == "ok":
            q = q.where(plain(AuditEntry.status).between(200, 299))
        elif self.outcome == "client_error":
            q = q.where(AuditEntry.status.between(400, 499))
        elif self.outcome == "server_error":
            q = q.where(AuditEntry.status >= 500)
        elif self.outcome == "no_answer":
            q = q.where(AuditEntry.status.is_null())
        if _whole(self.status):
            code = int(self.status)
            q = q.where((plain(AuditEntry.status) if 200 <= code < 300 else AuditEntry.status)
                        == code)
        if self.method in METHODS:
            q = q.where(plain(AuditEntry.method) == self.method)
        if _whole(self.org):
            q = q.where(AuditEntry.connection_id == int(self.org))
        if self.record_type in ONE:
            # A range on the indexed column: "invoice:" up to "invoice;" (":" + 1).
            q = q.where((AuditEntry.record_ref >= f"{self.record_type}:") &
                        (AuditEntry.record_ref < f"{self.record_type};"))
        if self.customer:
            refs = [f"{t}:{i}" for t, i in SyncRecord.select(
                SyncRecord.record_type, SyncRecord.cw_id).where(
                SyncRecord.party_name.contains(self.customer))
                .order_by(SyncRecord.id.desc()).limit(CUSTOMER_RECORDS).tuples()]
            q = q.where(AuditEntry.record_ref.in_(refs or ["-"]))
        if self.text:
            calls = self.record_calls()
            if calls is not None:
                q = q.where(calls)
            else:
                q = q.where(_text_matches(self.text))
        if _whole(self.run):
            q = q.where(AuditEntry.run_id == int(self.run))
        if self.day_from:
            q = q.where(AuditEntry.at >= start_of(self.day_from))
        if end_of(self.day_to):
            q = q.where(AuditEntry.at < end_of(self.day_to))
        if newest_first:
            q = q.order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        return q

    def args(self, **extra) -> dict:
        values = {"api": self.api, "outcome": self.outcome, "q": self.text, "run": self.run,
                  "org": self.org, "type": self.record_type, "customer": self.customer,
                  "status": self.status, "method": self.method,
                  "from": self.day_from.isoformat() if self.day_from else "",
                  "to": self.day_to.isoformat() if self.day_to else ""}
        values.update(extra)
        return {k: v for k, v in values.items() if v not in ("", None)}


def _whole(text: str) -> bool:
    """A whole number both databases can compare with an id (blueprints/query_args)."""
    return whole_number(text) is not None


def _plain(column):
    """The column as an expression SQLite will not look up by its index."""
    return column + 0 if isinstance(column, IntegerField) else column.concat("")


def _sqlite_plain(column):
    """_plain on SQLite; PostgreSQL's planner needs no such help."""
    return _plain(column) if isinstance(db.obj, SqliteDatabase) else column


_text_index: dict[int, bool] = {}


def _has_text_index() -> bool:
    """SQLite with the trigram table of migration 0009_search_indexes (checked once)."""
    key = id(db.obj)
    if key not in _text_index:
        _text_index[key] = (isinstance(db.obj, SqliteDatabase)
                            and db.table_exists("audit_text"))
    return _text_index[key]


def _text_matches(text: str):
    """URL or error containing `text`, any case. SQLite asks its trigram table for the
    newest TEXT_MATCHES matches (a phrase of three characters or more); PostgreSQL's
    ILIKE uses the pg_trgm indexes; otherwise it is a scan."""
    if len(text) >= 3 and _has_text_index():
        phrase = '"' + text.replace('"', '""') + '"'
        return AuditEntry.id.in_(SQL(
            "(SELECT rowid FROM audit_text WHERE audit_text MATCH ? "
            "ORDER BY rowid DESC LIMIT ?)", (phrase, TEXT_MATCHES)))
    like = f"%{text}%"
    return AuditEntry.url.ilike(like) | AuditEntry.error.ilike(like)


@bp.app_template_filter("path_only")
def path_only(url: str) -> str:
    """The URL without scheme and host (the System column names the host)."""
    rest = url.split("://", 1)[-1]
    return "/" + rest.split("/", 1)[1] if "/" in rest else url


def _carried(entry, limit: int | None = None) -> list[str]:
    """The refs ("invoice:1377") of the records a batch call carried: the first `limit`."""
    if not (entry.record_refs and entry.record_ref):
        return []
    ids = entry.record_refs.strip(",").split(",")
    return [f"{entry.record_ref}{i}" for i in ids[:limit]]


def _batches(entries, limit: int | None = BATCH_SHOWN) -> dict[int, dict]:
    """For each batch call: its record type, how many records it carried and the refs
    of the first `limit`, for its Record cell."""
    return {e.id: {"type": e.record_ref[:-1], "count": e.record_refs.count(",") - 1,
                   "refs": _carried(e, limit)}
            for e in entries if e.record_refs and e.record_ref}


def _records_of(entries, limit: int | None = BATCH_SHOWN) -> dict[str, SyncRecord]:
    """The records the entries on a page name (a batch call's first `limit`), for links
    from the Record column: one query per record type."""
    wanted: dict[str, set[int]] = {}
    for e in entries:
        for ref in [e.record_ref or ""] + _carried(e, limit):
            match = RECORD_REF.match(ref)
            if match:
                wanted.setdefault(match.group(1), set()).add(int(match.group(2)))
    found = {}
    for record_type, ids in wanted.items():
        for r in SyncRecord.select(SyncRecord.id, SyncRecord.record_type, SyncRecord.cw_id,
                                   SyncRecord.cw_number).where(
                (SyncRecord.record_type == record_type) & SyncRecord.cw_id.in_(sorted(ids))):
            found[f"{r.record_type}:{r.cw_id}"] = r
    return found


def _latest_id() -> int:
    newest = AuditEntry.select(AuditEntry.id).order_by(AuditEntry.id.desc()).first()
    return newest.id if newest else 0


def _context(search: Search, entries, **extra) -> dict:
    return {"search": search, "entries": entries, "records": _records_of(entries),
            "batches": _batches(entries), "many": MANY,
            "outcomes": OUTCOMES, "types": ONE, "methods": METHODS,
            "orgs": list(Connection.select().order_by(Connection.kind, Connection.name)),
            **extra}


@bp.route("/")
@role("viewer")
def index():
    search = Search(request.args)
    page = page_number(request.args)
    rows = list(search.query().paginate(page, PAGE_SIZE + 1)) if not search.errors else []
    more = len(rows) > PAGE_SIZE
    context = _context(search, rows[:PAGE_SIZE], page=page, more=more,
                       after=_latest_id(), paused=False)
    status = 422 if search.errors else 200
    if request.headers.get("HX-Request") and request.args.get("page"):
        # "Show more" appends rows to the table.
        return render_template("audit/_rows.html", **context)
    if request.headers.get("HX-Request"):
        return render_template("audit/_results.html", **context), status
    return render_template("audit/index.html", **context), status


@bp.route("/live")
@role("viewer")
def live():
    """Entries newer than `after` that match the filters, for the top of the table, and
    the poller again (carrying the newest id). `paused=1` answers the poller stopped."""
    search = Search(request.args)
    after = whole_number(request.args.get("after")) or 0
    paused = request.args.get("paused") == "1"
    rows = []
    if not paused and not search.errors:
        rows = list(search.query(newest_first=False).where(AuditEntry.id > after)
                    .order_by(AuditEntry.id.desc()).limit(LIVE_LIMIT))
    newest = max([after] + [e.id for e in rows])
    return render_template("audit/_live.html", **_context(search, rows, after=newest,
                                                          paused=paused))


def pretty(body: str | None) -> tuple[str, bool]:
    """A body as a person reads it: JSON indented (True), anything else as it came."""
    if not body:
        return "", False
    try:
        return json.dumps(json.loads(body), indent=2, ensure_ascii=False), True
    except ValueError:
        return body, False


@bp.route("/<int:entry_id>")
@role("viewer")
def detail(entry_id):
    entry = AuditEntry.get_or_none(AuditEntry.id == entry_id)
    if entry is None:
        abort(404)
    records = _records_of([entry], limit=None)
    connection = (Connection.get_or_none(Connection.id == entry.connection_id)
                  if entry.connection_id else None)
    return render_template("audit/detail.html", entry=entry,
                           record=records.get(entry.record_ref or ""), records=records,
                           batch=_batches([entry], limit=None).get(entry.id),
                           connection=connection, request_body=pretty(entry.request_body),
                           response_body=pretty(entry.response_body), types=ONE, many=MANY)


CSV_COLUMNS = ["time (UTC)", "api", "method", "url", "status", "duration ms",
               "connection", "run", "record", "error", "request body", "response body"]


EXPORT_FIELDS = (AuditEntry.id, AuditEntry.at, AuditEntry.api, AuditEntry.method,
                 AuditEntry.url, AuditEntry.status, AuditEntry.duration_ms,
                 AuditEntry.connection_id, AuditEntry.run_id, AuditEntry.record_ref,
                 AuditEntry.record_refs, AuditEntry.error, AuditEntry.request_body,
                 AuditEntry.response_body)


@bp.route("/export.csv")
@role("viewer")
def export():
    """The current search as CSV, streamed a chunk at a time (keyset paging on the id),
    so a million entries never sit in memory, on SQLite or PostgreSQL. Every cell is
    neutralised: an error or body Ferry was sent may start with "=" and must not become
    a formula in the spreadsheet that opens the file."""
    search = Search(request.args)
    if search.errors:
        return Response(" ".join(search.errors), 422, mimetype="text/plain")

    def chunk_before(last):
        # Newest first by id (the order calls were stored), so each chunk starts where
        # the last ended on the primary key: no sort, whatever the size.
        q = search.query(newest_first=False).order_by(AuditEntry.id.desc())
        if last is not None:
            q = q.where(AuditEntry.id < last)
        return list(q.select(*EXPORT_FIELDS).limit(EXPORT_CHUNK).tuples())

    # The first chunk is read before the answer starts: a search the database cannot
    # run is then an error page, not a 200 whose file stops after its header.
    first = chunk_before(None)

    def rows():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(CSV_COLUMNS)
        yield buffer.getvalue()
        chunk = first
        while chunk:
            buffer.seek(0)
            buffer.truncate()
            for (_id, at, api, method, url, status, ms, conn, run_id, ref, refs, error,
                 rq_body, rs_body) in chunk:
                # A batch call's record: its type and every id it carried.
                record = f"{ref}{refs.strip(',')}" if ref and refs else ref
                writer.writerow([neutralise(cell) for cell in (
                    at.isoformat(sep=" "), api, method, url, status or "", f"{ms:.0f}",
                    conn or "", run_id or "", record or "", error or "", rq_body or "",
                    rs_body or "")])
            yield buffer.getvalue()
            chunk = chunk_before(chunk[-1][0])

    stamp = utcnow().strftime("%Y%m%d-%H%M")
    return Response(stream_with_context(rows()), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="ferry-audit-{stamp}.csv"'})

"""The audit trail in the database: the sink the connectors write through, and the daily
retention job.

Writes are buffered: a cycle makes hundreds of calls, and one INSERT per call would add a
commit (an fsync on SQLite) to each. Records are inserted in batches of `batch_size`, or
when the oldest waiting one is `max_delay` seconds old, and always on `flush()` / leaving
the `with` block; a job that dies hard loses at most one batch of its audit rows.
"""
from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta, timezone

from connectors.audit import CallRecord
from jobs.context import in_job_context
from models import AuditEntry, Setting, db, utcnow

log = logging.getLogger("ferry.audit")

BODY_LIMIT = 64_000                 # characters of each body kept
RETENTION_SETTING = "audit_retention_days"
DEFAULT_RETENTION_DAYS = 30
PURGE_CHUNK = 5_000                 # rows per DELETE, so a purge never holds a long lock


def _cap(text: str | None) -> str | None:
    if text is None or len(text) <= BODY_LIMIT:
        return text
    return f"{text[:BODY_LIMIT]}\n… [truncated: {BODY_LIMIT:,} of {len(text):,} characters kept]"


def calls_ref(record_type: str, cw_ids) -> str:
    """The record_ref that tags a call made for these records: "invoice:1377" for one,
    "invoice:1377,1378" for several (entry_row stores that as type and list)."""
    return f"{record_type}:{','.join(str(i) for i in dict.fromkeys(cw_ids))}"


def stored_refs(ref: str | None) -> tuple[str | None, str | None]:
    """(record_ref, record_refs) as AuditEntry keeps them: one record as it came; several
    as their type alone ("invoice:") and their ids between commas (",1377,1378,")."""
    if not ref or "," not in ref:
        return ref, None
    record_type, ids = ref.split(":", 1)
    return f"{record_type}:", f",{ids},"


def entry_row(call: CallRecord) -> dict:
    started = call.started_at
    if started.tzinfo is not None:   # stored as naive UTC, like every time in Ferry
        started = started.astimezone(timezone.utc).replace(tzinfo=None)
    record_ref, record_refs = stored_refs(call.record_ref)
    return {
        "at": started, "api": call.api, "connection_id": call.connection_id,
        "method": call.method, "url": call.url, "status": call.status,
        "duration_ms": call.duration_ms, "request_headers": call.request_headers,
        "request_body": _cap(call.request_body), "response_headers": call.response_headers,
        "response_body": _cap(call.response_body), "error": call.error,
        "run_id": call.run_id, "record_ref": record_ref, "record_refs": record_refs,
    }


class DatabaseAuditSink:
    """An AuditSink writing AuditEntry rows in batches. Use it as a context manager (or
    call flush()) so the last batch is written when the job ends."""

    def __init__(self, batch_size: int = 50, max_delay: float = 5.0):
        self.batch_size = max(1, batch_size)
        self.max_delay = max_delay
        self._pending: list[dict] = []
        self._oldest: float | None = None
        self._lock = threading.Lock()

    def record(self, call: CallRecord) -> None:
        with self._lock:
            self._pending.append(entry_row(call))
            if self._oldest is None:
                self._oldest = time.monotonic()
            due = (len(self._pending) >= self.batch_size
                   or time.monotonic() - self._oldest >= self.max_delay)
        if due:
            self.flush()

    def flush(self) -> int:
        """Write what is waiting; returns the number of rows written."""
        with self._lock:
            rows, self._pending, self._oldest = self._pending, [], None
        if not rows:
            return 0
        fields = AuditEntry._meta.fields
        with db.atomic():
            for start in range(0, len(rows), 100):   # well under SQLite's variable limit
                AuditEntry.insert_many(
                    [{fields[k]: v for k, v in row.items()} for row in rows[start:start + 100]]
                ).execute()
        from jobs.metrics import count_calls      # /metrics' API call totals (Redis)
        count_calls(rows)
        return len(rows)

    def __enter__(self) -> "DatabaseAuditSink":
        return self

    def __exit__(self, *exc) -> None:
        self.flush()


def retention_days() -> int:
    """The retention setting, kept within 1..365 days."""
    raw = Setting.get_value(RETENTION_SETTING, DEFAULT_RETENTION_DAYS)
    try:
        days = int(raw)
    except (TypeError, ValueError):
        return DEFAULT_RETENTION_DAYS
    return min(365, max(1, days))


def purge_entries_older_than(days: int) -> int:
    """Delete audit rows older than `days` days; returns how many went. Needs an open
    database connection."""
    if not 1 <= int(days) <= 365:
        raise ValueError("audit retention is between 1 and 365 days")
    cutoff = utcnow() - timedelta(days=int(days))
    removed = 0
    while True:
        batch = [row.id for row in AuditEntry.select(AuditEntry.id)
                 .where(AuditEntry.at < cutoff).limit(PURGE_CHUNK)]
        if not batch:
            break
        with db.atomic():
            removed += AuditEntry.delete().where(AuditEntry.id.in_(batch)).execute()
    log.info("audit retention: removed %d entries older than %d days", removed, days)
    return removed


@in_job_context
def purge_audit(days: int | None = None) -> int:
    """The daily RQ job: apply the retention setting (or `days`)."""
    return purge_entries_older_than(days if days is not None else retention_days())

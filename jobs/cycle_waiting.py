"""Records whose date has not come: CW's GL export (without thruDate) stops at CW's
today, so an invoice dated next month is not exported yet (sandbox/FIDELITY.md 1.6).
Such a record is "waiting": shown with its date, read again every cycle, written when
the export includes it, and the watermark never moves past it."""
from __future__ import annotations

from models import RecordEvent, SyncRecord


def mark_waiting(run, record: SyncRecord, sentence: str) -> None:
    changed = record.state != "waiting" or record.problems != [sentence]
    record.state, record.problems, record.last_run = "waiting", [sentence], run
    record.save()
    if changed:
        RecordEvent.create(record=record, run=run, kind="waiting", message=sentence)

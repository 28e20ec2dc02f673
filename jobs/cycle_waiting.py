"""Records whose date has not come: CW's GL export (without thruDate) stops at CW's
today, so an invoice dated next month is not exported yet (sandbox/FIDELITY.md 1.6).
Such a record is "waiting": shown with its date, written when the export includes it.
It is read again only from the day before its date (CW's today may be a day ahead of
UTC), or when it changes in CW (the watermark finds it then); until then a cycle spends
no call on it, and it does not hold the watermark back."""
from __future__ import annotations

from datetime import date, timedelta

from models import RecordEvent, SyncRecord, utcnow


def today() -> date:
    """Ferry's today (UTC); tests that move the sandboxes' clock move this too."""
    return utcnow().date()


def not_due(model=SyncRecord):
    """The waiting records whose date is still more than a day away."""
    return ((model.state == "waiting") & model.doc_date.is_null(False) &
            (model.doc_date > today() + timedelta(days=1)))


def mark_waiting(run, record: SyncRecord, sentence: str) -> None:
    changed = record.state != "waiting" or record.problems != [sentence]
    record.state, record.problems, record.last_run = "waiting", [sentence], run
    record.save()
    if changed:
        RecordEvent.create(record=record, run=run, kind="waiting", message=sentence)

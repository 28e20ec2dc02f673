"""Force-sync: one record, a selection, or a whole record type, now.

It goes through the same cycle as the schedule (`run_cycle`), limited to the records
named; a record whose version is already in Xero is recognised and not sent (or
metered) again. From the web the work is queued for a worker; the CLI runs it in place.
"""
from __future__ import annotations

from jobs.context import in_job_context
from jobs.cycle import RECORD_TYPES, run_cycle
from jobs.queue import get_queue


def force_sync(record_type: str, cw_ids: list[int] | None = None):
    """Queue a forced cycle: of `cw_ids` (CW ids; a bill is named by its first receipt),
    or of every record of the type when None. Returns the RQ job."""
    ids = sorted({int(i) for i in cw_ids}) if cw_ids is not None else None
    if record_type == "payment":      # the payment back-sync: ids are CW invoice ids
        from jobs.cycle_payments import forced_payment_cycle
        return get_queue().enqueue(forced_payment_cycle, "payment", ids, job_timeout=3600)
    if record_type not in RECORD_TYPES:
        raise ValueError(f"record type is one of {', '.join(RECORD_TYPES)}, payment")
    from jobs.cycle import JOB_TIMEOUT      # the same room as a scheduled cycle
    return get_queue().enqueue(forced_cycle, record_type, ids, job_timeout=JOB_TIMEOUT)


@in_job_context
def forced_cycle(record_type: str, cw_ids: list[int] | None = None) -> int:
    return run_cycle(record_type, trigger="force", only_ids=cw_ids, forced=True).id

"""The one log line every cycle ends with, whoever started it (the schedule, Sync now,
`flask sync`): its type, the Xero organisations it called, what it read, wrote and
raised, the calls it made and how long it took.

    invoice cycle 12 done in 41.2 s: read 120, written 118, exceptions 2; calls:
    ConnectWise 5, Xero 7 (Adelaide Pty Ltd 5, Sydney Pty Ltd 2)

(one line in the log). With FERRY_LOG_FORMAT=json the same facts are fields. Called by
jobs/cycle.py and jobs/cycle_payments.py once the run is saved and its audit rows are
written (the calls per organisation are read from them).
"""
from __future__ import annotations

import logging

from peewee import fn

from models import AuditEntry, Connection, SyncRun

log = logging.getLogger("ferry.cycle")


def xero_calls_by_org(run: SyncRun) -> dict[str, int]:
    """Organisation name -> Xero calls the run made for it, most first."""
    rows = (AuditEntry.select(AuditEntry.connection_id, fn.COUNT(AuditEntry.id))
            .where((AuditEntry.run_id == run.id) & (AuditEntry.api == "xero") &
                   AuditEntry.connection_id.is_null(False))
            .group_by(AuditEntry.connection_id).tuples())
    counts = dict(rows)
    names = {c.id: c.name for c in Connection.select(Connection.id, Connection.name)
             .where(Connection.id.in_(list(counts)))} if counts else {}
    named = {names.get(cid, f"organisation {cid}"): n for cid, n in counts.items()}
    return dict(sorted(named.items(), key=lambda item: (-item[1], item[0])))


def cycle_finished(run: SyncRun) -> None:
    """Log the run's line: INFO when done, WARNING when it stopped or failed (the reason
    was logged when it stopped)."""
    took = ((run.finished_at - run.started_at).total_seconds()
            if run.finished_at and run.started_at else 0.0)
    orgs = xero_calls_by_org(run)
    per_org = f" ({', '.join(f'{name} {n}' for name, n in orgs.items())})" if orgs else ""
    message = (f"{run.record_type} cycle {run.id} {run.status} in {took:.1f} s: "
               f"read {run.read}, written {run.written}, exceptions {run.exceptions}; "
               f"calls: ConnectWise {run.cw_calls}, Xero {run.xero_calls}{per_org}")
    fields = {"event": "cycle", "type": run.record_type, "run": run.id,
              "trigger": run.trigger, "status": run.status, "orgs": list(orgs),
              "read": run.read, "written": run.written, "exceptions": run.exceptions,
              "cw_calls": run.cw_calls, "xero_calls": run.xero_calls,
              "xero_calls_by_org": orgs, "took_seconds": round(took, 3)}
    level = logging.INFO if run.status == "done" else logging.WARNING
    log.log(level, message, extra={"ferry": fields})

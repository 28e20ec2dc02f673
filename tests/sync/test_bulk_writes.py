"""jobs/cycle_records.bulk_set and insert_rows write what peewee's own statements would."""
from datetime import datetime
from decimal import Decimal

from jobs.cycle_records import bulk_set, insert_rows
from models import Connection, MeteredVersion, RecordEvent, SyncRecord, SyncRun, db


def _records(n):
    org = Connection.create(kind="xero", name="Org", tenant_id="t1")
    run = SyncRun.create(record_type="invoice")
    insert_rows(SyncRecord, [{"record_type": "invoice", "cw_id": i, "cw_number": f"N{i}",
                              "last_run": run.id} for i in range(n)])
    return org, run, list(SyncRecord.select().order_by(SyncRecord.cw_id))


def test_insert_rows_fills_defaults_and_nulls_like_insert_many(app):
    with app.app_context(), db.connection_context():
        _org, run, records = _records(3)
        assert [(r.cw_id, r.state, r.org_id, r.last_run_id) for r in records] == [
            (0, "pending", None, run.id), (1, "pending", None, run.id),
            (2, "pending", None, run.id)]
        assert all(isinstance(r.updated_at, datetime) for r in records)
        rows = [{"record_type": "invoice", "cw_id": 1, "version_hash": "v1:a",
                 "month": "2026-11"}]
        insert_rows(MeteredVersion, rows, ignore_conflicts=True)
        insert_rows(MeteredVersion, rows, ignore_conflicts=True)       # ignored
        assert MeteredVersion.select().count() == 1
        insert_rows(RecordEvent, [{"record": records[0].id, "run": run.id,
                                   "kind": "created", "message": "written"}])
        event = RecordEvent.get()
        assert (event.record_id, event.kind, event.message) == (records[0].id, "created",
                                                                "written")


def test_bulk_set_saves_each_rows_values(app):
    with app.app_context(), db.connection_context():
        org, run, records = _records(150)
        for i, record in enumerate(records):
            record.state = "synced" if i % 2 else "exception"
            record.problems = None if i % 2 else [f"problem {i}"]
            record.cw_total = Decimal(i) / 4
            record.org = org.id if i % 3 else None
            record.cw_updated_at = datetime(2026, 1, 1 + i % 28, 12, 30)
        with db.atomic():
            bulk_set(SyncRecord, records, ("state", "problems", "cw_total", "org",
                                           "cw_updated_at"))
        back = list(SyncRecord.select().order_by(SyncRecord.cw_id))
        for i, record in enumerate(back):
            assert record.state == ("synced" if i % 2 else "exception")
            assert record.problems == (None if i % 2 else [f"problem {i}"])
            assert record.cw_total == Decimal(i) / 4
            assert record.org_id == (org.id if i % 3 else None)
            assert record.cw_updated_at == datetime(2026, 1, 1 + i % 28, 12, 30)

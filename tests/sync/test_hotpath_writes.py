"""OrgWriter's batch writes (mark_in_flight, and what `together` defers) store what
their statements per record stored, on SQLite and PostgreSQL."""
from datetime import datetime
from decimal import Decimal
from types import SimpleNamespace

from jobs.cycle_records import insert_rows
from jobs.cycle_write import Counts, OrgWriter, Work
from models import MeteredVersion, RecordEvent, SyncRecord, SyncRun, db, utcnow


def _setup(n):
    old_run = SyncRun.create(record_type="invoice")
    run = SyncRun.create(record_type="invoice")
    insert_rows(SyncRecord, [{"record_type": "invoice", "cw_id": i, "cw_number": f"N{i}",
                              "state": "pending", "version_hash": "v1:old",
                              "last_run": old_run.id, "xero_id": f"x{i}" if i % 2 else None,
                              "updated_at": datetime(2020, 1, 1)} for i in range(n)])
    records = list(SyncRecord.select().order_by(SyncRecord.cw_id))
    return old_run, run, records


def _work(record, version, total=None):
    mapped = SimpleNamespace(cw_total=total, rounding=Decimal("0.00"), notes=[])
    return Work(SimpleNamespace(cw_id=record.cw_id), record, mapped, version)


def test_mark_in_flight_sets_its_columns_on_each_record_only(app):
    with app.app_context(), db.connection_context():
        old_run, run, records = _setup(120)
        writer = OrgWriter(run, None, None, None, Counts(), False)
        batch = [(_work(r, f"v1:{r.cw_id}"), {}) for r in records[:60]]
        batch.append((_work(records[3], "v1:again"), {}))     # the last version wins
        writer.mark_in_flight(batch)
        for record in records[:60]:
            assert record.state == "in_flight"
            assert record.last_run_id == old_run.id          # in memory: as before
        assert records[3].version_hash == "v1:again"
        back = {r.cw_id: r for r in SyncRecord.select()}
        for i, record in back.items():
            if i < 60:
                assert (record.state, record.last_run_id) == ("in_flight", run.id)
                assert record.version_hash == ("v1:again" if i == 3 else f"v1:{i}")
                assert record.updated_at > datetime(2020, 1, 1)
            else:
                assert (record.state, record.version_hash, record.last_run_id,
                        record.updated_at) == ("pending", "v1:old", old_run.id,
                                               datetime(2020, 1, 1))
            assert record.xero_id == (f"x{i}" if i % 2 else None)
            assert record.cw_number == f"N{i}"


def test_together_writes_events_and_metering_ignoring_metered_versions_held(app):
    with app.app_context(), db.connection_context():
        _old_run, run, records = _setup(6)
        held = MeteredVersion.create(record_type="invoice", cw_id=0, version_hash="v1:0",
                                     month="2001-01", at=datetime(2001, 1, 1))
        writer = OrgWriter(run, None, None, None, Counts(), False)
        with db.atomic(), writer.together():
            for record in records:
                writer.synced(_work(record, f"v1:{record.cw_id}", Decimal("12.30")),
                              "created", "Written to Xero.")
            writer.event(records[0], "note", "ünïcode note")
        assert writer.counts.written == 6
        back = {r.cw_id: r for r in SyncRecord.select()}
        for i, record in back.items():
            assert (record.state, record.version_hash, record.synced_hash,
                    record.cw_total, record.last_run_id) == (
                "synced", f"v1:{i}", f"v1:{i}", Decimal("12.30"), run.id)
        events = sorted((e.record_id, e.run_id, e.kind, e.message)
                        for e in RecordEvent.select())
        assert events == sorted([(r.id, run.id, "created", "Written to Xero.")
                                 for r in records] + [(records[0].id, run.id, "note",
                                                       "ünïcode note")])
        assert all(isinstance(e.at, datetime) for e in RecordEvent.select())
        metered = {(m.cw_id, m.version_hash): m for m in MeteredVersion.select()}
        assert set(metered) == {(i, f"v1:{i}") for i in range(6)}
        kept = metered[(0, "v1:0")]
        assert (kept.id, kept.month, kept.at) == (held.id, "2001-01", datetime(2001, 1, 1))
        month = utcnow().strftime("%Y-%m")
        assert all(m.month == month for k, m in metered.items() if k[0] != 0)

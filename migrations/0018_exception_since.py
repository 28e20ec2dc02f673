"""When a record first entered exception (sync_record.exception_since): kept across
re-tries that fail again, cleared when it leaves exception (models.SyncRecord.save and
jobs/cycle_write.py). Records already in exception get the time of the first exception
in their history since they last left one (written, waiting, dismissed)."""
from peewee import DateTimeField
from playhouse.migrate import migrate

# Events that mean the record was out of exception at that moment.
_LEFT = ("created", "updated", "found", "waiting", "dismissed")


def upgrade(db, migrator):
    migrate(migrator.add_column("sync_record", "exception_since", DateTimeField(null=True)),
            migrator.add_index("sync_record", ("exception_since",), False))
    rows = db.execute_sql(
        "SELECT r.id, e.kind, e.at FROM sync_record r JOIN record_event e ON e.record_id = r.id"
        " WHERE r.state = 'exception' ORDER BY r.id, e.at, e.id").fetchall()
    first: dict[int, object] = {}
    for record_id, kind, at in rows:
        if kind in _LEFT:
            first.pop(record_id, None)
        elif kind == "exception":
            first.setdefault(record_id, at)
    for record_id, at in first.items():
        db.execute_sql(f"UPDATE sync_record SET exception_since = {db.param} "
                       f"WHERE id = {db.param}", (at, record_id))
    # An exception with no event left (history purged): its last change is the best known.
    db.execute_sql("UPDATE sync_record SET exception_since = updated_at "
                   "WHERE state = 'exception' AND exception_since IS NULL")


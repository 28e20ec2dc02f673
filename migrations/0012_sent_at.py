"""When a record's last write went out to Xero (sync_record.sent_at): a write whose
answer never came is looked up only once Xero has had time to finish it; see
jobs/cycle_write.py ANSWER_GRACE."""
from peewee import DateTimeField
from playhouse.migrate import migrate


def upgrade(db, migrator):
    migrate(migrator.add_column("sync_record", "sent_at", DateTimeField(null=True)))

"""Mappings in the browser: what each exception is keyed on (so the Unmapped view and
"re-sync what this mapping fixes" are exact), and the cached choice lists of the
mapping screens."""
from peewee import (
    CharField, DateTimeField, DecimalField, ForeignKeyField, Model, TextField,
)


def upgrade(db, migrator):
    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class Connection(Base):
        class Meta:
            table_name = "connection"

    class SyncRecord(Base):
        class Meta:
            table_name = "sync_record"

    class RecordProblem(Base):
        record = ForeignKeyField(SyncRecord, on_delete="CASCADE", index=True)
        org = ForeignKeyField(Connection, null=True, on_delete="CASCADE")
        kind = CharField()
        cw_value = CharField()
        label = CharField(null=True)
        amount = DecimalField(max_digits=16, decimal_places=2, null=True)
        at = DateTimeField()

        class Meta:
            indexes = ((("kind", "cw_value"), False),)

    class ChoiceList(Base):
        source = CharField()
        org_id = CharField(default="")
        kind = CharField()
        items = TextField()
        fetched_at = DateTimeField()
        error = TextField(null=True)

        class Meta:
            indexes = ((("source", "org_id", "kind"), True),)

    db.create_tables([RecordProblem, ChoiceList])

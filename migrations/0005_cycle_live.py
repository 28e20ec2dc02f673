"""Lean and live cycles: per-org Xero reference data cached in the database (tax rates,
accounts, tracking categories, currencies, organisation), and the progress columns a
running cycle keeps up to date for the dashboard (total, done, waiting_until,
heartbeat_at; status "interrupted" when its worker died), the run's waiting and excluded
counts (read = written + skipped + exceptions + waiting + excluded), and a record's
`unknown_since`: a write whose outcome Xero did not tell, to be looked up first)."""
from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, Model, TextField
from playhouse.migrate import migrate


def upgrade(db, migrator):
    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class Connection(Base):  # exists since 0001; named here for the foreign key
        class Meta:
            table_name = "connection"

    class XeroReference(Base):
        org = ForeignKeyField(Connection, on_delete="CASCADE")
        kind = CharField()
        data = TextField()
        fetched_at = DateTimeField()

        class Meta:
            indexes = ((("org", "kind"), True),)

    db.create_tables([XeroReference])
    migrate(
        migrator.add_column("sync_run", "total", IntegerField(null=True)),
        migrator.add_column("sync_run", "done", IntegerField(default=0)),
        migrator.add_column("sync_run", "waiting_until", DateTimeField(null=True)),
        migrator.add_column("sync_run", "heartbeat_at", DateTimeField(null=True)),
        migrator.add_column("sync_run", "waiting", IntegerField(default=0)),
        migrator.add_column("sync_run", "excluded", IntegerField(default=0)),
        migrator.add_column("sync_record", "unknown_since", DateTimeField(null=True)),
        migrator.add_index("sync_run", ("status",), False),
    )

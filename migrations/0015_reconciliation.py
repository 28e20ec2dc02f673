"""Reconciliation reports (see models.Reconciliation and jobs/reconcile.py)."""
from peewee import (
    CharField, DateTimeField, ForeignKeyField, IntegerField, Model, TextField,
)


def upgrade(db, migrator):
    class Connection(Model):
        class Meta:
            database = db
            table_name = "connection"

    class Reconciliation(Model):
        org = ForeignKeyField(Connection, null=True, on_delete="SET NULL")
        org_name = CharField()
        month = CharField(index=True)
        status = CharField(default="queued")
        trigger = CharField(default="page")
        started_at = DateTimeField(index=True)
        finished_at = DateTimeField(null=True)
        differences = IntegerField(null=True)
        xero_calls = IntegerField(default=0)
        cw_calls = IntegerField(default=0)
        result = TextField(null=True)
        message = TextField(null=True)

        class Meta:
            database = db
            table_name = "reconciliation"

    db.create_tables([Reconciliation])

"""The audit log: one row per HTTP call to ConnectWise or Xero."""
from peewee import CharField, DateTimeField, FloatField, IntegerField, Model, TextField


def upgrade(db, migrator):
    class AuditEntry(Model):
        at = DateTimeField(index=True)
        api = CharField(index=True)
        connection_id = IntegerField(null=True)
        method = CharField()
        url = TextField()
        status = IntegerField(null=True, index=True)
        duration_ms = FloatField()
        request_headers = TextField(null=True)
        request_body = TextField(null=True)
        response_headers = TextField(null=True)
        response_body = TextField(null=True)
        error = TextField(null=True)
        run_id = IntegerField(null=True, index=True)
        record_ref = CharField(null=True, index=True)

        class Meta:
            database = db
            table_name = "audit_entry"

    db.create_tables([AuditEntry])

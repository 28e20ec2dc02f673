"""Xero grants: one consent's encrypted token set, shared by the organisations it covers."""

from peewee import CharField, DateTimeField, Model, TextField


def upgrade(db, migrator):
    class XeroGrant(Model):
        token = TextField(null=True)
        scopes = TextField(default="")
        auth_event_id = CharField(null=True)
        status = CharField(default="active")
        last_error = TextField(null=True)
        refreshed_at = DateTimeField(null=True)
        created_at = DateTimeField()
        updated_at = DateTimeField()

        class Meta:
            database = db
            table_name = "xero_grant"

    db.create_tables([XeroGrant])

"""What Ferry creates in Xero, recorded before the create goes out (see
models.XeroCreation and jobs/xero_creations.py)."""
from peewee import CharField, DateTimeField, ForeignKeyField, Model


def upgrade(db, migrator):
    class Connection(Model):
        class Meta:
            database = db
            table_name = "connection"

    class XeroCreation(Model):
        org = ForeignKeyField(Connection, on_delete="CASCADE")
        kind = CharField()
        key = CharField()
        state = CharField()
        token = CharField()
        claimed_at = DateTimeField()
        xero_id = CharField(null=True)
        name = CharField(null=True)

        class Meta:
            database = db
            table_name = "xero_creation"
            indexes = ((("org", "kind", "key"), True),)

    db.create_tables([XeroCreation])

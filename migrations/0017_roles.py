"""People and roles: each user's role (every existing user was an administrator, and
stays one), one-time links (invitations and password resets, stored as a hash only) and
the history of mapping changes (who changed which mapping when)."""
from peewee import CharField, DateTimeField, ForeignKeyField, Model, TextField
from playhouse.migrate import migrate


def upgrade(db, migrator):
    migrate(migrator.add_column("user", "role",
                                CharField(default="administrator")))

    class User(Model):
        class Meta:
            database = db
            table_name = "user"

    class AccountLink(Model):
        purpose = CharField()
        email = CharField(index=True)
        role = CharField(null=True)
        token_hash = CharField(unique=True)
        created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
        created_at = DateTimeField()
        expires_at = DateTimeField()
        used_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "account_link"

    class MappingChange(Model):
        at = DateTimeField(index=True)
        user_email = CharField(null=True)
        org_name = CharField(null=True)
        area = CharField(index=True)
        action = CharField()
        detail = TextField()

        class Meta:
            database = db
            table_name = "mapping_change"

    db.create_tables([AccountLink, MappingChange])

"""Sign-in security: each user's session version (see models.SessionVersion)."""

from peewee import ForeignKeyField, IntegerField, Model


def upgrade(db, migrator):
    class User(Model):
        class Meta:
            database = db
            table_name = "user"

    class SessionVersion(Model):
        user = ForeignKeyField(User, primary_key=True, on_delete="CASCADE")
        version = IntegerField(default=0)

        class Meta:
            database = db
            table_name = "session_version"

    db.create_tables([SessionVersion])

"""Users, login throttling, settings and connections."""

from peewee import BooleanField, CharField, DateTimeField, Model, TextField


def upgrade(db, migrator):
    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class User(Base):
        email = CharField(unique=True)
        password_hash = CharField()
        is_admin = BooleanField(default=True)
        created_at = DateTimeField()
        last_login_at = DateTimeField(null=True)

    class LoginFailure(Base):
        email = CharField(index=True)
        ip = CharField(index=True)
        at = DateTimeField(index=True)

    class Setting(Base):
        key = CharField(unique=True)
        value = TextField(null=True)
        secret = TextField(null=True)

    class Connection(Base):
        kind = CharField(index=True)
        name = CharField()
        status = CharField(default="active")
        settings = TextField(null=True)
        secrets = TextField(null=True)
        tenant_id = CharField(null=True, index=True)
        last_error = TextField(null=True)
        created_at = DateTimeField()
        updated_at = DateTimeField()

    db.create_tables([User, LoginFailure, Setting, Connection])

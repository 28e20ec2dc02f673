"""Ferry's tables (peewee). The schema itself is built by the versioned files in
migrations/; these classes describe the head of that history.

No connection is opened at import time: `db` is a proxy bound by create_app(), and each
request and job opens and closes its own connection (RQ workers fork).
"""
import json
from datetime import datetime, timezone

from peewee import (
    BooleanField, CharField, DatabaseProxy, DateTimeField, Model,
    TextField,
)

import security

db = DatabaseProxy()


def utcnow() -> datetime:
    """Naive UTC, the form both SQLite and PostgreSQL store without surprises."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


class EncryptedTextField(TextField):
    """Text encrypted with Fernet before it reaches the database."""

    def db_value(self, value):
        return None if value is None else security.encrypt(value)

    def python_value(self, value):
        return None if value is None else security.decrypt(value)


class JSONTextField(TextField):
    def db_value(self, value):
        return None if value is None else json.dumps(value, sort_keys=True)

    def python_value(self, value):
        return None if value is None else json.loads(value)


class EncryptedJSONField(EncryptedTextField):
    def db_value(self, value):
        return None if value is None else super().db_value(json.dumps(value, sort_keys=True))

    def python_value(self, value):
        return None if value is None else json.loads(super().python_value(value))


class BaseModel(Model):
    class Meta:
        database = db
        legacy_table_names = False


class User(BaseModel):
    email = CharField(unique=True)
    password_hash = CharField()
    is_admin = BooleanField(default=True)
    created_at = DateTimeField(default=utcnow)
    last_login_at = DateTimeField(null=True)


class LoginFailure(BaseModel):
    """One failed sign-in; recent rows throttle further attempts."""
    email = CharField(index=True)
    ip = CharField(index=True)
    at = DateTimeField(default=utcnow, index=True)


class Setting(BaseModel):
    """Application settings edited in the browser. Secret ones are encrypted."""
    key = CharField(unique=True)
    value = JSONTextField(null=True)
    secret = EncryptedTextField(null=True)

    @classmethod
    def get_value(cls, key: str, default=None):
        row = cls.get_or_none(cls.key == key)
        if row is None:
            return default
        return row.secret if row.secret is not None else row.value

    @classmethod
    def set_value(cls, key: str, value, *, secret: bool = False) -> None:
        fields = {"value": None, "secret": value} if secret else {"value": value, "secret": None}
        updated = cls.update(**fields).where(cls.key == key).execute()
        if not updated:
            cls.create(key=key, **fields)


class Connection(BaseModel):
    """A link to ConnectWise (one) or to a Xero organisation (one row per tenant)."""
    kind = CharField(index=True)                 # 'connectwise' | 'xero'
    name = CharField()
    status = CharField(default="active")         # active | needs_reconnect | disabled
    settings = JSONTextField(default=dict)       # non-secret settings
    secrets = EncryptedJSONField(null=True)      # keys and tokens, encrypted
    tenant_id = CharField(null=True, index=True)
    last_error = TextField(null=True)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    def save(self, *args, **kwargs):
        self.updated_at = utcnow()
        return super().save(*args, **kwargs)




# --- Xero grants (connectors/xero_oauth.py; migration 0003_xero_grants) ---------------
class XeroGrant(BaseModel):
    """One consent given in Xero: the token set shared by the organisations it covers.

    Connection rows of kind 'xero' name their grant in settings["grant_id"] and their
    Xero connection id in settings["xero_connection_id"]."""
    token = EncryptedJSONField(null=True)        # access_token, refresh_token, expires_at
    scopes = TextField(default="")
    auth_event_id = CharField(null=True)
    status = CharField(default="active")         # active | needs_reconnect | revoked
    last_error = TextField(null=True)
    refreshed_at = DateTimeField(null=True)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    def save(self, *args, **kwargs):
        self.updated_at = utcnow()
        return super().save(*args, **kwargs)

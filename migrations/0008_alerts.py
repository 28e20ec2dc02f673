"""Alerts: the outbox every e-mail goes through, and the failure incidents mailed once."""
from peewee import CharField, DateTimeField, IntegerField, Model, TextField


def upgrade(db, migrator):
    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class OutboxMail(Base):
        key = CharField(null=True, unique=True)
        kind = CharField(index=True)
        recipients = TextField()
        subject = CharField(max_length=300)
        text = TextField()
        html = TextField(null=True)
        status = CharField(default="pending", index=True)
        attempts = IntegerField(default=0)
        next_attempt_at = DateTimeField(index=True)
        claimed_at = DateTimeField(null=True)
        last_error = TextField(null=True)
        created_at = DateTimeField(index=True)
        sent_at = DateTimeField(null=True)

    class AlertIncident(Base):
        key = CharField(index=True)
        title = TextField()
        detail = TextField()
        opened_at = DateTimeField()
        resolved_at = DateTimeField(null=True, index=True)

    db.create_tables([OutboxMail, AlertIncident])

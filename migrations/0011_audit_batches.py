"""The records a batch call carried (audit_entry.record_refs), so the audit log's Record
column names them; see models.AuditEntry."""
from peewee import TextField
from playhouse.migrate import migrate


def upgrade(db, migrator):
    migrate(migrator.add_column("audit_entry", "record_refs", TextField(null=True)))

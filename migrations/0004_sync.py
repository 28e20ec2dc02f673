"""The sync engine: runs, records and their history, metering, contact links, routing
rules and the per-org mapping tables."""
from peewee import (
    CharField, DateTimeField, DecimalField, ForeignKeyField, IntegerField, Model, TextField,
)


def upgrade(db, migrator):
    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class Connection(Base):  # exists since 0001; named here for the foreign keys
        class Meta:
            table_name = "connection"

    class SyncRun(Base):
        record_type = CharField(index=True)
        trigger = CharField(default="schedule")
        status = CharField(default="running")
        started_at = DateTimeField(index=True)
        finished_at = DateTimeField(null=True)
        read = IntegerField(default=0)
        written = IntegerField(default=0)
        skipped = IntegerField(default=0)
        exceptions = IntegerField(default=0)
        cw_calls = IntegerField(default=0)
        xero_calls = IntegerField(default=0)
        message = TextField(null=True)

    class SyncRecord(Base):
        record_type = CharField()
        cw_id = IntegerField()
        cw_number = CharField(null=True, index=True)
        org = ForeignKeyField(Connection, null=True, on_delete="SET NULL")
        state = CharField(default="pending", index=True)
        xero_id = CharField(null=True)
        version_hash = CharField(null=True)
        synced_hash = CharField(null=True)
        cw_total = DecimalField(max_digits=16, decimal_places=2, null=True)
        rounding = DecimalField(max_digits=16, decimal_places=2, null=True)
        cw_updated_at = DateTimeField(null=True)
        problems = TextField(null=True)
        last_run = ForeignKeyField(SyncRun, null=True, on_delete="SET NULL")
        updated_at = DateTimeField(index=True)

        class Meta:
            indexes = ((("record_type", "cw_id"), True),)

    class RecordEvent(Base):
        record = ForeignKeyField(SyncRecord, on_delete="CASCADE")
        run = ForeignKeyField(SyncRun, null=True, on_delete="SET NULL")
        at = DateTimeField()
        kind = CharField()
        message = TextField()

    class MeteredVersion(Base):
        record_type = CharField()
        cw_id = IntegerField()
        version_hash = CharField()
        month = CharField(index=True)
        at = DateTimeField()

        class Meta:
            indexes = ((("record_type", "cw_id", "version_hash"), True),)

    class ContactLink(Base):
        org = ForeignKeyField(Connection, on_delete="CASCADE")
        cw_company_id = IntegerField()
        xero_contact_id = CharField()
        details_hash = CharField(null=True)

        class Meta:
            indexes = ((("org", "cw_company_id"), True),)

    class RoutingRule(Base):
        position = IntegerField(default=0)
        field = CharField()
        value = CharField()
        org = ForeignKeyField(Connection, on_delete="CASCADE")
        record_type = CharField(null=True)

    class AccountMapping(Base):
        org = ForeignKeyField(Connection, on_delete="CASCADE")
        cw_account = CharField()
        xero_code = CharField()

        class Meta:
            indexes = ((("org", "cw_account"), True),)

    class TaxMapping(Base):
        org = ForeignKeyField(Connection, on_delete="CASCADE")
        side = CharField()
        cw_tax_code = CharField()
        xero_tax_type = CharField()

        class Meta:
            indexes = ((("org", "side", "cw_tax_code"), True),)

    class TrackingMapping(Base):
        org = ForeignKeyField(Connection, on_delete="CASCADE")
        category = CharField()
        source = CharField()
        cw_id = IntegerField()
        option = CharField()

        class Meta:
            indexes = ((("org", "category", "cw_id"), True),)

    class ItemMapping(Base):
        org = ForeignKeyField(Connection, on_delete="CASCADE")
        cw_item = CharField()
        xero_item_code = CharField()

        class Meta:
            indexes = ((("org", "cw_item"), True),)

    class OrgRecordSetting(Base):
        org = ForeignKeyField(Connection, on_delete="CASCADE")
        record_type = CharField()
        status = CharField(default="DRAFT")
        line_amount_types = CharField(default="Exclusive")

        class Meta:
            indexes = ((("org", "record_type"), True),)

    db.create_tables([SyncRun, SyncRecord, RecordEvent, MeteredVersion, ContactLink,
                      RoutingRule, AccountMapping, TaxMapping, TrackingMapping,
                      ItemMapping, OrgRecordSetting])

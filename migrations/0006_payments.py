"""Payment back-sync: what Ferry applied in ConnectWise per invoice (the ledger) and the
Xero payments behind it."""
from peewee import (
    CharField, DateField, DateTimeField, DecimalField, ForeignKeyField, IntegerField, Model,
    TextField,
)


def upgrade(db, migrator):
    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class Connection(Base):  # exists since 0001; named here for the foreign keys
        class Meta:
            table_name = "connection"

    class PaymentLedger(Base):
        org = ForeignKeyField(Connection, null=True, on_delete="SET NULL")
        cw_invoice_id = IntegerField(unique=True)
        cw_number = CharField(null=True)
        xero_invoice_id = CharField(null=True, index=True)
        match_rule = CharField(null=True)
        cw_payment_id = IntegerField(null=True)
        applied = DecimalField(max_digits=16, decimal_places=2, default=0)
        intent = DecimalField(max_digits=16, decimal_places=2, null=True)
        intent_at = DateTimeField(null=True)
        applied_at = DateTimeField(null=True)
        xero_received = DecimalField(max_digits=16, decimal_places=2, null=True)
        currency = CharField(null=True)
        updated_at = DateTimeField()

    class XeroPaymentSeen(Base):
        org = ForeignKeyField(Connection, null=True, on_delete="CASCADE")
        xero_id = CharField()
        kind = CharField()
        xero_invoice_id = CharField(null=True, index=True)
        cw_invoice_id = IntegerField(null=True, index=True)
        date = DateField(null=True)
        amount = DecimalField(max_digits=16, decimal_places=2)
        status = CharField()
        cw_payment_id = IntegerField(null=True)
        applied_at = DateTimeField(null=True)
        seen_at = DateTimeField()
        note = TextField(null=True)

        class Meta:
            indexes = ((("org", "xero_id", "xero_invoice_id"), True),)

    db.create_tables([PaymentLedger, XeroPaymentSeen])

"""What a finance person reads about a record (customer or vendor, document date,
currency, Xero's status and amounts), and the indexes the live pages lean on."""
from peewee import CharField, DateField, DecimalField
from playhouse.migrate import migrate


def upgrade(db, migrator):
    migrate(
        migrator.add_column("sync_record", "party_name", CharField(null=True)),
        migrator.add_column("sync_record", "doc_date", DateField(null=True)),
        migrator.add_column("sync_record", "currency", CharField(max_length=3, null=True)),
        migrator.add_column("sync_record", "xero_status", CharField(null=True)),
        migrator.add_column("sync_record", "amount_due",
                            DecimalField(max_digits=16, decimal_places=2, null=True)),
        migrator.add_column("sync_record", "amount_paid",
                            DecimalField(max_digits=16, decimal_places=2, null=True)),
        migrator.add_index("sync_record", ("party_name",), False),
        migrator.add_index("sync_record", ("doc_date",), False),
        # The dashboard's "last call of this connection" and its 30-day chart.
        migrator.add_index("audit_entry", ("connection_id", "at"), False),
        migrator.add_index("metered_version", ("at",), False),
    )

"""Versioned schema migrations.

Each file `NNNN_name.py` here has `upgrade(db, migrator)`: `db` is the peewee database,
`migrator` a playhouse.migrate SchemaMigrator for it. Migrations define the tables they
create as frozen classes of their own (never importing models.py, which moves on), and
run once each, in order, inside a transaction; the names applied are kept in the table
`ferry_migration`.
"""
import importlib
import pkgutil
import re
from datetime import datetime, timezone

from peewee import CharField, DateTimeField, Model
from playhouse.migrate import SchemaMigrator

_NAME = re.compile(r"^\d{4}_\w+$")


def _ledger(db):
    class FerryMigration(Model):
        name = CharField(primary_key=True)
        applied_at = DateTimeField()

        class Meta:
            database = db
            table_name = "ferry_migration"

    return FerryMigration


def available() -> list[str]:
    names = [m.name for m in pkgutil.iter_modules(__path__) if _NAME.match(m.name)]
    return sorted(names)


def applied(db) -> list[str]:
    ledger = _ledger(db)
    if not db.table_exists("ferry_migration"):
        return []
    return [row.name for row in ledger.select().order_by(ledger.name)]


def pending(db) -> list[str]:
    done = set(applied(db))
    return [name for name in available() if name not in done]


def upgrade(db) -> list[str]:
    """Apply every pending migration; returns the names applied."""
    ledger = _ledger(db)
    db.create_tables([ledger], safe=True)
    ran = []
    for name in pending(db):
        module = importlib.import_module(f"{__name__}.{name}")
        with db.atomic():
            module.upgrade(db, SchemaMigrator.from_database(db))
            ledger.create(name=name, applied_at=datetime.now(timezone.utc).replace(tzinfo=None))
        ran.append(name)
    return ran

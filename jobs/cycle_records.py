"""What a cycle reads from ConnectWise, per record, before it is routed and mapped."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Mapping

from jobs.cycle_contacts import Company
from sync.documents import Mapped, Unmapped
from sync.routing import RoutingFacts


@dataclass
class Candidate:
    """One CW record to bring into Xero.

    `build(contact_ref, mappings)` maps it once its org and contact are known; `number`
    is what finds it in Xero (the CW invoice number, or a bill's reference marker);
    `gl_entry_ids` are what posting it in a CW accounting batch names."""
    record_type: str
    cw_id: int
    number: str
    label: str
    updated_at: datetime | None
    facts: RoutingFacts
    company: Company
    build: Callable[[Mapping, object], Mapped | Unmapped]
    apply_to_id: int | None = None
    date: str | None = None
    gl_entry_ids: list[int] = field(default_factory=list)
    currency: str | None = None      # its currency code, as CW holds it
    problem: str | None = None       # known unmappable before routing (bad CW data)
    waiting: str | None = None       # why it waits (its date has not come), a sentence


def cw_time(value: str | None) -> datetime | None:
    """CW's "2026-10-31T12:00:00Z" as naive UTC, as Ferry stores times."""
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).replace(tzinfo=None)


# Column types for PostgreSQL casts of a CASE that may hold only NULLs (PostgreSQL then
# types it text and refuses it for a timestamp or numeric column).
_PG_TYPES = {"DATETIME": "timestamp", "DECIMAL": "numeric", "INT": "integer",
             "VARCHAR": "varchar", "TEXT": "text", "DATE": "date", "BOOL": "boolean"}


def bulk_set(model, rows: list, fields) -> None:
    """Save `fields` of many rows: on SQLite one prepared UPDATE per row through
    executemany (building a CASE of 100 branches a field cost more CPU than the whole
    write); elsewhere one UPDATE per 100 rows, a value shared by every row set once and
    the others by a CASE on the id (cast on PostgreSQL, where one statement per row
    would be a round trip each). The caller holds the transaction."""
    from peewee import SqliteDatabase

    from models import db
    if not rows:
        return
    if isinstance(db.obj, SqliteDatabase):
        _bulk_set_sqlite(db, model, rows, fields)
    else:
        _bulk_set_case(db, model, rows, fields)


def _columns(model, fields) -> list[tuple]:
    """(field, the row attribute holding its raw value) for each named field."""
    from peewee import ForeignKeyField
    out = []
    for name in fields:
        field = model._meta.fields[name]
        out.append((field, field.name + "_id" if isinstance(field, ForeignKeyField)
                    else field.name))
    return out


def _bulk_set_sqlite(db, model, rows: list, fields) -> None:
    columns = _columns(model, fields)
    sets = ", ".join(f'"{field.column_name}" = ?' for field, _attr in columns)
    sql = (f'UPDATE "{model._meta.table_name}" SET {sets} '
           f'WHERE "{model._meta.primary_key.column_name}" = ?')
    # field.db_value is what peewee binds for the same value in an UPDATE it builds.
    params = [[field.db_value(getattr(r, attr)) for field, attr in columns] + [r.id]
              for r in rows]
    db.cursor().executemany(sql, params)


def _bulk_set_case(db, model, rows: list, fields) -> None:
    from peewee import Case, Cast, ForeignKeyField, PostgresqlDatabase
    postgres = isinstance(db.obj, PostgresqlDatabase)
    columns = _columns(model, fields)
    for start in range(0, len(rows), 100):
        part = rows[start:start + 100]
        update = {}
        for field, attr in columns:
            values = [getattr(r, attr) for r in part]
            if all(v == values[0] for v in values):
                update[field] = values[0]
                continue
            expr = Case(model.id, [(r.id, field.to_value(v)) for r, v in zip(part, values)])
            if postgres:
                kind = "INT" if isinstance(field, ForeignKeyField) else field.field_type
                expr = Cast(expr, _PG_TYPES.get(kind, "text"))
            update[field] = expr
        model.update(update).where(model.id.in_([r.id for r in part])).execute()

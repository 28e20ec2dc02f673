"""What a cycle reads from ConnectWise, per record, before it is routed and mapped."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
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
    total: Decimal | None = None     # CW's total, signed as the Xero document's; shown
                                     # on the pages even when it cannot be written


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
    with db.atomic():       # a savepoint when the caller holds the transaction
        db.cursor().executemany(sql, params)


def insert_rows(model, rows: list[dict], *, ignore_conflicts: bool = False) -> None:
    """`model.insert_many(rows)` (with `.on_conflict_ignore()` when asked), for rows
    keyed by field name holding plain values: on SQLite one prepared INSERT run through
    executemany, as peewee would bind it (a field missing from a row takes its default,
    or NULL), without building the SQL nodes of every value (insert_many of 1,000 rows
    cost more CPU than the write). Other databases use insert_many itself."""
    from peewee import SqliteDatabase

    from models import db
    if not rows:
        return
    if not isinstance(db.obj, SqliteDatabase):
        query = model.insert_many(rows)
        (query.on_conflict_ignore() if ignore_conflicts else query).execute()
        return
    meta = model._meta
    fields = [meta.fields[name] for name in rows[0]]
    named = set(rows[0])          # by name: a Field's == builds SQL, it does not compare
    fields += [f for f in meta.defaults if f.name not in named]
    params = [[f.db_value(_row_value(row, f, meta.defaults)) for f in fields] for row in rows]
    sql = (f'INSERT {"OR IGNORE " if ignore_conflicts else ""}INTO "{meta.table_name}" '
           f'({", ".join(chr(34) + f.column_name + chr(34) for f in fields)}) '
           f'VALUES ({", ".join("?" for _f in fields)})')
    with db.atomic():
        db.cursor().executemany(sql, params)


def _row_value(row: dict, field, defaults: dict):
    """What peewee's insert_many puts in `field` for `row`."""
    if field.name in row:
        return row[field.name]
    if field in defaults:
        default = defaults[field]
        return default() if callable(default) else default
    if field.null:
        return None
    raise ValueError(f"Missing value for {field.name}.")


def _bulk_set_case(db, model, rows: list, fields) -> None:
    from peewee import Case, Cast, ForeignKeyField, PostgresqlDatabase
    postgres = isinstance(db.obj, PostgresqlDatabase)
    columns = _columns(model, fields)
    for start in range(0, len(rows), 100):
        part = rows[start:start + 100]
        update = {}
        for column, attr in columns:
            values = [getattr(r, attr) for r in part]
            if all(v == values[0] for v in values):
                update[column] = values[0]
                continue
            expr = Case(model.id, [(r.id, column.to_value(v)) for r, v in zip(part, values)])
            if postgres:
                kind = "INT" if isinstance(column, ForeignKeyField) else column.field_type
                expr = Cast(expr, _PG_TYPES.get(kind, "text"))
            update[column] = expr
        model.update(update).where(model.id.in_([r.id for r in part])).execute()

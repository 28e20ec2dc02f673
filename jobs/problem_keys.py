"""What each exception is keyed on, stored beside its sentences (models.RecordProblem),
so the Unmapped view counts exactly and a mapping change finds the records it fixes.

The cycle calls `store` with every exception it raises; keys are the mappers' own
MissingMapping problems, or `Key`s for what the mappers never see (a contact clash, a
record no routing rule takes)."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable

from models import RecordProblem, SyncRecord


@dataclass(frozen=True)
class Key:
    kind: str
    cw_value: str
    label: str | None = None


def store(record: SyncRecord, org_id: int | None, keys: Iterable,
          total: Decimal | None = None) -> None:
    """Replace the record's keys with `keys` (Key or anything with kind and cw_value)."""
    RecordProblem.delete().where(RecordProblem.record == record.id).execute()
    rows, seen = [], set()
    for key in keys or ():
        kind, value = getattr(key, "kind", None), getattr(key, "cw_value", None)
        if not kind or value is None or (kind, str(value)) in seen:
            continue
        seen.add((kind, str(value)))
        label = getattr(key, "label", None) or None
        # NUL shown as ␀ (PostgreSQL refuses it in text), each within its column.
        rows.append({"record": record.id, "org": org_id, "kind": kind,
                     "cw_value": str(value).replace("\x00", "␀")[:255],
                     "label": label and str(label).replace("\x00", "␀")[:255],
                     "amount": total})
    if rows:
        RecordProblem.insert_many(rows).execute()


# What a mapping row of each kind fixes: the problem kind its CW value was keyed on.
PROBLEM_KIND = {"accounts": "account", "taxes": "tax type", "tracking": "tracking option",
                "routing": "routing", "contacts": "contact"}
SIDE_TYPES = {"sales": ("invoice", "credit_note"), "purchases": ("bill",)}


def open_records(kind: str, cw_values: Iterable[str] | None, org_id: int | None = None,
                 side: str | None = None) -> list[SyncRecord]:
    """Records still in exception for want of these `cw_values` (None: any value) of
    mapping `kind` in org `org_id` (None: any org), oldest first."""
    problem = PROBLEM_KIND.get(kind)
    if problem is None:
        return []
    query = (SyncRecord.select().join(RecordProblem)
             .where((SyncRecord.state == "exception") & (RecordProblem.kind == problem)))
    if cw_values is not None:
        values = [str(v) for v in cw_values]
        if not values:
            return []
        query = query.where(RecordProblem.cw_value.in_(values))
    if org_id is not None:
        query = query.where(RecordProblem.org == org_id)
    if side in SIDE_TYPES:
        query = query.where(SyncRecord.record_type.in_(SIDE_TYPES[side]))
    return list(query.distinct().order_by(SyncRecord.updated_at, SyncRecord.id))

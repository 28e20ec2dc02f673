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
        rows.append({"record": record.id, "org": org_id, "kind": kind,
                     "cw_value": str(value)[:255],
                     "label": (getattr(key, "label", None) or None),
                     "amount": total})
    if rows:
        RecordProblem.insert_many(rows).execute()

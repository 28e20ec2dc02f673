"""Why a record cannot be written: sentences a finance person can act on.

The mappers collect every problem of a record (not just the first) and write nothing;
the caller raises one exception record from the list.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MissingMapping:
    """A CW value with no Xero counterpart in this org's mapping tables."""
    kind: str            # "account", "tax type", "tracking option", "setting", "data"
    cw_value: str        # what was looked up, for grouping problems on the Mappings page
    sentence: str


@dataclass(frozen=True)
class TaxMismatch:
    """Xero would compute a total too far from CW's for rounding to explain."""
    difference: str
    sentence: str


Problem = MissingMapping | TaxMismatch

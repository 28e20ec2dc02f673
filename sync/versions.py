"""A stable fingerprint of what Ferry would write.

The same CW record mapped twice gives the same hash (a force-sync of an unchanged record
is recognised); any edit that changes the Xero payload gives a new one. Decimals are
normalised (10.5 and 10.50 are one amount), keys are sorted, and dates are ISO strings.
Hash the payload as mapped, before Xero ids (InvoiceID, LineItemID) are attached for
an update, so the version depends only on CW's data and the mapping tables.
"""
from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from decimal import Decimal

from .money import plain

VERSION_PREFIX = "v1:"


def canonical_json(payload) -> str:
    return json.dumps(_canonical(payload), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False)


def version_hash(payload) -> str:
    """"v1:" + the SHA-256 of the canonical JSON; the prefix lets a future change of the
    canonical form be told apart from an edit in CW."""
    digest = hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()
    return VERSION_PREFIX + digest


def _canonical(value):
    # Exact types first: text, whole numbers and nested dicts/lists are nearly all of a
    # payload, and answering them before the isinstance tests below halves the cost.
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is dict:
        return {str(key): item if type(item) is str else _canonical(item)
                for key, item in value.items()}
    if kind is list:
        return [item if type(item) is str else _canonical(item) for item in value]
    return _canonical_other(value)


def _canonical_other(value):
    if isinstance(value, Decimal):
        return {"$decimal": format(plain(value), "f")}
    if isinstance(value, float):
        raise TypeError("payloads carry Decimal amounts, never float")
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(key): _canonical(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(item) for item in value]
    return value

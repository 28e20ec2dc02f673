"""Xero's date forms: `/Date(1700000000000+0000)/` out, several forms accepted in.

Xero writes document dates (Date, DueDate) as midnight UTC in the Microsoft JSON form and
timestamps (UpdatedDateUTC) with milliseconds. It accepts `2026-10-31`,
`2026-10-31T00:00:00`, an offset ISO datetime or the `/Date(...)/` form on the way in.
"""
from __future__ import annotations

import re
from datetime import date, datetime, time, timezone
from email.utils import parsedate_to_datetime

_MS_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")


def ms_date(value: date | datetime) -> str:
    """`/Date(ms+0000)/` for a date (midnight UTC) or an aware datetime."""
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(0), tzinfo=timezone.utc)
    millis = int(value.timestamp() * 1000)
    return f"/Date({millis}+0000)/"


def iso_string(value: date | datetime) -> str:
    """Xero's companion `...String` fields: `2026-10-31T00:00:00` / `...Z` for UTC stamps."""
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value.strftime("%Y-%m-%dT00:00:00")


def parse_date(raw) -> date | None:
    """A document date from what a client sends; None when it is not a date."""
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str):
        return None
    found = _MS_DATE.match(raw.strip())
    if found:
        return datetime.fromtimestamp(int(found.group(1)) / 1000, timezone.utc).date()
    try:
        return datetime.fromisoformat(raw.strip()).date()
    except ValueError:
        return None


def parse_timestamp(raw: str | None) -> datetime | None:
    """An aware datetime from an If-Modified-Since header or a where DateTime literal.

    Accepts ISO 8601 (naive means UTC, as Xero reads it), the HTTP date form and
    `/Date(...)/`."""
    if not raw:
        return None
    raw = raw.strip()
    found = _MS_DATE.match(raw)
    if found:
        return datetime.fromtimestamp(int(found.group(1)) / 1000, timezone.utc)
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed

"""Builds ConnectWise `conditions=` strings, so no caller pastes values into a filter.

    and_(gt("_info/lastUpdated", watermark), eq("company/identifier", 'O"Brien & Co'))
    -> '_info/lastUpdated > [2026-01-01T00:00:00Z] and company/identifier = "O\\"Brien & Co"'

Strings go in double quotes with `\\` before an embedded `"` or `\\` (the escaping CW's
parser accepts and the sandbox's parser checks); datetimes in brackets, in UTC; numbers as
written; booleans and null as words. `split_in()` cuts a long `id in (...)` into several
conditions so that each request URL stays under the ~2,000 characters CW's servers take.
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Iterable, Iterator
from urllib.parse import quote

OPERATORS = {"=", "!=", "<", "<=", ">", ">="}

# Characters of the encoded `conditions` value one request may spend; the rest of a
# 2,000-character URL is left for the host, codebase, path and the other parameters.
CONDITIONS_BUDGET = 1500


def literal(value) -> str:
    """`value` written as a CW conditions literal."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, Decimal)):
        return format(value, "f") if isinstance(value, Decimal) else str(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return "[" + value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") + "]"
    if isinstance(value, date):
        return f"[{value.isoformat()}T00:00:00Z]"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    raise TypeError(f"cannot write {type(value).__name__} in ConnectWise conditions")


def compare(field: str, op: str, value) -> str:
    if op not in OPERATORS:
        raise ValueError(f"unknown operator {op!r}")
    return f"{field} {op} {literal(value)}"


def eq(field: str, value) -> str:
    return compare(field, "=", value)


def ne(field: str, value) -> str:
    return compare(field, "!=", value)


def gt(field: str, value) -> str:
    return compare(field, ">", value)


def ge(field: str, value) -> str:
    return compare(field, ">=", value)


def lt(field: str, value) -> str:
    return compare(field, "<", value)


def le(field: str, value) -> str:
    return compare(field, "<=", value)


def contains(field: str, text: str) -> str:
    return f"{field} contains {literal(text)}"


def like(field: str, pattern: str) -> str:
    """`pattern` uses CW's wildcard `*` (or `%`)."""
    return f"{field} like {literal(pattern)}"


def in_(field: str, values: Iterable) -> str:
    items = [literal(v) for v in values]
    if not items:
        raise ValueError(f"an 'in' list for {field} needs at least one value")
    return f"{field} in ({', '.join(items)})"


def _join(word: str, parts: Iterable[str | None]) -> str | None:
    kept = [p for p in parts if p]
    if not kept:
        return None
    if len(kept) == 1:
        return kept[0]
    return f" {word} ".join(f"({p})" for p in kept)


def and_(*parts: str | None) -> str | None:
    """Both (all) conditions; empty parts are skipped, None when nothing is left."""
    return _join("and", parts)


def or_(*parts: str | None) -> str | None:
    return _join("or", parts)


def encoded_length(conditions: str) -> int:
    """Characters the conditions take in a URL once percent-encoded (worst case)."""
    return len(quote(conditions, safe=""))


def split_in(field: str, values: Iterable, *, also: str | None = None,
             budget: int = CONDITIONS_BUDGET) -> Iterator[str]:
    """Conditions for `field in (values)`, as many as it takes for each one (and-ed with
    `also`, if given) to stay within `budget` encoded characters."""
    fixed = encoded_length(and_(also, f"{field} in ()") or "")
    chunk: list[str] = []
    used = fixed
    for value in values:
        item = literal(value)
        cost = encoded_length(item) + (encoded_length(", ") if chunk else 0)
        if chunk and used + cost > budget:
            yield and_(also, f"{field} in ({', '.join(chunk)})")
            chunk, used = [], fixed
            cost = encoded_length(item)
        if fixed + cost > budget:
            raise ValueError(f"one value for {field} is longer than the URL allows")
        chunk.append(item)
        used += cost
    if chunk:
        yield and_(also, f"{field} in ({', '.join(chunk)})")

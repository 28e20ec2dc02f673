"""List endpoints the way CW serves them: conditions, orderBy, fields, page/pageSize,
the `Link` header, forward-only paging (`pagination-type: forward-only` + `pageId`) and
the `/count` twin of every list."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlencode

from . import conditions as cond

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 1000


class ListError(ValueError):
    """A list request CW answers with 400; `field` is the parameter or field at fault."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass
class Page:
    items: list[dict]
    links: str | None


def _int_arg(args, name: str, default: int, low: int) -> int:
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ListError(f"{name} must be a whole number, not {raw!r}", name) from None
    if value < low:
        raise ListError(f"{name} must be at least {low}", name)
    return value


def filter_records(records: list[dict], args, paths: dict) -> list[dict]:
    text = args.get("conditions")
    if not text:
        return records
    try:
        predicate = cond.compile(text, paths)
        return [r for r in records if predicate(r)]
    except cond.ConditionsError as exc:
        raise ListError(exc.message, exc.field or "conditions") from None


def _sort_key(value):
    # None sorts first (SQL Server's NULL ordering); strings fold case like CW.
    if value is None:
        return (0, "")
    if isinstance(value, str):
        return (1, value.casefold())
    if isinstance(value, bool):
        return (2, int(value))
    return (2, Decimal(value))


def order(records: list[dict], text: str | None, paths: dict) -> list[dict]:
    if not text:
        return sorted(records, key=lambda r: r.get("id", 0))
    keys = []
    for part in text.split(","):
        words = part.split()
        if not words or len(words) > 2 or (len(words) == 2 and
                                           words[1].lower() not in ("asc", "desc")):
            raise ListError(f"orderBy '{part.strip()}' is not 'field asc|desc'", "orderBy")
        parts = paths.get(words[0].lower())
        if parts is None:
            raise ListError(f"Unknown field '{words[0]}' in orderBy", words[0])
        keys.append((parts, len(words) == 2 and words[1].lower() == "desc"))
    out = sorted(records, key=lambda r: r.get("id", 0))
    for parts, desc in reversed(keys):
        def key(record, parts=parts):
            value = record
            for p in parts:
                value = value.get(p) if isinstance(value, dict) else None
            return _sort_key(value)
        out.sort(key=key, reverse=desc)
    return out


def pick_fields(record: dict, spec: list[tuple[str, ...]]) -> dict:
    out: dict = {}
    for parts in spec:
        src, dst = record, out
        for i, part in enumerate(parts):
            if not isinstance(src, dict) or part not in src:
                break
            if i == len(parts) - 1:
                dst[part] = src[part]
            else:
                src = src[part]
                dst = dst.setdefault(part, {})
    return out


def _fields_spec(text: str, records: list[dict], paths: dict) -> list[tuple[str, ...]]:
    top = {k.lower(): k for r in records[:1] for k in r}
    spec = []
    for raw in text.split(","):
        name = raw.strip()
        if not name:
            continue
        parts = paths.get(name.lower())
        if parts is None and "/" not in name and name.lower() in top:
            parts = (top[name.lower()],)      # a whole nested object, e.g. fields=company
        if parts is None:
            parts = tuple(name.split("/"))     # CW ignores fields it does not know
        spec.append(parts)
    return spec


def page(records: list[dict], args, headers, base_url: str, paths: dict) -> Page:
    """Filter, order, slice and link one page of `records`."""
    size = _int_arg(args, "pageSize", DEFAULT_PAGE_SIZE, 1)
    if size > MAX_PAGE_SIZE:
        size = MAX_PAGE_SIZE
    rows = filter_records(records, args, paths)
    forward = headers.get("pagination-type", "").lower() == "forward-only"
    keep = {k: v for k, v in args.items(multi=False)
            if k not in ("page", "pageId", "pageSize")}

    def link(**extra) -> str:
        query = urlencode({**keep, "pageSize": size, **extra})
        return f"{base_url}?{query}"

    if forward:
        if args.get("orderBy"):
            raise ListError("orderBy cannot be used with forward-only pagination", "orderBy")
        after = _int_arg(args, "pageId", 0, 0)
        rows = sorted((r for r in rows if r.get("id", 0) > after), key=lambda r: r["id"])
        items = rows[:size]
        links = None
        if len(rows) > size:
            links = f'<{link(pageId=items[-1]["id"])}>; rel="next"'
        return Page(_project(items, args, paths), links)

    number = _int_arg(args, "page", 1, 1)
    rows = order(rows, args.get("orderBy"), paths)
    last = max(1, -(-len(rows) // size))
    items = rows[(number - 1) * size:number * size]
    parts = []
    if number > 1:
        parts.append(f'<{link(page=1)}>; rel="first"')
        parts.append(f'<{link(page=min(number - 1, last))}>; rel="prev"')
    if number < last:
        parts.append(f'<{link(page=number + 1)}>; rel="next"')
        parts.append(f'<{link(page=last)}>; rel="last"')
    return Page(_project(items, args, paths), ", ".join(parts) or None)


def _project(items: list[dict], args, paths: dict) -> list[dict]:
    text = args.get("fields")
    if not text:
        return items
    spec = _fields_spec(text, items, paths)
    return [pick_fields(r, spec) for r in items]


def count(records: list[dict], args, paths: dict) -> dict:
    return {"count": len(filter_records(records, args, paths))}

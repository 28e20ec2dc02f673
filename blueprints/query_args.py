"""Numbers and dates read from an address or a form, checked before they reach a query.

Both databases stop at 2**63 - 1: SQLite cannot even be handed a larger Python int
(OverflowError) and PostgreSQL's OFFSET and bigint columns refuse one ("bigint out of
range"); the day after 9999-12-31 is no date at all. Without these checks such input
was a 500 (issue 20). So:
- a path id (`<int:...>` in every route) beyond MAX_ID is no page: 404 (IdConverter,
  installed as Flask's `int` converter);
- a page number is clamped to 1..MAX_PAGE (a page past the end is simply empty);
- an id in a query string or form is a whole number of ASCII digits up to MAX_ID, or
  it is ignored ("²" is a digit to str.isdigit() that int() refuses);
- a date range ends at the end of its last day, or is open when that day is the last
  one there is.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

from werkzeug.routing import IntegerConverter

MAX_ID = 2 ** 63 - 1
# 10**6 pages of a hundred rows: past any table Ferry keeps, and far inside a bigint.
MAX_PAGE = 1_000_000


def whole_number(text, maximum: int = MAX_ID) -> int | None:
    """`text` as a whole number from 0 to `maximum`, or None."""
    text = (text or "").strip() if isinstance(text, str) else ""
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(maximum)):
        return None
    value = int(text)
    return value if value <= maximum else None


def whole_numbers(values, maximum: int = MAX_ID) -> list[int]:
    """The whole numbers among `values` (a form's ticked ids), the others left out."""
    found = (whole_number(v, maximum) for v in values)
    return [v for v in found if v is not None]


def page_number(args, name: str = "page") -> int:
    """The page asked for, from 1 to MAX_PAGE (anything else is page 1, or the last
    page there can be)."""
    raw = (args.get(name) or "").strip()
    if raw.isascii() and raw.isdigit():
        return max(1, min(int(raw) if len(raw) <= 7 else MAX_PAGE, MAX_PAGE))
    return 1


def start_of(day: date | None) -> datetime | None:
    return datetime.combine(day, time.min) if day else None


def end_of(day: date | None) -> datetime | None:
    """The moment after `day` (a range's exclusive end); None when `day` is the last
    day a date can be (the range then has no end)."""
    if day is None or day == date.max:
        return None
    return datetime.combine(day + timedelta(days=1), time.min)


class IdConverter(IntegerConverter):
    """`<int:...>` that matches only ids both databases can hold; a larger number is
    no page (404), as an id that was never given out."""

    def __init__(self, map, fixed_digits=0, min=None, max=None, signed=False):
        super().__init__(map, fixed_digits=fixed_digits, min=min,
                         max=MAX_ID if max is None else max, signed=signed)


def install(app) -> None:
    """Make IdConverter the app's `int` converter (before any route is added)."""
    app.url_map.converters["int"] = IdConverter


class Pager:
    """One page of a list: which page (clamped to the last), how many pages, and the
    rows it holds (`rows(query)`). The pages link to each other with the list's
    filters kept (templates/_pager.html)."""

    def __init__(self, page: int, size: int, total: int):
        self.size, self.total = size, total
        self.pages = max(1, -(-total // size))
        self.page = max(1, min(page, self.pages))

    @property
    def first(self) -> int:
        return (self.page - 1) * self.size + 1 if self.total else 0

    @property
    def last(self) -> int:
        return min(self.page * self.size, self.total)

    def rows(self, query) -> list:
        return list(query.paginate(self.page, self.size))

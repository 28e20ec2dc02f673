"""One clock for the pages and the mails: Ferry stores naive UTC; people read it in the
installation's display time zone, always with the zone's abbreviation ("21:38 ACDT"),
so no time is shown that could be taken for another zone's. Pure functions: which zone
is the display zone is read elsewhere (jobs/display_zone.py)."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

DEFAULT_ZONE = "UTC"
FORMATS = {"minute": "%Y-%m-%d %H:%M", "second": "%Y-%m-%d %H:%M:%S",
           "short": "%d %b %H:%M", "time": "%H:%M", "day": "%d %b %Y"}


def zone(name: str | None) -> ZoneInfo:
    """The zone of that IANA name; UTC when the name is empty or unknown."""
    try:
        return ZoneInfo(name or DEFAULT_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_ZONE)


def is_zone(name: str) -> bool:
    return name in zone_names()


_NAMES: list[str] = []


def zone_names() -> list[str]:
    """Every IANA zone name this machine knows, sorted (the settings' choice list)."""
    if not _NAMES:
        _NAMES.extend(sorted(n for n in available_timezones()
                             if "/" in n or n == "UTC"))
    return _NAMES


def local(moment: datetime, name: str | None) -> datetime:
    """A stored time (naive UTC, or aware) in the display zone."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(zone(name))


def show(moment: datetime | date | None, name: str | None, form: str = "minute") -> str:
    """`moment` as people read it: in the display zone, with the zone's abbreviation
    ("2026-11-21 21:38 ACDT"). `form` is one of FORMATS or a strftime pattern. A plain
    date (a document's own date) has no zone and is shown as it is."""
    if moment is None:
        return ""
    pattern = FORMATS.get(form, form)
    if isinstance(moment, str):         # an aggregate SQLite hands back as text
        try:
            moment = datetime.fromisoformat(moment)
        except ValueError:
            return moment
    if not isinstance(moment, datetime):
        return moment.strftime(FORMATS["day"] if form in FORMATS else pattern)
    here = local(moment, name)
    text = here.strftime(pattern)
    if "%H" in pattern or "%I" in pattern:
        text += " " + abbreviation(here)
    return text


def abbreviation(here: datetime) -> str:
    """The zone's abbreviation at that moment (ACDT, AEST, UTC); zones without a letter
    abbreviation in the tz database give their offset (+0530), made "UTC+05:30"."""
    name = here.tzname() or ""
    if name and (name[0] in "+-"):
        offset = here.utcoffset() or timedelta(0)
        minutes = int(offset.total_seconds() // 60)
        sign = "+" if minutes >= 0 else "-"
        return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    return name


def day_bounds(day: date, name: str | None = None) -> tuple[datetime, datetime]:
    """The stored (naive UTC) start and end of that day in the display zone, for filters
    ("raised on 21 Nov" means 21 Nov where the reader is)."""
    tz = zone(name)
    start = datetime.combine(day, time(0), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    return (start.astimezone(timezone.utc).replace(tzinfo=None),
            end.astimezone(timezone.utc).replace(tzinfo=None))

"""What the alert e-mails say and when they go: pure decisions, no I/O.

jobs/alerts.py and jobs/digest.py gather the facts (runs, records, incidents) and the
settings, call these functions, render templates/mail/ with what they return and put
the mail in the outbox.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

RECORD_TYPES = ("invoice", "credit_note", "bill", "payment")
ONE = {"invoice": "Invoice", "credit_note": "Credit note", "bill": "Bill",
       "payment": "Payment"}
MANY = {"invoice": "Invoices", "credit_note": "Credit notes", "bill": "Bills",
        "payment": "Payments"}
FORCEABLE = ("invoice", "credit_note", "bill")
MODES = {"immediate": "Immediately (one e-mail per cycle), and in the digest",
         "digest": "In the daily digest only"}
DEFAULT_MODE = "digest"
DEFAULT_DIGEST_TIME = "07:00"
DEFAULT_TIMEZONE = "UTC"
DEFAULT_FAILURES_IN_A_ROW = 3
MAX_DIGEST_WINDOW = timedelta(days=7)


# -- settings values -------------------------------------------------------------------
def parse_time_of_day(raw: str) -> time | None:
    """"7:30" or "07:30" -> time(7, 30); anything else -> None."""
    hours, sep, minutes = (raw or "").strip().partition(":")
    if not sep or not hours.isdigit() or not minutes.isdigit() or len(minutes) != 2:
        return None
    if not (0 <= int(hours) <= 23 and 0 <= int(minutes) <= 59):
        return None
    return time(int(hours), int(minutes))


# The longest IANA name is 32 characters (America/Argentina/ComodRivadavia).
ZONE_NAME_LENGTH = 64


def zone(name: str) -> ZoneInfo | None:
    """The timezone named so, or None. A name too long for a file name made ZoneInfo
    raise OSError (a 500 in Settings → Alerts): no timezone is that long."""
    name = (name or "").strip()
    if not name or len(name) > ZONE_NAME_LENGTH or "\x00" in name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def parse_recipients(raw: str) -> tuple[list[str], list[str]]:
    """Addresses separated by commas, semicolons or lines -> (good, bad)."""
    good, bad = [], []
    for part in (raw or "").replace(";", ",").replace("\n", ",").split(","):
        address = part.strip()
        if not address:
            continue
        local, at, domain = address.rpartition("@")
        if at and local and "." in domain and not domain.startswith(".") \
                and not domain.endswith(".") and not any(c.isspace() for c in address):
            if address.lower() not in (g.lower() for g in good):
                good.append(address)
        else:
            bad.append(address)
    return good, bad


# -- values from elsewhere, on one line ------------------------------------------------
# Line breaks of every kind (CR, LF, VT, FF, NEL, the Unicode separators) and the other
# control characters: a value from ConnectWise or Xero holding one could start a line
# of its own in a mail's text, or break its subject.
_BREAKS = re.compile(r"\s*[\x00-\x1f\x7f-\x9f\u2028\u2029][\s\x00-\x1f\x7f-\x9f]*")


def one_line(value):
    """`value` (a number, a name, a sentence from an API) on one line: each run of line
    breaks and control characters (with the spaces around it) becomes one space. Anything not text is left as is."""
    if not isinstance(value, str):
        return value
    return _BREAKS.sub(" ", value).strip()


# -- the immediate exception mail ----------------------------------------------------------
@dataclass
class ExceptionItem:
    record_id: int
    record_type: str
    cw_id: int
    number: str | None
    org_id: int | None
    org_name: str | None
    problems: list[str]
    since: datetime | None = None
    links: dict = field(default_factory=dict)
    todo: str = ""
    run_id: int | None = None         # the run that last held it back
    fix_path: str | None = None       # the mapping row that fixes it, as Exceptions opens it
    party: str | None = None          # the customer (the supplier of a bill)
    total: Decimal | None = None      # the ConnectWise document's total
    currency: str | None = None

    def __post_init__(self):
        # What ConnectWise and Xero gave goes into a mail: one line each.
        self.number, self.org_name, self.party, self.currency = map(
            one_line, (self.number, self.org_name, self.party, self.currency))
        self.problems = [one_line(p) for p in self.problems]

    @property
    def label(self) -> str:
        return f"{ONE.get(self.record_type, self.record_type)} {self.number or self.cw_id}"

    @property
    def who(self) -> str:
        """"Customer: Acme Pty Ltd; total 1,234.50 AUD" (what the record has of it), so a
        person knows which document it is without opening it."""
        said = []
        if self.party:
            said.append(f"{'Supplier' if self.record_type == 'bill' else 'Customer'}: "
                        f"{self.party}")
        if self.total is not None:
            amount = f"{self.total:,.2f}" + (f" {self.currency}" if self.currency else "")
            said.append(f"{'total' if said else 'Total'} {amount}")
        return "; ".join(said)

    @property
    def ref(self) -> str:
        return f"{self.record_type}:{self.cw_id}"


def links(base_url: str, item: ExceptionItem) -> dict[str, str]:
    """Where a person fixes it: the record, the mapping row that fixes it, the calls of
    the run that held it back (a held-back record is never sent, so it has no calls of
    its own), and the page that asks them to confirm a force-sync (a link must never
    change anything itself)."""
    base = base_url.rstrip("/")
    return {
        "record": f"{base}/records/{item.record_id}",
        "mappings": f"{base}{item.fix_path}" if item.fix_path else f"{base}/mappings/",
        "audit": f"{base}/audit/?" + urlencode({"run": item.run_id} if item.run_id
                                                else {"q": item.ref}),
        # Payments flow from Xero to ConnectWise: there is no force-sync of one.
        "force": (f"{base}/force-sync?" + urlencode({"record": item.ref})
                  if item.record_type in FORCEABLE else None),
    }


def what_to_do(item: ExceptionItem) -> str:
    """One sentence: the usual fix for the kind of problem the record has."""
    text = " ".join(item.problems)
    org = item.org_name or "its Xero organisation"
    if "No Xero account" in text or "No Xero tax type" in text or \
            "tracking" in text.lower() or "No Xero item" in text:
        return (f"Add the missing mapping for {org} under Mappings, then force-sync the "
                "record (or wait for the next cycle).")
    if "already exists in org" in text or "was not merged" in text:
        return ("Link the ConnectWise company to the Xero contact that holds the name, or "
                "rename one of them, then force-sync the record.")
    if "no routing rule" in text.lower() or "not routed" in text.lower() or \
            "organisation" in text.lower() and item.org_id is None:
        return "Add a routing rule (or a default organisation) under Mappings, then force-sync."
    if "enable" in text.lower() and "currency" in text.lower():
        return f"Enable the currency in {org} (Xero → Settings → Currencies), then force-sync."
    if "paid" in text.lower() or "voided" in text.lower() or "deleted" in text.lower():
        return ("Xero no longer allows the change: make it in Xero by hand, or credit the "
                "document in ConnectWise. Ferry leaves the Xero document as it is.")
    return "Fix what it says, then force-sync the record (or wait for the next cycle)."


def exceptions_mail(record_type: str, run_id: int, items: list[ExceptionItem],
                    base_url: str) -> dict | None:
    """The one mail of a cycle's new exceptions (None when there are none)."""
    if not items:
        return None
    for item in items:
        item.links = links(base_url, item)
        item.todo = what_to_do(item)
    count = len(items)
    noun = MANY[record_type].lower() if count > 1 else ONE[record_type].lower()
    subject = (f"Ferry: {count} {noun} could not be written to Xero"
               if count > 1 else f"Ferry: {items[0].label} could not be written to Xero")
    return {"subject": subject, "record_type": record_type, "label": MANY[record_type],
            "run_id": run_id, "run_link": f"{base_url.rstrip('/')}/runs/{run_id}",
            "items": items, "exceptions_link": f"{base_url.rstrip('/')}/exceptions/?"
            + urlencode({"type": record_type})}


# -- failure incidents ------------------------------------------------------------------
@dataclass(frozen=True)
class Condition:
    """Something wrong now: `key` stays the same for as long as it lasts."""
    key: str
    title: str
    detail: str


def incident_changes(now_failing: list[Condition], open_keys: set[str]
                     ) -> tuple[list[Condition], set[str]]:
    """(conditions to open an incident for, open incident keys that have cleared).
    An incident still failing is neither opened again nor resolved: once per incident."""
    failing = {c.key: c for c in now_failing}
    to_open = [c for key, c in failing.items() if key not in open_keys]
    cleared = {key for key in open_keys if key not in failing}
    return to_open, cleared


def first_sentence(message: str) -> str:
    """What failed, without the advice for one failed cycle that may follow it ("This is
    usually brief; ..."): an alert for N in a row gives its own."""
    found = re.match(r"(.+?[.!?])\s+(?=[A-Z“\"])", message.strip(), re.S)
    return found.group(1) if found else message.strip()


def failing_in_a_row(statuses_newest_first: list[str], n: int) -> bool:
    """The last `n` finished cycles of a type all failed or stopped."""
    last = statuses_newest_first[:n]
    return n > 0 and len(last) == n and all(s in ("failed", "stopped") for s in last)


def incident_mail(title: str, detail: str, base_url: str, *, resolved: bool = False,
                  opened_at: datetime | None = None) -> dict:
    base = base_url.rstrip("/")
    title, detail = one_line(title), one_line(detail)
    subject = f"Ferry resolved: {title}" if resolved else f"Ferry needs attention: {title}"
    return {"subject": subject[:290], "title": title, "detail": detail,
            "resolved": resolved, "opened_at": opened_at,
            "settings_link": f"{base}/settings/", "runs_link": f"{base}/runs/",
            "health_link": f"{base}/healthz"}


# -- the daily digest -------------------------------------------------------------------
def digest_due(now_utc: datetime, at: time, tz: ZoneInfo) -> date | None:
    """The local date, once the local clock has passed today's digest time; None
    before that time of day."""
    local = in_zone(now_utc, tz)
    if (local.hour, local.minute) < (at.hour, at.minute):
        return None
    return local.date()


def digest_window(now_utc: datetime, covered_until: datetime | None
                  ) -> tuple[datetime, datetime]:
    """(start, end) of a digest built at `now_utc`, naive UTC: from where the previous
    digest stopped (so no cycle is in two digests, none in neither) up to now, or the
    last 24 hours when there was none (or it is more than a week old, or later than
    now). Ending now, not at the digest time: a digest built late (Ferry started after
    its time) counts the cycles its open exceptions came from."""
    if covered_until is not None and now_utc - MAX_DIGEST_WINDOW <= covered_until < now_utc:
        return covered_until, now_utc
    return now_utc - timedelta(hours=24), now_utc


def in_zone(at: datetime, tz: ZoneInfo) -> datetime:
    """A naive UTC time (as the database keeps them) on the clock of `tz`."""
    aware = at.replace(tzinfo=ZoneInfo("UTC")) if at.tzinfo is None else at
    return aware.astimezone(tz)


@dataclass
class CycleLine:
    """One record type in one org over the digest's day."""
    org: str
    written: int = 0
    updated: int = 0
    raised: int = 0
    resolved: int = 0

    def __post_init__(self):
        self.org = one_line(self.org)      # an organisation's name as Xero gave it


@dataclass
class TypeDay:
    """One record type over the digest's day: its cycles, and a line per org."""
    record_type: str
    cycles: int = 0
    unfinished: int = 0
    applied: int = 0               # payments applied in ConnectWise (payment cycles)
    orgs: list[CycleLine] = field(default_factory=list)

    @property
    def label(self) -> str:
        return MANY.get(self.record_type, self.record_type)


def digest_mail(day: date, tz_name: str, types: list[TypeDay], open_items: list[ExceptionItem],
                budget: list[dict], metered: list[dict], month: str, base_url: str, *,
                start: datetime, end: datetime, more_open: int = 0,
                drift: list[dict] | None = None) -> dict:
    """The digest's content: the window [start, end) per record type and org, open
    exceptions oldest first, the Xero calls used per org in the window, the records
    metered this month; `drift`, what the latest reconciliations found differing ("3
    invoices differ in Adelaide for November 2026"). Every time shown is on the clock of
    `tz_name`."""
    base = base_url.rstrip("/")
    tz = zone(tz_name) or ZoneInfo("UTC")
    for item in open_items:
        item.links = links(base, item)
        item.todo = what_to_do(item)
    open_items = sorted(open_items, key=lambda i: (i.since or datetime.min, i.record_id))
    for item in open_items:
        item.since = in_zone(item.since, tz) if item.since else None
    types = sorted(types, key=lambda t: RECORD_TYPES.index(t.record_type)
                   if t.record_type in RECORD_TYPES else 99)
    for t in types:
        t.orgs.sort(key=lambda line: line.org)
    written = sum(line.written for t in types for line in t.orgs)
    updated = sum(line.updated for t in types for line in t.orgs)
    total_open = len(open_items) + more_open
    subject = (f"Ferry daily digest {day.isoformat()}: {written} written, {updated} updated, "
               f"{total_open} open exception{'s' if total_open != 1 else ''}")
    return {"subject": subject, "day": day, "tz": tz_name, "types": types,
            "start": in_zone(start, tz), "end": in_zone(end, tz),
            "open_items": open_items, "more_open": more_open, "total_open": total_open,
            "budget": budget, "metered": metered, "month": month, "base_url": base,
            "exceptions_link": f"{base}/exceptions/", "one": ONE, "many": MANY,
            "drift": [{**d, "link": f"{base}/reports/reconciliation/{d['report_id']}"}
                      for d in drift or []]}

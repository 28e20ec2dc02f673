"""Each Xero org's reference data, cached in the database (XeroReference).

Tax rates, accounts, tracking categories (with their options), currencies and the
organisation change rarely, yet the mapping screens and every cycle need them; read
from Xero each time they cost an idle cycle its quota. They are read again when it can
matter:
- when older than a day (`MAX_AGE`);
- on a mapping change or "refresh choices": `invalidate(org_id, kind=None)`;
- when Xero refuses a document for a reference reason (`refused_for_reference`): an
  account, tax rate, tracking option or currency that is gone or archived in Xero.

`invalidate` also moves the reference generation on, so records left in exception are
tried again by the next cycle (what was refused may now map).
"""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from connectors.jsontext import decode_json_text, encode_json
from models import Setting, XeroReference, db, utcnow

MAX_AGE = timedelta(days=1)
KINDS = ("tax_rates", "accounts", "tracking_categories", "currencies", "organisation")
GENERATION = "sync.reference_generation"

# XeroClient method per kind; the organisation is one dict, the others lists.
_FETCH = {"tax_rates": "tax_rates", "accounts": "accounts",
          "tracking_categories": "tracking_categories", "currencies": "currencies",
          "organisation": "organisation"}

# Words in a Xero validation message that point at reference data Ferry cached. From
# Xero's own messages, e.g. "Account code '200' is not a valid code for this document.",
# "The TaxType code 'OUTPUT' does not exist or cannot be used for this type of
# transaction.", "Tracking option ... is archived", "Currency code ... is not valid".
_REFERENCE_WORDS = ("account code", "accountcode", "taxtype", "tax type", "tax rate",
                    "tracking", "currency")


def get(client, org_id: int, kind: str, *, max_age: timedelta = MAX_AGE,
        now: datetime | None = None):
    """The cached data of `kind` for the org, read from Xero (through `client`) when
    missing or older than `max_age`. `client` may be a zero-argument callable returning
    the client, so a cycle opens Xero only when the cache cannot answer."""
    if kind not in KINDS:
        raise ValueError(f"kind is one of {', '.join(KINDS)}")
    now = now or utcnow()
    row = XeroReference.get_or_none((XeroReference.org == org_id) &
                                    (XeroReference.kind == kind))
    if row is not None and now - row.fetched_at < max_age:
        return decode_json_text(row.data)
    if callable(client) and not hasattr(client, _FETCH[kind]):
        client = client()
    data = getattr(client, _FETCH[kind])()
    store(org_id, kind, data, now)
    return decode_json_text(encode_json(data))


def store(org_id: int, kind: str, data, now: datetime | None = None) -> None:
    """Keep Xero's answer; when it differs from what was cached, exceptions deserve
    another try (the generation moves on)."""
    text = encode_json(data)
    at = now or utcnow()
    old = XeroReference.get_or_none((XeroReference.org == org_id) &
                                    (XeroReference.kind == kind))
    if old is not None and old.data != text:
        bump_generation()
    with db.atomic():
        updated = XeroReference.update(data=text, fetched_at=at).where(
            (XeroReference.org == org_id) & (XeroReference.kind == kind)).execute()
        if not updated:
            XeroReference.insert(org=org_id, kind=kind, data=text, fetched_at=at
                                 ).on_conflict_ignore().execute()


def invalidate(org_id: int | None, kind: str | None = None) -> int:
    """Forget the org's cached data (one kind, or all; every org when `org_id` is None):
    the next reader fetches it again. Records in exception are retried by the next
    cycle. Returns the number of cached lists dropped."""
    query = XeroReference.delete()
    conditions = []
    if org_id is not None:
        conditions.append(XeroReference.org == org_id)
    if kind is not None:
        conditions.append(XeroReference.kind == kind)
    for condition in conditions:
        query = query.where(condition)
    dropped = query.execute()
    bump_generation()
    return dropped


def bump_generation() -> None:
    """A mapping or reference change: exceptions deserve another try."""
    Setting.set_value(GENERATION, generation() + 1)


def generation() -> int:
    try:
        return int(Setting.get_value(GENERATION, 0) or 0)
    except (TypeError, ValueError):
        return 0


# Problem keys (jobs/problem_keys.py) that come from cached reference data: an
# exception keyed so may be fixed in Xero alone (a currency enabled, a tax rate added).
KEY_KINDS = {"currency": "currencies", "tax rate": "tax_rates", "account": "accounts",
             "tracking option": "tracking_categories"}
_STALE = datetime(1970, 1, 1)


def mark_stale(org_id: int, kind: str) -> None:
    """Read this kind again at the next cycle's start (data kept until then)."""
    XeroReference.update(fetched_at=_STALE).where(
        (XeroReference.org == org_id) & (XeroReference.kind == kind)).execute()


def refresh_due(open_client, now: datetime | None = None) -> int:
    """Read again every cached kind older than a day (or marked stale), org by org;
    `open_client(org_id)` gives a client. A change moves the generation on, so the
    cycle retries its exceptions. Returns the number of kinds read."""
    now = now or utcnow()
    due: dict[int, list[str]] = {}
    for row in XeroReference.select(XeroReference.org, XeroReference.kind).where(
            XeroReference.fetched_at < now - MAX_AGE):
        due.setdefault(row.org_id, []).append(row.kind)
    read = 0
    for org_id, kinds in due.items():
        client = open_client(org_id)
        if client is None:
            continue
        for kind in kinds:
            get(client, org_id, kind, now=now)
            read += 1
    return read


def fetched_at(org_id: int, kind: str) -> datetime | None:
    row = XeroReference.get_or_none((XeroReference.org == org_id) &
                                    (XeroReference.kind == kind))
    return row.fetched_at if row else None


def refused_for_reference(errors) -> bool:
    """Does Xero's refusal name reference data (so the cache may be stale)?"""
    text = " ".join(str(e) for e in errors).lower()
    return any(word in text for word in _REFERENCE_WORDS)


# -- the two facts a cycle needs ----------------------------------------------------------
def tax_rates(client, org_id: int) -> dict[str, Decimal]:
    """Active tax types -> effective rate (percent)."""
    return {r["TaxType"]: Decimal(str(r.get("EffectiveRate", 0)))
            for r in get(client, org_id, "tax_rates") if r.get("Status", "ACTIVE") == "ACTIVE"}


def base_currency(client, org_id: int) -> str | None:
    return get(client, org_id, "organisation").get("BaseCurrency")


def enabled_currencies(client, org_id: int) -> frozenset[str]:
    return frozenset(c["Code"] for c in get(client, org_id, "currencies"))

"""What ConnectWise gives that Ferry's database cannot hold, found before the record is
stored or anything of it goes to Xero.

PostgreSQL refuses a NUL character in any text value (psycopg raises ValueError) and a
value longer than its column (DataError); either, in one record, used to fail the whole
cycle. Such a record becomes its own exception instead, naming the field and the
problem, and the rest of the run goes on. SQLite would store both, but the rule is the
same on both databases, so what a record becomes does not depend on which one Ferry
uses."""
from __future__ import annotations

import hashlib

from models import SyncRecord

NUL = "\x00"
NUMBER_MAX = SyncRecord.cw_number.max_length or 255
SHOWN = 40                                    # characters of a value a sentence shows
NOUNS = {"invoice": "invoice", "credit_note": "credit memo", "bill": "bill"}


def shown(value: str) -> str:
    """A value as a sentence shows it: NUL as ␀, long ones cut."""
    text = value.replace(NUL, "␀")
    return text if len(text) <= SHOWN else text[:SHOWN - 1] + "…"


def _problem(field: str, value, limit: int | None) -> str | None:
    if not isinstance(value, str):
        return None
    if NUL in value:
        return (f"its {field} “{shown(value)}” holds a NUL character (an invisible control "
                "character, usually pasted in with the text), which Ferry's database "
                "cannot store")
    if limit is not None and len(value) > limit:
        return (f"its {field} is {len(value)} characters long (“{shown(value)}”), more than "
                f"the {limit} Ferry's database keeps for it")
    return None


def unstorable(cand) -> str | None:
    """The sentence for a candidate with a value the database cannot hold, else None."""
    bill = cand.record_type == "bill"
    company = (cand.company.record or {}) if cand.company else {}
    problems = [p for p in (
        _problem("purchase order number and packing slip" if bill else
                 f"{NOUNS[cand.record_type]} number", cand.number, NUMBER_MAX),
        _problem("vendor's name" if bill else "company's name", company.get("name"), None),
        _problem("currency code", cand.currency, None)) if p]
    if not problems:
        return None
    name = (f"A ConnectWise bill ({shown(cand.number)})" if bill else
            f"ConnectWise {NOUNS[cand.record_type]} (id {cand.cw_id})")
    return (f"{name} cannot be synced: " + "; ".join(problems) + ". Correct it in "
            "ConnectWise; Ferry tries it again when it changes.")


def stored_number(record_type: str, number: str | None) -> str | None:
    """What SyncRecord.cw_number keeps of a number. An invoice or credit memo number the
    database cannot hold is not kept (the record is read again by its id); a bill's key,
    its identity, is kept in a form the database holds (NUL shown as ␀, a long one cut
    and made unique by a digest of the whole)."""
    if number is None or _problem("number", number, NUMBER_MAX) is None:
        return number
    if record_type != "bill":
        return None
    text = number.replace(NUL, "␀")
    if len(text) > NUMBER_MAX:
        digest = hashlib.sha256(number.encode()).hexdigest()[:16]
        text = text[:NUMBER_MAX - 18] + "…#" + digest
    return text

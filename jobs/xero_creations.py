"""Creating something in Xero once: whatever creates it (a press in the browser, two
presses at once, two cycles under different locks) first records its intent in
models.XeroCreation, one row per (org, kind, key), before the create goes out.

- The first to record it creates; one that finds a row being created waits for it and
  uses what it made (or, after a while, says it is still being made).
- A row already created answers with what was made, while that still exists in Xero.
- A create whose answer never came is marked unknown: the next attempt looks it up in
  Xero first, and creates only if Xero does not have it once Xero has had time to
  finish (GRACE, as jobs/cycle_write.ANSWER_GRACE for documents).
- A refused create removes the row: nothing was made.

Xero's own Idempotency-Key (kept six minutes, only for the same body) is not enough: a
second press days later, or with another name typed, is another body."""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from peewee import IntegrityError

from connectors.errors import ApiUnavailable
from models import XeroCreation, db, utcnow

# A create still running in Xero, or one whose answer never came, is given this long
# before anyone creates it again (Xero may hold a write past the client's timeout).
GRACE = timedelta(minutes=5)
POLL = 0.25


class InFlight(Exception):
    """Another attempt is creating it now, or Xero has not answered about it yet."""

    def __init__(self, since: datetime, until: datetime):
        super().__init__(f"being created since {since:%H:%M:%S} UTC")
        self.since, self.until = since, until


class Unknown(Exception):
    """The create went out and its outcome is unknown (kept so: looked up next time)."""


@dataclass
class Claim:
    row_id: int
    state: str                      # mine | created | busy
    token: str | None = None
    fresh: bool = False             # no earlier attempt: nothing in Xero to look up
    xero_id: str | None = None
    name: str | None = None         # as the earlier attempt sent it
    since: datetime | None = None   # busy: when the other attempt started
    lost_at: datetime | None = None  # mine: when an earlier create's answer was lost


@dataclass
class Outcome:
    xero_id: str
    created: bool                   # made by this attempt (else found or made before)
    name: str | None = None         # the name it was made under, when Ferry made it


def claim(org_id: int, kind: str, key: str, name: str | None = None) -> Claim:
    """Record the intent to create (org, kind, key), or say who has it."""
    now, token = utcnow(), uuid.uuid4().hex
    try:
        with db.atomic():
            row = XeroCreation.create(org=org_id, kind=kind, key=str(key), state="creating",
                                      token=token, claimed_at=now, name=name)
        return Claim(row.id, "mine", token, fresh=True)
    except IntegrityError:
        pass
    row = XeroCreation.get((XeroCreation.org == org_id) & (XeroCreation.kind == kind) &
                           (XeroCreation.key == str(key)))
    if row.state == "created":
        return Claim(row.id, "created", row.token, xero_id=row.xero_id, name=row.name)
    if row.state == "creating" and now - row.claimed_at < GRACE:
        return Claim(row.id, "busy", since=row.claimed_at)
    # Its answer was lost, or whoever was creating it stopped: take it over, look first.
    return _take_over(row, name, lost_at=row.claimed_at if row.state == "unknown" else None)


def take_over_created(c: Claim, name: str | None = None) -> Claim:
    """What was made is gone from Xero (or no longer usable): create it anew."""
    row = XeroCreation.get_or_none(XeroCreation.id == c.row_id)
    if row is None or row.state != "created" or row.token != c.token:
        return Claim(c.row_id, "busy", since=utcnow())
    return _take_over(row, name, lost_at=None)


def _take_over(row: XeroCreation, name, lost_at) -> Claim:
    token, now = uuid.uuid4().hex, utcnow()
    took = XeroCreation.update(state="creating", token=token, claimed_at=now,
                               name=name or row.name).where(
        (XeroCreation.id == row.id) & (XeroCreation.token == row.token)).execute()
    if not took:                    # someone else took it over a moment ago
        return Claim(row.id, "busy", since=now)
    return Claim(row.id, "mine", token, fresh=False, name=row.name, lost_at=lost_at)


def finish(c: Claim, xero_id: str, name: str | None = None) -> None:
    values = {"state": "created", "xero_id": xero_id}
    if name:
        values["name"] = name
    XeroCreation.update(**values).where(
        (XeroCreation.id == c.row_id) & (XeroCreation.token == c.token)).execute()


def give_up(c: Claim, *, unknown: bool) -> None:
    """Unknown: the create may have reached Xero (looked up next time). Else nothing was
    made: the row goes, and the next attempt starts afresh."""
    mine = (XeroCreation.id == c.row_id) & (XeroCreation.token == c.token)
    if unknown:
        # Kept at the lost create's time: GRACE runs from when it went out.
        XeroCreation.update(state="unknown", claimed_at=c.lost_at or utcnow()).where(
            mine).execute()
    else:
        XeroCreation.delete().where(mine).execute()


def wait_for(org_id: int, kind: str, key: str, name: str | None, wait: float,
             sleep: Callable[[float], None] = time.sleep) -> Claim:
    """claim(), waiting up to `wait` seconds while another attempt is creating it."""
    deadline = time.monotonic() + wait
    while True:
        c = claim(org_id, kind, key, name)
        if c.state != "busy" or time.monotonic() >= deadline:
            return c
        sleep(POLL)


def create_once(org_id: int, kind: str, key: str, *, create: Callable[[], str],
                find: Callable[[], str | None],
                alive: Callable[[str], bool] | None = None, name: str | None = None,
                look_first: bool = False, wait: float = 20.0,
                sleep: Callable[[float], None] = time.sleep) -> Outcome:
    """Create (org, kind, key) in Xero unless it was created already.

    `create()` makes it and returns its Xero id (raise Unknown, or let ApiUnavailable
    through, when the outcome is not known; any other exception means nothing was made);
    `find()` looks it up in Xero (its id or None); `alive(id)` says whether what was made
    before is still usable. Raises InFlight when another attempt is still at it."""
    c = wait_for(org_id, kind, key, name, wait, sleep)
    if c.state == "created":
        if alive is None or alive(c.xero_id):
            return Outcome(c.xero_id, False, c.name)
        c = take_over_created(c, name)
    if c.state == "busy":
        raise InFlight(c.since, c.since + GRACE)
    try:
        if look_first or not c.fresh:
            found = find()
            if found:
                finish(c, found)
                return Outcome(found, False, c.name)
            if c.lost_at is not None and utcnow() - c.lost_at < GRACE:
                give_up(c, unknown=True)          # Xero may still be writing it
                raise InFlight(c.lost_at, c.lost_at + GRACE)
        xero_id = create()
    except InFlight:
        raise
    except (Unknown, ApiUnavailable):
        give_up(c, unknown=True)
        raise
    except BaseException:
        give_up(c, unknown=False)
        raise
    finish(c, xero_id, name)
    return Outcome(xero_id, True, name)

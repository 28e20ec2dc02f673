"""Create, update, skip or raise an exception: what to do with a mapped document given
what Ferry wrote before and what Xero says of it now.

Ferry respects Xero: once a document is paid, voided, deleted, or has a payment or
credit allocated, Xero will not take an edit and Ferry leaves it alone, raising an
exception for the user instead.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable, Mapping

EDITABLE = {"DRAFT", "SUBMITTED"}


@dataclass(frozen=True)
class StoredState:
    """What Ferry recorded after its last write of this record."""
    xero_id: str | None
    version: str | None


@dataclass(frozen=True)
class XeroState:
    """The document as Xero reports it now (GET by id)."""
    status: str
    amount_paid: Decimal = Decimal(0)
    amount_credited: Decimal = Decimal(0)
    has_allocations: bool = False


@dataclass(frozen=True)
class UpdateDecision:
    action: str                   # "create" | "update" | "skip" | "exception"
    sentence: str


def decide(label: str, new_version: str, stored: StoredState | None,
           xero: XeroState | None, forced: bool = False) -> UpdateDecision:
    """`label` names the record in sentences ("Invoice 10234"). `xero` is None when
    Xero has no such document (never written, or no longer found by its id)."""
    if stored is None or not stored.xero_id:
        return UpdateDecision("create", f"{label} is new to Xero.")
    if xero is None:
        return UpdateDecision("exception", (
            f"{label} was written to Xero before but Xero no longer has it. Ferry will "
            "not create it again on its own; check Xero, then unlink it in Records to "
            "write it afresh."))
    if stored.version == new_version:
        return UpdateDecision("skip", (
            f"{label} is already in Xero as this version; nothing was sent."
            if forced else f"{label} has not changed since it was written to Xero."))
    status = xero.status.upper()
    if status in {"PAID", "VOIDED", "DELETED"}:
        return UpdateDecision("exception", (
            f"{label} changed in ConnectWise, but it is {status.lower()} in Xero, so "
            "Xero no longer accepts edits. Ferry left Xero as it is; make the change in "
            "Xero by hand (for example with a credit note) if it still matters."))
    settled = xero.amount_paid > 0 or xero.amount_credited > 0 or xero.has_allocations
    if settled:
        return UpdateDecision("exception", (
            f"{label} changed in ConnectWise, but Xero has a payment or credit applied "
            "to it, so it cannot be edited. Ferry left Xero as it is; remove the "
            "payment in Xero and force a sync, or adjust it by hand."))
    if status in EDITABLE or status == "AUTHORISED":
        return UpdateDecision("update", f"{label} changed in ConnectWise; Xero is updated.")
    return UpdateDecision("exception", (
        f"{label} has status {xero.status} in Xero, which Ferry does not know how to "
        "update. Ferry left Xero as it is."))


def as_update(payload: Mapping, id_key: str, xero_id: str,
              existing_lines: Iterable[Mapping] = ()) -> dict:
    """The payload for POST: every line (Xero deletes lines left out of an update),
    each carrying the LineItemID of the Xero line it replaces when one matches by
    description, account and item code, in order. Unmatched Xero lines are left out on
    purpose: CW no longer has them."""
    unused = [dict(line) for line in existing_lines if line.get("LineItemID")]
    lines = []
    for line in payload.get("LineItems", ()):
        new = dict(line)
        key = _line_key(line)
        match = next((old for old in unused if _line_key(old) == key), None)
        if match is not None:
            unused.remove(match)
            new["LineItemID"] = match["LineItemID"]
        lines.append(new)
    return {**payload, id_key: xero_id, "LineItems": lines}


def _line_key(line: Mapping) -> tuple:
    return ((line.get("Description") or "").strip(), line.get("AccountCode") or "",
            line.get("ItemCode") or "")

"""Reading received purchase orders through CW's accounting interface: one bill per
purchase order and packing slip.

Each receipt of a PO line is one unposted procurement record; the receipts of one PO
on one packing slip make one Xero bill, named in Xero by Ferry's reference marker. The
unposted procurement list is short (it holds only what is not yet posted), so each
cycle reads it whole and keeps the groups with a receipt changed since the watermark,
or a bill an earlier cycle did not settle.
"""
from __future__ import annotations

from datetime import datetime
from functools import partial

from jobs.cycle_records import Candidate, cw_time
from jobs.cycle_sales import _ref, read_companies
from sync.bills import BillSource, bill_marker, map_bill
from sync.routing import RoutingFacts


def read_bills(cw, since: datetime | None, retry_markers: set[str], only_ids,
               names: dict) -> list[Candidate]:
    receipts = list(cw.unposted_procurement())
    # Only the POs that may hold a wanted bill need their lines (and packing slips) read.
    retry_pos = {int(m.split("-")[1].rstrip("]")) for m in retry_markers}
    po_ids = sorted({r["purchaseOrder"]["id"] for r in receipts
                     if (only_ids is not None and r["id"] in only_ids)
                     or (only_ids is None and (
                         since is None or cw_time(r["_info"]["lastUpdated"]) > since
                         or r["purchaseOrder"]["id"] in retry_pos))})
    receipts = [r for r in receipts if r["purchaseOrder"]["id"] in po_ids]
    lines = {po_id: {line["id"]: line for line in cw.purchase_order_lines(po_id)}
             for po_id in po_ids}
    groups: dict[str, list[dict]] = {}
    for receipt in receipts:
        po_id = receipt["purchaseOrder"]["id"]
        line = lines[po_id].get(_line_id(receipt), {})
        marker = bill_marker(po_id, line.get("packingSlip") or "")
        groups.setdefault(marker, []).append(receipt)
    wanted = {}
    for marker, group in groups.items():
        changed = since is None or any(cw_time(r["_info"]["lastUpdated"]) > since
                                       for r in group)
        if (only_ids is not None and set(only_ids) & {r["id"] for r in group}) or (
                only_ids is None and (changed or marker in retry_markers)):
            wanted[marker] = group
    if not wanted:
        return []
    details = _export_details(cw, [r for g in wanted.values() for r in g])
    orders = {po["id"]: po for po in cw.by_ids(
        "procurement/purchaseorders", {g[0]["purchaseOrder"]["id"] for g in wanted.values()})}
    companies = read_companies(cw, {po["vendorCompany"]["id"] for po in orders.values()})
    out = []
    for marker, group in wanted.items():
        po = orders.get(group[0]["purchaseOrder"]["id"])
        if po is None:
            continue
        slip = lines[po["id"]].get(_line_id(group[0]), {}).get("packingSlip") or ""
        items, accounts = [], {}
        for receipt in group:
            detail, tax = details.get(receipt["id"], ({}, None))
            line = lines[po["id"]].get(_line_id(receipt), {})
            quantity = detail.get("quantity", line.get("receivedQuantity"))
            items.append({"id": receipt["id"], "description": line.get("description", ""),
                          "quantity": quantity, "receivedQuantity": quantity,
                          "unitCost": detail.get("itemCost", line.get("unitCost")),
                          "tax": tax if tax is not None else receipt.get("taxTotal"),
                          "product": line.get("product"),
                          "dateReceived": line.get("dateReceived")})
            accounts[receipt["id"]] = detail.get("accountNumber", "")
        facts = RoutingFacts("bills", _ref(po.get("locationId"), names["locations"]),
                             _ref(group[0].get("departmentId"), names["departments"]))
        company = companies.get(po["vendorCompany"]["id"])
        if company is None:
            continue
        out.append(Candidate(
            record_type="bill", cw_id=min(r["id"] for r in group), number=marker,
            label=f"Bill for PO {po.get('poNumber')} slip {slip or '(none)'}",
            updated_at=max(cw_time(r["_info"]["lastUpdated"]) for r in group),
            facts=facts, company=company,
            build=partial(_build, po, slip, tuple(items), facts, accounts),
            gl_entry_ids=[r["id"] for r in group],
            currency=(po.get("currency") or {}).get("currencyCode")))
    return out


def retry_markers(query) -> set[str]:
    return {r.cw_number for r in query if r.cw_number}


def _build(po, slip, items, facts, accounts, contact, mappings):
    return map_bill(BillSource(po, slip, items, facts, contact, accounts), mappings)


def _line_id(receipt: dict) -> int | None:
    head = str(receipt.get("unpostedProductId") or "").split("-", 1)[0]
    return int(head) if head.isdigit() else None


def _export_details(cw, receipts: list[dict]) -> dict[int, tuple[dict, object]]:
    """receipt id -> (its purchaseDetail line, its tax) from the GL export preview."""
    export = cw.export_preview({
        "summarizeInvoices": "Detailed", "exportInvoicesFlag": False,
        "exportExpensesFlag": False,
        "includedProductIds": [r["unpostedProductId"] for r in receipts]})
    out = {}
    for txn in export.get("purchaseTransactions") or ():
        taxes = {t["id"]: t.get("total") for t in txn.get("purchaseDetailTax") or ()}
        for detail in txn.get("purchaseDetail") or ():
            out[detail["id"]] = (detail, taxes.get(detail["id"]))
    return out

"""The reconciliation: ConnectWise's documents Ferry routes to one Xero org against what
that org holds, for one month. Pure: it takes what jobs/reconcile.py read (CwDoc,
XeroDoc) and returns the figures and the differences; money is Decimal throughout.

Figures are per record type, tax type and currency, on both sides: count, net, tax and
gross. Differences are listed document by document:

- in CW but not in Xero, with why (an exception, waiting for its date, excluded by a
  person, not written yet);
- in Xero but changed there (amount, contact, status, voided, deleted, moved out of the
  month);
- in Xero from Ferry but no longer in CW;
- payments: what CW has applied on an invoice against what Xero has received on it.

Xero documents of the month that Ferry did not write are counted apart ("other"), never
as differences: Xero may hold documents of its own.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import Decimal

from .money import ZERO, cents

RECORD_TYPES = ("invoice", "credit_note", "bill")
LABELS = {"invoice": "Invoices", "credit_note": "Credit notes", "bill": "Bills"}
ONE = {"invoice": "invoice", "credit_note": "credit note", "bill": "bill"}
MANY = {"invoice": "invoices", "credit_note": "credit notes", "bill": "bills"}
# Statuses Xero moves a document through; one below what Ferry writes was set back there.
STATUS_RANK = {"DRAFT": 0, "SUBMITTED": 1, "AUTHORISED": 2, "PAID": 3}
GONE = ("VOIDED", "DELETED")
# Record types whose ConnectWise side Ferry knows by total only (a bill is several PO
# lines of a packing slip; Ferry keeps its total): one row per currency, not per tax type.
BY_TOTAL_ONLY = ("bill",)

# Why a CW document is not in Xero, by Ferry's state for it.
NOT_IN_XERO = {
    "exception": "exception",
    "waiting": "waiting",
    "excluded": "excluded",
    "pending": "not written yet",
    "in_flight": "not written yet",
    "unread": "not read yet",
}


@dataclass
class CwDoc:
    """One ConnectWise document as Ferry knows it. `state` is Ferry's (synced,
    exception, waiting, excluded, pending, in_flight) or "unread" (CW has it, no cycle
    has read it yet); `in_cw` False when CW no longer has it. Amounts are positive for
    credit notes too (Xero's sign). `contact_id`: the Xero contact Ferry linked to its
    company in this org; `status`: what Ferry writes (DRAFT, AUTHORISED)."""
    record_type: str
    cw_id: int
    number: str
    gross: Decimal | None
    net: Decimal | None = None
    tax: Decimal | None = None
    date: date | None = None
    currency: str | None = None
    tax_type: str = ""
    state: str = "synced"
    reason: str | None = None
    xero_id: str | None = None
    contact_id: str | None = None
    status: str | None = None
    applied: Decimal | None = None
    in_cw: bool = True


@dataclass
class XeroDoc:
    """One Xero document of the month (or one Ferry wrote, fetched by its id)."""
    record_type: str
    xero_id: str
    number: str
    status: str
    total: Decimal
    sub_total: Decimal = ZERO
    total_tax: Decimal = ZERO
    date: date | None = None
    currency: str | None = None
    contact_id: str | None = None
    contact_name: str | None = None
    by_tax: dict = field(default_factory=dict)     # tax type -> (net, tax)
    amount_paid: Decimal | None = None


@dataclass
class Figures:
    count: int = 0
    net: Decimal = ZERO
    tax: Decimal = ZERO
    gross: Decimal = ZERO

    def add(self, net, tax, gross, count: int = 1) -> None:
        self.count += count
        self.net += net or ZERO
        self.tax += tax or ZERO
        self.gross += gross or ZERO


@dataclass
class Difference:
    kind: str                  # not_in_xero | changed_in_xero | not_in_cw | payment
    record_type: str
    number: str
    reason: str                # what a person reads
    cause: str                 # exception, waiting, amount, contact, voided, ...
    cw_id: int | None = None
    xero_id: str | None = None
    cw_amount: Decimal | None = None
    xero_amount: Decimal | None = None


@dataclass
class Report:
    rows: list[dict]                   # figures per record type, tax type, currency
    differences: list[Difference]
    payments: dict                     # cw_applied, xero_received, invoices
    other: dict                        # Xero documents not from Ferry: count, gross
    ferry_docs: int

    def by_type(self) -> dict[str, int]:
        """Documents that differ, per record type (payments as "payment")."""
        counts: dict[str, int] = {}
        seen: set[tuple[str, str]] = set()
        for d in self.differences:
            key = (d.record_type, d.number)
            if key in seen:
                continue
            seen.add(key)
            counts[d.record_type] = counts.get(d.record_type, 0) + 1
        return counts

    def as_dict(self) -> dict:
        return {"rows": self.rows, "differences": [asdict(d) for d in self.differences],
                "payments": self.payments, "other": self.other,
                "ferry_docs": self.ferry_docs}


def month_bounds(text: str) -> tuple[date, date]:
    """"2026-11" -> (2026-11-01, 2026-12-01); a sentence when it is not a month."""
    try:
        year, month = (int(p) for p in text.strip().split("-"))
        start = date(year, month, 1)
    except (ValueError, AttributeError):
        raise ValueError(f"“{text}” is not a month: write it as YYYY-MM, for example "
                         "2026-11.") from None
    end = date(year + (month == 12), month % 12 + 1, 1)
    return start, end


def compare(cw_docs: list[CwDoc], xero_docs: list[XeroDoc], start: date, end: date
            ) -> Report:
    """The month [start, end): figures of both sides and every document that differs."""
    xero_by_id = {d.xero_id.lower(): d for d in xero_docs}
    ferry_ids = {d.xero_id.lower() for d in cw_docs if d.xero_id}
    in_month = [d for d in cw_docs if d.date is None or start <= d.date < end]
    rows: dict[tuple, dict] = {}

    def row(record_type, tax_type, currency) -> dict:
        key = (record_type, tax_type or "", currency or "")
        if key not in rows:
            rows[key] = {"record_type": record_type, "tax_type": tax_type or "",
                         "currency": currency or "", "cw": Figures(), "xero": Figures()}
        return rows[key]

    differences: list[Difference] = []
    paid = {"cw_applied": ZERO, "xero_received": ZERO, "invoices": 0}
    for doc in sorted(in_month, key=_order):
        if doc.in_cw:
            row(doc.record_type, doc.tax_type, doc.currency)["cw"].add(
                doc.net, doc.tax, doc.gross)
        xero = xero_by_id.get(doc.xero_id.lower()) if doc.xero_id else None
        differences += _differences(doc, xero, start, end)
        if doc.record_type == "invoice" and doc.in_cw and xero is not None and \
                xero.status not in GONE:
            applied, received = doc.applied or ZERO, xero.amount_paid or ZERO
            paid["cw_applied"] += applied
            paid["xero_received"] += received
            paid["invoices"] += 1
            if cents(applied) != cents(received):
                differences.append(Difference(
                    "payment", doc.record_type, doc.number,
                    f"ConnectWise has {_money(applied)} applied, Xero has received "
                    f"{_money(received)}.", "payment", doc.cw_id, doc.xero_id,
                    applied, received))
    # Ferry's documents written before or after this month but dated in it now (a date
    # changed in Xero) are Xero's side of this month too.
    other = {"count": 0, "gross": ZERO}
    for xero in xero_docs:
        if xero.date is not None and not (start <= xero.date < end):
            continue
        if xero.xero_id.lower() not in ferry_ids:
            if xero.status not in GONE:
                other["count"] += 1
                other["gross"] += xero.total
            continue
        if xero.status in GONE:
            continue
        if xero.record_type in BY_TOTAL_ONLY:
            row(xero.record_type, "", xero.currency)["xero"].add(
                xero.sub_total, xero.total_tax, xero.total)
            continue
        for tax_type, (net, tax) in sorted(xero.by_tax.items()):
            row(xero.record_type, tax_type, xero.currency)["xero"].add(net, tax, net + tax,
                                                                     count=0)
        row(xero.record_type, _main_tax_type(xero), xero.currency)["xero"].count += 1
    ordered = sorted(rows.values(), key=lambda r: (_type_order(r["record_type"]),
                                                   r["currency"], r["tax_type"]))
    return Report(rows=[{**r, "cw": asdict(r["cw"]), "xero": asdict(r["xero"])}
                        for r in ordered],
                  differences=differences, payments=paid, other=other,
                  ferry_docs=len(in_month))


def _differences(doc: CwDoc, xero: XeroDoc | None, start: date, end: date
                 ) -> list[Difference]:
    label = f"{ONE[doc.record_type].capitalize()} {doc.number}"
    if not doc.in_cw:
        if xero is not None and xero.status not in GONE:
            return [Difference("not_in_cw", doc.record_type, doc.number,
                               f"{label} is in Xero from Ferry ({_money(xero.total)}) but "
                               "ConnectWise no longer has it.", "not in ConnectWise",
                               doc.cw_id, doc.xero_id, None, xero.total)]
        return []
    if doc.state != "synced" or not doc.xero_id:
        cause = NOT_IN_XERO.get(doc.state, doc.state)
        why = doc.reason or {
            "not written yet": "Ferry writes it in its next cycle.",
            "not read yet": "No cycle has read it yet (ConnectWise lists an invoice for "
                            "accounting once it is closed).",
            "excluded": "A person excluded it from the sync.",
        }.get(cause, "")
        return [Difference("not_in_xero", doc.record_type, doc.number,
                           f"{label} is not in Xero ({cause}): {why}".rstrip(": "), cause,
                           doc.cw_id, doc.xero_id, doc.gross, None)]
    if xero is None:
        return [Difference("changed_in_xero", doc.record_type, doc.number,
                           f"{label} was written to Xero, but Xero no longer lists it "
                           "(deleted there).", "deleted", doc.cw_id, doc.xero_id,
                           doc.gross, None)]
    if xero.status == "VOIDED":
        return [Difference("changed_in_xero", doc.record_type, doc.number,
                           f"{label} was voided in Xero.", "voided", doc.cw_id,
                           doc.xero_id, doc.gross, xero.total)]
    if xero.status == "DELETED":
        return [Difference("changed_in_xero", doc.record_type, doc.number,
                           f"{label} was deleted in Xero.", "deleted", doc.cw_id,
                           doc.xero_id, doc.gross, None)]
    found = []
    if doc.gross is not None and cents(doc.gross) != cents(xero.total):
        found.append(Difference("changed_in_xero", doc.record_type, doc.number,
                                f"{label} is {_money(doc.gross)} in ConnectWise and "
                                f"{_money(xero.total)} in Xero (changed there).", "amount",
                                doc.cw_id, doc.xero_id, doc.gross, xero.total))
    if doc.contact_id and xero.contact_id and \
            doc.contact_id.lower() != xero.contact_id.lower():
        found.append(Difference("changed_in_xero", doc.record_type, doc.number,
                                f"{label} is on contact {xero.contact_name or '?'} in Xero, "
                                "not the contact Ferry linked to its ConnectWise company.",
                                "contact", doc.cw_id, doc.xero_id, doc.gross, xero.total))
    if doc.status in STATUS_RANK and xero.status in STATUS_RANK and \
            STATUS_RANK[xero.status] < STATUS_RANK[doc.status]:
        found.append(Difference("changed_in_xero", doc.record_type, doc.number,
                                f"{label} is {xero.status} in Xero; Ferry wrote it "
                                f"{doc.status}.", "status", doc.cw_id, doc.xero_id,
                                doc.gross, xero.total))
    if xero.date is not None and not (start <= xero.date < end):
        found.append(Difference("changed_in_xero", doc.record_type, doc.number,
                                f"{label} is dated {doc.date} in ConnectWise and "
                                f"{xero.date} in Xero.", "date", doc.cw_id, doc.xero_id,
                                doc.gross, xero.total))
    return found


def _main_tax_type(xero: XeroDoc) -> str:
    """The tax type a document is counted under: its largest line's."""
    if not xero.by_tax:
        return ""
    return max(sorted(xero.by_tax.items()), key=lambda kv: abs(kv[1][0]))[0]


def _order(doc: CwDoc):
    return (_type_order(doc.record_type), len(doc.number), doc.number)


def _type_order(record_type: str) -> int:
    return RECORD_TYPES.index(record_type) if record_type in RECORD_TYPES else 99


def _money(value: Decimal | None) -> str:
    return "—" if value is None else f"{cents(value):,}"


def drift_sentence(org_name: str, month: str, by_type: dict[str, int]) -> str:
    """"3 invoices differ in Adelaide for November 2026" (each type, "and" between)."""
    parts = []
    for kind in RECORD_TYPES + ("payment",):
        n = by_type.get(kind)
        if n:
            noun = (ONE if n == 1 else MANY).get(kind, kind) if kind != "payment" else \
                ("invoice's payments" if n == 1 else "invoices' payments")
            parts.append(f"{n} {noun}")
    if not parts:
        return f"{org_name} agrees with ConnectWise for {month_name(month)}"
    joined = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    verb = "differs" if sum(by_type.values()) == 1 else "differ"
    return f"{joined} {verb} in {org_name} for {month_name(month)}"


def month_name(month: str) -> str:
    start, _ = month_bounds(month)
    return start.strftime("%B %Y")


# -- what a person reads: the CLI's text and the CSV, from a stored result -------------
def summary(org_name: str, month: str, result: dict) -> str:
    n = len({(d["record_type"], d["number"]) for d in result["differences"]})
    head = f"Reconciliation of {org_name} for {month_name(month)}: "
    return head + ("ConnectWise and Xero agree." if not n else
                   f"{n} document{'s' if n != 1 else ''} differ{'s' if n == 1 else ''}.")


def text(org_name: str, month: str, result: dict, xero_calls: int, cw_calls: int) -> str:
    lines = [summary(org_name, month, result), "",
             f"{'Type':<13}{'Tax type':<14}{'Cur':<5}{'CW n':>5}{'CW gross':>14}"
             f"{'Xero n':>7}{'Xero gross':>14}"]
    for row in result["rows"]:
        lines.append(f"{LABELS.get(row['record_type'], row['record_type']):<13}"
                     f"{row['tax_type'] or '—':<14}{row['currency']:<5}"
                     f"{row['cw']['count']:>5}{row['cw']['gross']:>14}"
                     f"{row['xero']['count']:>7}{row['xero']['gross']:>14}")
    pay = result["payments"]
    lines += ["", f"Payments on {pay['invoices']} invoices: ConnectWise applied "
                  f"{pay['cw_applied']}, Xero received {pay['xero_received']}."]
    if result["differences"]:
        lines += ["", "Differences:"] + [f"  {d['reason']}" for d in result["differences"]]
    notes = notes_of(result)
    if notes:
        lines += [""] + notes
    lines += ["", f"Xero API calls used: {xero_calls}; ConnectWise: {cw_calls}. "
                  "Nothing was changed in Xero."]
    return "\n".join(lines)


def notes_of(result: dict) -> list[str]:
    notes = []
    other = result.get("other") or {}
    if other.get("count"):
        notes.append(f"Xero also holds {other['count']} document(s) of the month that Ferry "
                     f"did not write ({other['gross']}); they are not compared.")
    if result.get("unrouted"):
        notes.append(f"{result['unrouted']} ConnectWise document(s) of the month could not "
                     "be routed to any organisation (see Exceptions).")
    if result.get("unread"):
        notes.append(f"{result['unread']} ConnectWise invoice(s) of the month have not been "
                     "read by a cycle yet (an invoice reaches accounting once it is closed).")
    return notes


CSV_HEADER = ("section", "record_type", "tax_type", "currency", "number", "cause",
              "reason", "cw_count", "cw_net", "cw_tax", "cw_gross", "xero_count",
              "xero_net", "xero_tax", "xero_gross")


def csv_rows(result: dict) -> list[tuple]:
    """The figures, then the differences, one row each (the CSV download)."""
    rows = [CSV_HEADER]
    for r in result["rows"]:
        cw, xero = r["cw"], r["xero"]
        rows.append(("figures", r["record_type"], r["tax_type"], r["currency"], "", "", "",
                     cw["count"], cw["net"], cw["tax"], cw["gross"], xero["count"],
                     xero["net"], xero["tax"], xero["gross"]))
    pay = result["payments"]
    rows.append(("payments", "invoice", "", "", "", "", "ConnectWise applied / Xero received",
                 pay["invoices"], "", "", pay["cw_applied"], pay["invoices"], "", "",
                 pay["xero_received"]))
    for d in result["differences"]:
        rows.append(("difference", d["record_type"], "", "", d["number"], d["cause"],
                     d["reason"], "", "", "", d["cw_amount"] or "", "", "", "",
                     d["xero_amount"] or ""))
    return rows

"""sync/reconcile.compare on its own (pure): the causes the sandboxes do not stage in the
end-to-end tests (contact, status, date, gone from CW, payments, waiting, excluded)."""
from datetime import date
from decimal import Decimal as D

import pytest

from sync.reconcile import CwDoc, XeroDoc, compare, drift_sentence, month_bounds

START, END = date(2026, 11, 1), date(2026, 12, 1)


def cw(n, **kw):
    base = dict(record_type="invoice", cw_id=n, number=str(n), gross=D("110.00"),
                net=D("100.00"), tax=D("10.00"), date=date(2026, 11, 5), currency="AUD",
                tax_type="OUTPUT", xero_id=f"x{n}", contact_id="c1", status="AUTHORISED",
                applied=D("0.00"))
    return CwDoc(**{**base, **kw})


def xero(n, **kw):
    base = dict(record_type="invoice", xero_id=f"x{n}", number=str(n), status="AUTHORISED",
                total=D("110.00"), sub_total=D("100.00"), total_tax=D("10.00"),
                date=date(2026, 11, 5), currency="AUD", contact_id="c1",
                contact_name="Acme", by_tax={"OUTPUT": (D("100.00"), D("10.00"))},
                amount_paid=D("0.00"))
    return XeroDoc(**{**base, **kw})


def test_agreeing_documents_have_no_difference_and_equal_figures():
    report = compare([cw(1), cw(2)], [xero(1), xero(2), xero(9, xero_id="other")], START, END)
    assert report.differences == []
    [row] = report.rows
    assert row["cw"] == row["xero"] == {"count": 2, "net": D("200.00"), "tax": D("20.00"),
                                         "gross": D("220.00")}
    assert report.other == {"count": 1, "gross": D("110.00")}


def test_each_cause_is_found_with_its_sentence():
    docs = [cw(1), cw(2), cw(3), cw(4, in_cw=False), cw(5, applied=D("50.00")),
            cw(6, state="waiting", xero_id=None, reason="Dated 2026-11-30; written then."),
            cw(7, state="excluded", xero_id=None)]
    found = compare(docs, [xero(1, contact_id="c2", contact_name="Other Pty Ltd"),
                           xero(2, status="DRAFT"), xero(3, date=date(2026, 10, 31)),
                           xero(4), xero(5)], START, END).differences
    causes = {(d.number, d.cause): d.reason for d in found}
    assert causes == {
        ("1", "contact"): "Invoice 1 is on contact Other Pty Ltd in Xero, not the contact "
                          "Ferry linked to its ConnectWise company.",
        ("2", "status"): "Invoice 2 is DRAFT in Xero; Ferry wrote it AUTHORISED.",
        ("3", "date"): "Invoice 3 is dated 2026-11-05 in ConnectWise and 2026-10-31 in Xero.",
        ("4", "not in ConnectWise"): "Invoice 4 is in Xero from Ferry (110.00) but "
                                     "ConnectWise no longer has it.",
        ("5", "payment"): "ConnectWise has 50.00 applied, Xero has received 0.00.",
        ("6", "waiting"): "Invoice 6 is not in Xero (waiting): Dated 2026-11-30; written then.",
        ("7", "excluded"): "Invoice 7 is not in Xero (excluded): A person excluded it from "
                           "the sync.",
    }


def test_the_drift_sentence_and_a_month_that_is_not_one():
    assert drift_sentence("Adelaide", "2026-11", {"invoice": 3}) == \
        "3 invoices differ in Adelaide for November 2026"
    assert drift_sentence("Adelaide", "2026-11", {"invoice": 1}) == \
        "1 invoice differs in Adelaide for November 2026"
    assert month_bounds("2026-12") == (date(2026, 12, 1), date(2027, 1, 1))
    with pytest.raises(ValueError, match="is not a month: write it as YYYY-MM"):
        month_bounds("2026-13")

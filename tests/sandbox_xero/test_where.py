"""The `where` subset clients send, on records shaped as Xero returns them."""
import pytest

from sandbox.xero.where import WhereError, compile_where

FIELDS = {"Name", "Status", "Type", "Contact", "Date", "AmountDue", "IsCustomer", "InvoiceNumber"}
RECORDS = [
    {"Name": "Harbour Dental Group", "Status": "AUTHORISED", "Type": "ACCREC",
     "Contact": {"ContactID": "2F6A3B1C-0000-4000-8000-000000000001"},
     "Date": "/Date(1790640000000+0000)/", "AmountDue": 110, "IsCustomer": True,
     "InvoiceNumber": "INV-0001"},
    {"Name": "Telstra Corporation", "Status": "PAID", "Type": "ACCPAY",
     "Contact": {"ContactID": "2f6a3b1c-0000-4000-8000-000000000002"},
     "Date": "/Date(1793232000000+0000)/", "AmountDue": 0, "IsCustomer": False,
     "InvoiceNumber": None},
]


def names(where):
    predicate = compile_where(where, FIELDS, "Invoice")
    return [r["Name"] for r in RECORDS if predicate(r)]


@pytest.mark.parametrize("where, expected", [
    ('Status=="AUTHORISED"', ["Harbour Dental Group"]),
    ('Status = "paid"', ["Telstra Corporation"]),
    ('Status!="PAID"', ["Harbour Dental Group"]),
    ('Type=="ACCREC" AND AmountDue>100', ["Harbour Dental Group"]),
    ('Type=="ACCPAY" || AmountDue>=110', ["Harbour Dental Group", "Telstra Corporation"]),
    ('NOT (Status=="PAID")', ["Harbour Dental Group"]),
    ('Name.Contains("dental")', ["Harbour Dental Group"]),
    ('Name.StartsWith("Tel")', ["Telstra Corporation"]),
    ('Name.EndsWith("Group")', ["Harbour Dental Group"]),
    ('Contact.ContactID==Guid("2f6a3b1c-0000-4000-8000-000000000001")', ["Harbour Dental Group"]),
    # Keywords ignore case in Xero's parser; clients send guid(...) and GUID(...).
    ('Contact.ContactID=guid("2F6A3B1C-0000-4000-8000-000000000002")', ["Telstra Corporation"]),
    ('Contact.ContactID==GUID("2f6a3b1c-0000-4000-8000-000000000001")', ["Harbour Dental Group"]),
    ('Date>=datetime(2026, 10, 15)', ["Telstra Corporation"]),
    ('Date>=DateTime(2026, 10, 15)', ["Telstra Corporation"]),
    ('Date<DateTime(2026,10,1,0,0,1)', ["Harbour Dental Group"]),
    ('IsCustomer==true', ["Harbour Dental Group"]),
    ('IsCustomer', ["Harbour Dental Group"]),
    ('InvoiceNumber==null', ["Telstra Corporation"]),
    ('Name=="Harbour \\"Dental\\" Group" OR Status=="PAID"', ["Telstra Corporation"]),
])
def test_where_selects(where, expected):
    assert names(where) == expected


@pytest.mark.parametrize("where", [
    'Colour=="red"', 'Status==', 'Status=="PAID" AND', '(Status=="PAID"',
    'Date>DateTime(2026)', 'Name.Contains(3)', 'Status=="PAID" ~',
])
def test_bad_where_is_refused(where):
    with pytest.raises(WhereError):
        compile_where(where, FIELDS, "Invoice")

"""Issue 20, item 4 (2): a CSV file saved as UTF-16 (Excel's "Unicode text", which is
also tab-separated, and "CSV UTF-16" from other tools) was refused as "binary data".
Every CSV import now reads UTF-16 LE and BE with their byte-order mark, and UTF-8 with
one; a file that really is binary still gets the sentence that says so."""
import codecs
import io

import pytest

from models import AccountMapping, ChoiceList, Connection, RoutingRule, db
from sync import mapping_csv
from sync.mapping_csv import Known, Preview, Refused
from tests.conftest import csrf_token

KNOWN = Known(columns={"xero_account_code": frozenset({"200", "260"}),
                       "cw_gl_account": None}, org_name="Sydney")
TEXT = "cw_gl_account,xero_account_code\r\n4000,200\r\nCafé 4900,260\r\n"
# What Excel's File → Save As → "Unicode Text (*.txt)" writes: UTF-16 LE, a BOM, tabs.
EXCEL_UNICODE_TEXT = codecs.BOM_UTF16_LE + TEXT.replace(",", "\t").encode("utf-16-le")
ENCODED = {
    "utf-16-le": codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"),
    "utf-16-be": codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"),
    "utf-16 (python, with its BOM)": TEXT.encode("utf-16"),
    "utf-8 with BOM": codecs.BOM_UTF8 + TEXT.encode("utf-8"),
    "excel unicode text": EXCEL_UNICODE_TEXT,
}


def preview(data: bytes, kind="accounts", known=KNOWN):
    return mapping_csv.preview(kind, data, {}, known)


@pytest.mark.parametrize("name", sorted(ENCODED))
def test_utf16_and_utf8_with_a_bom_are_read(name):
    result = preview(ENCODED[name])
    assert isinstance(result, Preview), getattr(result, "sentence", "")
    assert [(r.values["cw_gl_account"], r.values["xero_account_code"], r.status)
            for r in result.rows] == [("4000", "200", "added"), ("Café 4900", "260", "added")]
    assert not any("Windows (Excel) text" in n for n in result.notices)


def test_excel_unicode_text_says_it_read_tabs():
    result = preview(EXCEL_UNICODE_TEXT)
    assert any("tabs" in n for n in result.notices)
    assert not any("European" in n for n in result.notices)


def test_routing_rules_in_utf16_are_read_too():
    text = "position,field,value,record_type,org\r\n1,location,Adelaide,,Adelaide IT\r\n"
    result = mapping_csv.preview("routing", codecs.BOM_UTF16_LE + text.encode("utf-16-le"),
                                 {}, Known())
    assert isinstance(result, Preview), getattr(result, "sentence", "")


@pytest.mark.parametrize("data", [
    b"PK\x03\x04\x14\x00\x06\x00binary",                   # a .xlsx workbook
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00\x00",           # an old .xls
    codecs.BOM_UTF16_LE + b"a\x00b",                       # half a UTF-16 character
    codecs.BOM_UTF16_LE + "a,b\r\n\x00\x01".encode("utf-16-le"),  # NUL inside the text
    codecs.BOM_UTF16_BE + b"\xd8\x00\x00a",                # a lone surrogate
])
def test_binary_still_gets_a_sentence(data):
    result = preview(data)
    assert isinstance(result, Refused)
    assert result.sentence.endswith(".")


@pytest.mark.parametrize("data", [codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE,
                                  codecs.BOM_UTF16_LE + "\r\n  \r\n".encode("utf-16-le")])
def test_an_empty_utf16_file_is_called_empty(data):
    result = preview(data)
    assert isinstance(result, Refused) and "The file is empty" in result.sentence


def test_browser_upload_of_excel_unicode_text(app, client, auth):
    with app.app_context(), db.connection_context():
        org = Connection.create(kind="xero", name="Sydney IT Services Pty Ltd", tenant_id="s")
        ChoiceList.create(source="xero", org_id=str(org.id), kind="accounts", items=[
            {"value": "200", "label": "200 Sales", "active": True},
            {"value": "260", "label": "260 Other", "active": True}])
        org_id = org.id
    auth.login()
    token = csrf_token(client, "/mappings/import")
    answer = client.post("/mappings/import", data={
        "csrf_token": token, "kind": "accounts", "org": str(org_id),
        "file": (io.BytesIO(EXCEL_UNICODE_TEXT), "mappings.txt")})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200, html[:500]
    assert "2 added" in html and "binary" not in html
    import base64
    import re
    data = re.search(r'name="data" value="([^"]+)"', html).group(1)
    applied = client.post("/mappings/import/apply", data={
        "csrf_token": token, "kind": "accounts", "org": str(org_id), "data": data})
    assert applied.status_code == 303
    assert base64.b64decode(data) == EXCEL_UNICODE_TEXT
    with app.app_context(), db.connection_context():
        assert sorted((m.cw_account, m.xero_code) for m in AccountMapping.select()) == [
            ("4000", "200"), ("Café 4900", "260")]
        assert RoutingRule.select().count() == 0

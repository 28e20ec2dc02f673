"""CSV import and export of the mappings: every bad file a finance person may make gets
a sentence, never a stack trace; the preview says what each row would do; nothing is
written unless every row is accepted; export neutralises spreadsheet formulas; and the
same from the command line."""
import base64

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobs import mapping_tables
from models import (
    AccountMapping, ChoiceList, Connection, RoutingRule, TaxMapping, TrackingMapping, db,
)
from sync import mapping_csv
from sync.mapping_csv import Known, Preview, Refused
from tests.conftest import csrf_token

HEADER = b"cw_gl_account,xero_account_code\r\n"
KNOWN = Known(columns={"xero_account_code": frozenset({"200", "260"}),
                       "cw_gl_account": None}, org_name="Sydney")


def preview(data: bytes, current=None, kind="accounts", known=KNOWN):
    return mapping_csv.preview(kind, data, current or {}, known)


# -- whole files refused with a sentence ---------------------------------------------
def test_empty_file():
    for data in (b"", b"\r\n \r\n", b"\xef\xbb\xbf"):
        result = preview(data)
        assert isinstance(result, Refused) and result.sentence.startswith("The file is empty.")


def test_a_50_mb_file_is_refused_before_it_is_read_as_csv():
    result = preview(HEADER + b"4000,200\r\n" * (50 * 1024 * 1024 // 10))
    assert isinstance(result, Refused)
    assert "The file is 50.0 MB; a mapping file is at most 5.0 MB" in result.sentence


def test_missing_and_extra_columns_name_the_header_expected():
    result = preview(b"cw_gl_account,account,notes\r\n4000,200,x\r\n")
    assert isinstance(result, Refused)
    assert result.sentence == (
        "The first line of a file of account mappings must name the columns "
        "cw_gl_account, xero_account_code; it has no column xero_account_code and Ferry "
        "does not know the column account and notes. Export the account mappings to get "
        "a file with the right header.")


def test_a_workbook_saved_as_xlsx_is_not_csv():
    result = preview(b"PK\x03\x04\x00\x00binary")
    assert isinstance(result, Refused) and "Save As, CSV" in result.sentence


# -- files Ferry reads, saying what it assumed ------------------------------------------
def test_bom_and_cp1252_from_excel_are_read():
    bom = preview(b"\xef\xbb\xbf" + HEADER + b"4000,200\r\n")
    assert isinstance(bom, Preview) and bom.count("added") == 1 and not bom.notices
    cp1252 = preview("cw_gl_account,xero_account_code\r\nCafé,200\r\n".encode("cp1252"))
    assert cp1252.rows[0].values["cw_gl_account"] == "Café"
    assert "read it as Windows (Excel) text" in cp1252.notices[0]


def test_semicolons_from_a_european_excel_are_read():
    result = preview(b"cw_gl_account;xero_account_code\r\n4000;200\r\n4900;260\r\n")
    assert [r.status for r in result.rows] == ["added", "added"]
    assert "separated by semicolons" in result.notices[0]


# -- rows: added, changed, unchanged, rejected with the reason ------------------------------
def test_each_row_says_what_it_would_do():
    current = {("4000",): {"cw_gl_account": "4000", "xero_account_code": "200"},
               ("4100",): {"cw_gl_account": "4100", "xero_account_code": "200"}}
    result = preview(HEADER + b"4000,200\r\n4100,260\r\n4900,260\r\n4200,999\r\n"
                              b"4300\r\n4900,200\r\n=1+1,200\r\n", current)
    assert [(r.line, r.status) for r in result.rows] == [
        (2, "unchanged"), (3, "changed"), (4, "added"), (5, "rejected"), (6, "rejected"),
        (7, "rejected"), (8, "rejected")]
    assert result.rows[1].old == {"cw_gl_account": "4100", "xero_account_code": "200"}
    reasons = [r.reason for r in result.rows[3:]]
    assert reasons[0].startswith("Xero org Sydney has no active account with code “999”")
    assert reasons[1].startswith("It has 1 values where the header has 2 columns")
    assert reasons[2] == ("Line 4 already maps cw_gl_account “4900”; keep one line per key.")
    assert "Ferry does not import formulas" in reasons[3]
    assert not result.acceptable


def test_unknown_codes_of_each_kind():
    taxes = mapping_csv.preview("taxes", b"side,cw_tax_code,xero_tax_type\r\nretail,GST,OUTPUT\r\n"
                                b"sales,GST,output\r\n", {}, Known())
    assert taxes.rows[0].reason == "side “retail” is not sales or purchases."
    assert taxes.rows[1].values["xero_tax_type"] == "OUTPUT" and taxes.rows[1].status == "added"
    routing = mapping_csv.preview(
        "routing", b"position,field,value,record_type,org\r\n1,location,Perth,,Syd\r\n"
        b"2,location,2,invoices,Syd\r\n3,location,2,,Melbourne\r\n4,tag,Gold,,Syd\r\n", {},
        Known(orgs=frozenset({"Syd"})))
    assert [r.reason for r in routing.rows[:3]] == [
        "A location is named by its ConnectWise id (a number such as 2); “Perth” is not one.",
        "record_type “invoices” is not one of invoice, credit_note or bill (empty: every type).",
        "No connected Xero organisation is named “Melbourne”; the connected ones are Syd."]
    assert routing.rows[3].status == "added"


def test_export_neutralises_formulas_and_import_reads_them_back():
    text = mapping_csv.export("items", [
        {"cw_item": "=HYPERLINK(\"http://x\")", "xero_item_code": "+1"},
        {"cw_item": "@SUM(A1)", "xero_item_code": "-2"},
        {"cw_item": "\tTAB", "xero_item_code": "\rCR"}, {"cw_item": "ok", "xero_item_code": "x"}])
    lines = text.split("\r\n")
    assert lines[0] == "cw_item,xero_item_code"
    assert lines[1] == "\"'=HYPERLINK(\"\"http://x\"\")\",'+1"
    assert lines[2] == "'@SUM(A1),'-2"
    assert lines[4] == "ok,x"
    back = mapping_csv.preview("items", text.encode(), {}, Known())
    assert back.rows[0].values == {"cw_item": "=HYPERLINK(\"http://x\")", "xero_item_code": "+1"}
    assert back.rows[0].status == "rejected"   # read back as typed: a formula is refused


# -- any bytes: a preview or a sentence, never an exception ---------------------------------
cells = st.one_of(st.sampled_from(["4000", "200", "=1", "", "\"", ";", ",", "\r\n", "é",
                                   "cw_gl_account", "xero_account_code", "\x00", "'"]),
                  st.text(max_size=8))
csvish = st.lists(st.lists(cells, max_size=4).map(",".join), max_size=6).map("\r\n".join)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=300),
                 csvish.map(lambda t: t.encode("utf-8", "surrogatepass")),
                 csvish.map(lambda t: (HEADER.decode() + t).encode("utf-8", "surrogatepass"))))
def test_any_bytes_give_a_preview_or_a_sentence(data):
    for kind in mapping_csv.KINDS:
        result = mapping_csv.preview(kind, data, {}, KNOWN if kind == "accounts" else Known())
        _a_preview_or_a_sentence(result)


def _a_preview_or_a_sentence(result):
    assert isinstance(result, (Preview, Refused))
    if isinstance(result, Refused):
        assert result.sentence.endswith(".") and "Traceback" not in result.sentence
    else:
        for row in result.rows:
            assert row.status in ("added", "changed", "unchanged", "rejected")
            assert (row.reason is not None) == (row.status == "rejected")


# -- against the database: one transaction, only when every row is accepted -----------------
def _org(app, name="Sydney IT Services Pty Ltd"):
    with app.app_context(), db.connection_context():
        org = Connection.create(kind="xero", name=name, tenant_id=name[:3])
        ChoiceList.create(source="xero", org_id=str(org.id), kind="accounts", items=[
            {"value": v, "label": v, "active": True} for v in ("200", "260")])
        AccountMapping.create(org=org, cw_account="4000", xero_code="200")
        return org.id


def _table(org_id):
    return sorted((r.cw_account, r.xero_code) for r in
                  AccountMapping.select().where(AccountMapping.org == org_id))


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.one_of(csvish.map(lambda t: (HEADER.decode() + t).encode("utf-8", "surrogatepass")),
                      st.binary(max_size=200)))
def test_any_file_is_never_written_in_part(app, data):
    org_id = _org(app) if not hasattr(app, "_h5_org") else app._h5_org
    app._h5_org = org_id
    with app.app_context(), db.connection_context():
        org = Connection.get_by_id(org_id)
        before = _table(org_id)
        result = mapping_tables.preview("accounts", data, org)
        if isinstance(result, Refused) or not result.acceptable:
            try:
                mapping_tables.apply(result, org) if isinstance(result, Preview) else None
            except ValueError:
                pass
            assert _table(org_id) == before
        else:
            mapping_tables.apply(result, org)
            after = dict(_table(org_id))
            for row in result.rows:
                assert after[row.values["cw_gl_account"]] == row.values["xero_account_code"]
            AccountMapping.delete().where(AccountMapping.org == org_id).execute()
            AccountMapping.create(org=org_id, cw_account="4000", xero_code="200")


def test_browser_upload_preview_then_apply(app, client, auth):
    org_id = _org(app)
    auth.login()
    token = csrf_token(client, "/mappings/import")
    bad = client.post("/mappings/import", data={
        "csrf_token": token, "kind": "accounts", "org": str(org_id),
        "file": (__import__("io").BytesIO(HEADER + b"4900,260\r\n4100,999\r\n"), "a.csv")})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 200 and "1 rejected" in html and "/import/apply" not in html
    good_bytes = HEADER + b"4000,260\r\n4900,260\r\n"
    good = client.post("/mappings/import", data={
        "csrf_token": token, "kind": "accounts", "org": str(org_id),
        "file": (__import__("io").BytesIO(good_bytes), "a.csv")})
    html = good.get_data(as_text=True)
    assert "1 added" in html and "1 changed" in html and "(was 200)" in html
    with app.app_context(), db.connection_context():
        assert _table(org_id) == [("4000", "200")]          # nothing written yet
    applied = client.post("/mappings/import/apply", data={
        "csrf_token": token, "kind": "accounts", "org": str(org_id),
        "data": base64.b64encode(good_bytes).decode()})
    assert applied.status_code == 303
    with app.app_context(), db.connection_context():
        assert _table(org_id) == [("4000", "260"), ("4900", "260")]
    export = client.get(f"/mappings/export/accounts?org={org_id}")
    assert export.headers["Content-Type"].startswith("text/csv")
    assert export.get_data(as_text=True) == (
        "cw_gl_account,xero_account_code\r\n4000,260\r\n4900,260\r\n")


def test_browser_upload_of_a_50_mb_file_says_so(app, client, auth):
    org_id = _org(app)
    auth.login()
    token = csrf_token(client, "/mappings/import")
    from werkzeug.test import EnvironBuilder
    builder = EnvironBuilder(path="/mappings/import", method="POST", data={
        "csrf_token": token, "kind": "accounts", "org": str(org_id),
        "file": (__import__("io").BytesIO(b"x" * (50 * 1024 * 1024)), "big.csv")})
    environ = builder.get_environ()
    try:
        answer = client.open(environ)
    finally:    # the body Ferry refused unread is the test client's temporary file
        environ["wsgi.input"].close()
        builder.close()
    assert answer.status_code == 413
    assert "The file is 50.0 MB; a mapping file is at most 5.0 MB" in answer.get_data(
        as_text=True)


# -- the command line ------------------------------------------------------------------------
def test_cli_export_preview_reject_and_apply(app, tmp_path):
    org_id = _org(app)
    with app.app_context(), db.connection_context():
        TaxMapping.create(org=org_id, side="sales", cw_tax_code="GST", xero_tax_type="OUTPUT")
        RoutingRule.create(position=1, field="location", value="2", org=org_id)
    runner = app.test_cli_runner()
    out = runner.invoke(args=["mappings", "export", "accounts", "--org",
                              "Sydney IT Services Pty Ltd"])
    assert out.exit_code == 0
    assert out.output.splitlines() == ["cw_gl_account,xero_account_code", "4000,200"]
    routing = runner.invoke(args=["mappings", "export", "routing"])
    assert routing.output.splitlines()[1] == "1,location,2,,Sydney IT Services Pty Ltd"

    bad = tmp_path / "bad.csv"
    bad.write_bytes(HEADER + b"4900,260\r\n4100,999\r\n")
    rejected = runner.invoke(args=["mappings", "import", "accounts", str(bad), "--org",
                                   "Sydney IT Services Pty Ltd", "--apply"])
    assert rejected.exit_code == 1
    assert "line 3: rejected" in rejected.output and "no active account with code “999”" \
        in rejected.output
    assert "Nothing was written" in rejected.output
    good = tmp_path / "good.csv"
    good.write_bytes(HEADER + b"4900,260\r\n")
    previewed = runner.invoke(args=["mappings", "import", "accounts", str(good)])
    assert previewed.exit_code == 0 and "run again with --apply" in previewed.output
    with app.app_context(), db.connection_context():
        assert _table(org_id) == [("4000", "200")]
    applied = runner.invoke(args=["mappings", "import", "accounts", str(good), "--apply"])
    assert applied.exit_code == 0 and "Written: 1 row(s)." in applied.output
    with app.app_context(), db.connection_context():
        assert _table(org_id) == [("4000", "200"), ("4900", "260")]
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    refused = runner.invoke(args=["mappings", "import", "accounts", str(empty)])
    assert refused.exit_code == 1 and "The file is empty." in refused.output
    big = tmp_path / "big.csv"
    with big.open("wb") as handle:
        handle.truncate(50 * 1024 * 1024)
    refused = runner.invoke(args=["mappings", "import", "accounts", str(big)])
    assert refused.exit_code == 1 and "The file is 50.0 MB" in refused.output


# -- every value checked against its own list ----------------------------------------------
def _tracking_org(app, departments_error=None):
    """An org whose Xero tracking has Department (Managed services, Projects) and Office
    (Sydney, Adelaide); ConnectWise locations 1, 2 and departments 10, 11, 12."""
    org_id = _org(app)
    with app.app_context(), db.connection_context():
        options = {"Department": ("Managed services", "Projects"),
                   "Office": ("Sydney", "Adelaide")}
        ChoiceList.create(source="xero", org_id=str(org_id), kind="tracking", items=[
            {"value": c, "label": c, "active": True, "options": [
                {"value": o, "label": o, "active": True} for o in names]}
            for c, names in options.items()])
        ChoiceList.create(source="connectwise", kind="locations", items=[
            {"value": v, "label": n, "active": True} for v, n in (("1", "Sydney"),
                                                                  ("2", "Adelaide"))])
        ChoiceList.create(source="connectwise", kind="departments", error=departments_error,
                          items=[] if departments_error else [
                              {"value": v, "label": n, "active": True}
                              for v, n in (("10", "Managed"), ("11", "Projects"),
                                           ("12", "Sales"))])
    return org_id


TRACKING = b"category,source,cw_id,option\r\n"


def test_tracking_ids_and_options_are_checked_against_their_own_lists(app, tmp_path):
    org_id = _tracking_org(app)
    data = (TRACKING + b"Department,department,5,Managed services\r\n"
            b"Department,department,10,Adelaide\r\nOffice,location,77,Sydney\r\n"
            b"Office,location,2,Adelaide\r\nDepartment,department,11,Projects\r\n")
    with app.app_context(), db.connection_context():
        result = mapping_tables.preview("tracking", data, Connection.get_by_id(org_id))
    assert [(r.status, r.reason) for r in result.rows] == [
        ("rejected", "ConnectWise has no department with id 5; check the spelling, or "
                     "press Refresh choices if it is new."),
        ("rejected", "Xero org Sydney IT Services Pty Ltd has no active option “Adelaide” "
                     "in tracking category “Department”; check the spelling, or press "
                     "Refresh choices if it is new."),
        ("rejected", "ConnectWise has no location with id 77; check the spelling, or "
                     "press Refresh choices if it is new."),
        ("added", None), ("added", None)]
    assert not result.notices
    # The command line says the same and writes nothing.
    path = tmp_path / "tracking.csv"
    path.write_bytes(data)
    out = app.test_cli_runner().invoke(args=["mappings", "import", "tracking", str(path),
                                             "--apply"])
    assert out.exit_code == 1
    assert "line 2: rejected" in out.output and "no department with id 5" in out.output
    assert "Nothing was written" in out.output and "Written" not in out.output
    with app.app_context(), db.connection_context():
        assert TrackingMapping.select().count() == 0


def test_a_list_that_could_not_be_read_is_said_not_checked(app, client, auth):
    org_id = _tracking_org(app, departments_error="ConnectWise's departments could not "
                           "be read (HTTP 503: down).")
    data = TRACKING + b"Department,department,5,Managed services\r\nOffice,location,77,Sydney\r\n"
    with app.app_context(), db.connection_context():
        result = mapping_tables.preview("tracking", data, Connection.get_by_id(org_id))
    # Departments are not known, so 5 is accepted unchecked and the preview says so;
    # locations are, so 77 is still refused.
    assert [r.status for r in result.rows] == ["added", "rejected"]
    assert result.notices == [
        "ConnectWise's department list could not be read, so the cw_id values of "
        "departments were not checked against it: check them yourself, or press Refresh "
        "choices on the mapping pages and upload the file again."]
    auth.login()
    page = client.post("/mappings/import", data={
        "csrf_token": csrf_token(client, "/mappings/import"), "kind": "tracking",
        "org": str(org_id), "file": (__import__("io").BytesIO(data), "t.csv")})
    html = page.get_data(as_text=True)
    assert "department list could not be read" in html and "HTTP 503" not in html


def test_routing_values_are_checked_against_their_field(app):
    _tracking_org(app)
    data = (b"position,field,value,record_type,org\r\n"
            b"1,location,10,,Sydney IT Services Pty Ltd\r\n"
            b"2,department,10,,Sydney IT Services Pty Ltd\r\n"
            b"3,department,2,,Sydney IT Services Pty Ltd\r\n")
    with app.app_context(), db.connection_context():
        result = mapping_tables.preview("routing", data, None)
    assert [(r.status, (r.reason or "").partition(";")[0]) for r in result.rows] == [
        ("rejected", "ConnectWise has no location with id 10"),
        ("added", ""), ("rejected", "ConnectWise has no department with id 2")]


def test_a_leading_zero_a_spreadsheet_dropped_is_named():
    result = preview(HEADER + b"1200,90\r\n", known=Known(
        columns={"xero_account_code": frozenset({"090", "200"})}, org_name="Sydney"))
    assert result.rows[0].reason == (
        "Xero org Sydney has no active account with code “90”; did a spreadsheet drop a "
        "leading zero? Xero has 090.")

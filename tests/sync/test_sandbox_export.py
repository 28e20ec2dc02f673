"""The CW sandbox's GL export maps cleanly except for the catalogue's deliberate
troublemakers (GL account 4900 and tax code VAT20 have no Xero counterpart)."""
from datetime import datetime, timezone
from decimal import Decimal

from sandbox import catalog
from sandbox.connectwise import glexport
from sandbox.connectwise.data import generate
from sync.documents import Mapped
from sync.invoices import map_sales_transaction
from sync.routing import CwRef, RoutingFacts
from sync.sales import SalesSource
from sync.tables import OrgMappings, TaxTypes, TrackingMap

from .xero_schema import check

ORG = "Sydney IT Services Pty Ltd"
OFFICES = {o["location_id"]: o["location"] for o in catalog.OFFICES}
DEPARTMENTS = {d["id"]: d["name"] for d in catalog.DEPARTMENTS}


def catalogue_mappings() -> OrgMappings:
    return OrgMappings(
        org_name=ORG,
        accounts={number: code for number, _d, _t, code, *_ in catalog.GL_ACCOUNTS if code},
        sales_tax=TaxTypes({code: sales for code, _r, sales, _p in catalog.TAX_CODES if sales}),
        tax_rates={sales: Decimal(rate) for _c, rate, sales, _p in catalog.TAX_CODES if sales}
        | {"BASEXCLUDED": Decimal(0)},
        tracking=(TrackingMap("Office", "location", OFFICES),
                  TrackingMap("Department", "department", DEPARTMENTS)),
        rounding_account="860", base_currency="AUD")


def test_sandbox_gl_export_maps_except_the_troublemakers(schemas):
    store = generate(1, 1)
    export = glexport.export(store, {"summarizeInvoices": "Detailed"},
                             datetime.now(timezone.utc))
    invoices = {i["invoiceNumber"]: i for i in store.table("finance/invoices").values()}
    mappings = catalogue_mappings()
    sentences, mapped = set(), 0
    for txn in export["transactions"]:
        record = invoices[txn["documentNumber"]]      # the transaction id is not the invoice's
        facts = RoutingFacts("invoices",
                             CwRef(record["locationId"], OFFICES[record["locationId"]]),
                             CwRef(record["departmentId"], DEPARTMENTS[record["departmentId"]]))
        # CW records no exchange rate: foreign documents go without one.
        source = SalesSource(txn, record, facts,
                             {"ContactNumber": record["company"]["identifier"]})
        result = map_sales_transaction(source, mappings)
        if isinstance(result, Mapped):
            mapped += 1
            name = "CreditNote" if result.payload["Type"] == "ACCRECCREDIT" else "Invoice"
            check(result.payload, {"$ref": name}, schemas)
        else:
            sentences.update(result.sentences)
    assert mapped > 100
    assert sentences <= {"No Xero account for ConnectWise GL account 4900",
                         "No Xero tax type for ConnectWise tax code VAT20"}

"""An exception keeps its money and its age (issue 24, item 3): a record that cannot be
written still has its customer, total and currency; the time it was first raised stays
put across re-tries that fail again and is cleared once it is written; the exceptions
page shows, sorts and filters by them."""
import time
from decimal import Decimal

from jobs.cycle import run_cycle
from models import AccountMapping, Connection, RecordEvent, SyncRecord

from .helpers import action


def _stuck():
    return [r for r in SyncRecord.select().where(SyncRecord.state == "exception")
            if "GL account 4900" in r.problems[0]]


def test_first_raised_stays_across_retries_and_clears_when_written(ferry, cw, xero):
    run_cycle("invoice")
    stuck = _stuck()
    assert stuck
    cw_invoices = cw.app.sandbox.store.table("finance/invoices")
    for r in stuck:
        first = (r.events.where(RecordEvent.kind == "exception")
                 .order_by(RecordEvent.at).first())
        assert r.exception_since is not None
        assert abs((r.exception_since - first.at).total_seconds()) < 2
        assert r.party_name and r.currency
        assert r.cw_total == Decimal(str(cw_invoices[r.cw_id]["total"])).quantize(
            Decimal("0.01"))
    raised = {r.id: r.exception_since for r in stuck}
    time.sleep(1.1)
    again = run_cycle("invoice", trigger="force", only_ids=[r.cw_id for r in stuck],
                      forced=True)
    for r in stuck:
        now = SyncRecord.get_by_id(r.id)
        assert now.state == "exception" and now.last_run_id == again.id
        assert now.exception_since == raised[r.id]        # not the re-try's time
        assert now.updated_at > raised[r.id]
    for org in Connection.select().where(Connection.kind == "xero"):
        AccountMapping.create(org=org, cw_account="4900", xero_code="260")
    run_cycle("invoice")
    for r in stuck:
        now = SyncRecord.get_by_id(r.id)
        assert now.state == "synced" and now.exception_since is None
        assert now.cw_total is not None


def test_an_exception_before_mapping_still_has_its_total(ferry, cw, xero):
    from sandbox.catalog import CLASH_COMPANY
    made = action(cw, "invoices", {"companyName": CLASH_COMPANY["name"],
                                   "identifier": CLASH_COMPANY["identifier"],
                                   "location": "Sydney", "amount": "300.00"})
    run_cycle("invoice")
    record = SyncRecord.get(SyncRecord.cw_id == made["id"])
    assert record.state == "exception" and "already exists" in record.problems[0]
    total = cw.app.sandbox.store.table("finance/invoices")[made["id"]]["total"]
    assert record.cw_total == Decimal(str(total)).quantize(Decimal("0.01")) > 0
    assert record.party_name == CLASH_COMPANY["name"] and record.currency


def test_the_exceptions_page_shows_sorts_and_filters_by_them(app, cw, xero, client, auth):
    from html import escape

    from jobs.demo import connect_sandboxes, seed_mappings_from_catalog
    from jobs.display_zone import display_zone
    from models import db
    from sync.clock import local
    with app.app_context(), db.connection_context():
        connect_sandboxes(cw.url, xero.url)
        seed_mappings_from_catalog()
        run_cycle("invoice")
        stuck = sorted(_stuck(), key=lambda r: (r.cw_total, -r.id))
        day = local(stuck[0].exception_since, display_zone()).date()
    assert len(stuck) >= 2
    auth.login()
    page = client.get("/exceptions/").get_data(as_text=True)
    for r in stuck:
        assert escape(r.party_name) in page
        assert f"{r.cw_total:,.2f} <small>{r.currency}</small>" in page
    cheap = client.get("/exceptions/?sort=amount").get_data(as_text=True)
    totals = [r.cw_total for r in sorted(stuck, key=lambda r: cheap.index(
        f'id="exception-{r.id}"'))]
    assert totals == sorted(totals)
    dear = client.get("/exceptions/?sort=-amount").get_data(as_text=True)
    totals = [r.cw_total for r in sorted(stuck, key=lambda r: dear.index(
        f'id="exception-{r.id}"'))]
    assert totals == sorted(totals, reverse=True)
    top = stuck[-1]
    only = client.get(f"/exceptions/?min={top.cw_total}").get_data(as_text=True)
    assert f'id="exception-{top.id}"' in only
    assert all(f'id="exception-{r.id}"' not in only for r in stuck if r.cw_total < top.cw_total)
    who = client.get("/exceptions/", query_string={"party": stuck[0].party_name}
                     ).get_data(as_text=True)
    assert f'id="exception-{stuck[0].id}"' in who
    bad = client.get("/exceptions/?min=lots")
    assert bad.status_code == 422
    assert "Smallest amount “lots” is not an amount like 1250.00." in bad.get_data(as_text=True)
    raised = client.get(f"/exceptions/?raised_from={day}&raised_to={day}").get_data(as_text=True)
    assert f'id="exception-{stuck[0].id}"' in raised
    none = client.get("/exceptions/?raised_to=2000-01-01").get_data(as_text=True)
    assert "No exceptions match these filters." in none
    # Records shows the total of an invoice in exception too.
    records = client.get("/records/?state=exception").get_data(as_text=True)
    assert f"{stuck[0].cw_total:,.2f} <small>{stuck[0].currency}</small>" in records

"""sync/alerts.py: the pure decisions (no I/O): when the digest is due in a timezone,
which incidents open and clear, N failures in a row, recipients and times typed in."""
from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sync.alerts import (
    Condition, ExceptionItem, digest_due, digest_window, exceptions_mail, failing_in_a_row,
    first_sentence, incident_changes, links, parse_recipients, parse_time_of_day, zone,
)

ADELAIDE = ZoneInfo("Australia/Adelaide")


def test_digest_due_follows_the_local_clock_across_daylight_saving():
    # 29 Nov 2026 Adelaide is on ACDT (UTC+10:30): 07:00 local is 20:30 UTC the day before.
    assert digest_due(datetime(2026, 11, 28, 20, 29), time(7, 0), ADELAIDE) is None
    assert digest_due(datetime(2026, 11, 28, 20, 31), time(7, 0), ADELAIDE).isoformat() == \
        "2026-11-29"
    # In June it is ACST (UTC+9:30).
    assert digest_due(datetime(2026, 6, 15, 21, 29), time(7, 0), ADELAIDE) is None
    assert digest_due(datetime(2026, 6, 15, 21, 31), time(7, 0), ADELAIDE).isoformat() == \
        "2026-06-16"


def test_a_digest_covers_the_time_since_the_last_one_up_to_when_it_is_built():
    now = datetime(2026, 11, 29, 22, 5)          # built at 08:35 Adelaide: Ferry started late
    assert digest_window(now, None) == (now - timedelta(hours=24), now)
    yesterday = datetime(2026, 11, 28, 20, 32)
    assert digest_window(now, yesterday) == (yesterday, now)
    # A week-old or future mark (a clock set back) is not trusted: the last 24 hours.
    assert digest_window(now, now - timedelta(days=8))[0] == now - timedelta(hours=24)
    assert digest_window(now, now + timedelta(minutes=1))[0] == now - timedelta(hours=24)


def test_what_failed_without_the_advice_for_one_cycle():
    assert first_sentence("ConnectWise had a problem (HTTP 503) answering GET "
                          "/finance/invoices. This is usually brief; Ferry will try again "
                          "on the next cycle.") == \
        "ConnectWise had a problem (HTTP 503) answering GET /finance/invoices."
    assert first_sentence("Xero refused it: 1.5 hours to go") == \
        "Xero refused it: 1.5 hours to go"
    assert first_sentence("") == ""


def test_an_exception_names_its_customer_and_total():
    item = ExceptionItem(record_id=1, record_type="invoice", cw_id=5, number="11279",
                         org_id=1, org_name="Adelaide", problems=["No Xero account"],
                         party="Bridgewater Dental", total=Decimal("12345.5"),
                         currency="AUD")
    assert item.who == "Customer: Bridgewater Dental; total 12,345.50 AUD"
    item.record_type, item.currency = "bill", None
    assert item.who == "Supplier: Bridgewater Dental; total 12,345.50"
    item.party = None
    assert item.who == "Total 12,345.50"
    item.total = None
    assert item.who == ""


def test_incidents_open_once_and_clear_once():
    a = Condition("worker", "Ferry's worker has not been seen", "…")
    b = Condition("failing:bill", "The last 3 bill cycles did not finish", "…")
    assert incident_changes([a, b], set()) == ([a, b], set())
    assert incident_changes([a, b], {"worker", "failing:bill"}) == ([], set())
    assert incident_changes([b], {"worker", "failing:bill"}) == ([], {"worker"})


def test_failing_in_a_row_needs_n_unfinished_runs():
    assert failing_in_a_row(["failed", "stopped", "failed"], 3)
    assert not failing_in_a_row(["failed", "done", "failed"], 3)
    assert not failing_in_a_row(["failed", "failed"], 3)          # not yet N runs
    assert failing_in_a_row(["stopped"], 1)


def test_what_people_type():
    assert parse_recipients("ar@msp.example; cfo@msp.example\nAR@msp.example,") == \
        (["ar@msp.example", "cfo@msp.example"], [])
    assert parse_recipients("ap@msp.example, accounts payable, x@y")[1] == \
        ["accounts payable", "x@y"]
    assert parse_time_of_day("7:30") == time(7, 30)
    assert parse_time_of_day("24:00") is None and parse_time_of_day("7.30") is None
    assert zone("Australia/Adelaide") == ADELAIDE and zone("Adelaide") is None


def test_links_and_one_sentence_per_fix():
    item = ExceptionItem(record_id=7, record_type="credit_note", cw_id=900301,
                         number="11301", org_id=2, org_name="Sydney IT",
                         problems=["No Xero tax type for ConnectWise tax code VAT20"])
    assert links("https://ferry.msp.example/", item) == {
        "record": "https://ferry.msp.example/records/7",
        "mappings": "https://ferry.msp.example/mappings/",
        "audit": "https://ferry.msp.example/audit/?q=credit_note%3A900301",
        "force": "https://ferry.msp.example/force-sync?record=credit_note%3A900301"}
    # Held back by run 12, with the tax row that fixes it known: the mail links to both.
    item.run_id, item.fix_path = 12, "/mappings/2/taxes?q=VAT20&new=VAT20"
    assert links("https://ferry.msp.example/", item)["audit"] == \
        "https://ferry.msp.example/audit/?run=12"
    assert links("https://ferry.msp.example/", item)["mappings"] == \
        "https://ferry.msp.example/mappings/2/taxes?q=VAT20&new=VAT20"
    mail = exceptions_mail("credit_note", 12, [item], "https://ferry.msp.example")
    assert mail["subject"] == "Ferry: Credit note 11301 could not be written to Xero"
    assert item.todo.startswith("Add the missing mapping for Sydney IT under Mappings")
    payment = ExceptionItem(record_id=8, record_type="payment", cw_id=5, number=None,
                            org_id=None, org_name=None, problems=["Overpaid."])
    assert links("https://f.example", payment)["force"] is None
    assert exceptions_mail("invoice", 1, [], "https://f.example") is None

"""Xero's call limits with their real headers, and Idempotency-Key replay rules."""
from sandbox.xero import create_app

from .conftest import Api, Served, invoice, login


def test_every_answer_carries_the_remaining_counts(adelaide):
    first = adelaide.get("/Organisation")
    second = adelaide.get("/Organisation")
    assert int(first.headers["X-MinLimit-Remaining"]) == 59
    assert int(second.headers["X-MinLimit-Remaining"]) == 58
    assert int(second.headers["X-DayLimit-Remaining"]) == 4998
    assert int(second.headers["X-AppMinLimit-Remaining"]) == 9998


def test_sixty_first_call_in_a_minute_is_429_until_the_window_moves(xero, adelaide):
    for _ in range(60):
        assert adelaide.get("/Currencies").status_code == 200
    refused = adelaide.get("/Currencies")
    assert refused.status_code == 429
    assert refused.headers["X-Rate-Limit-Problem"] == "minute"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    xero.advance(int(refused.headers["Retry-After"]))
    assert adelaide.get("/Currencies").status_code == 200


def test_limits_are_per_tenant(xero, adelaide, sydney):
    xero.xero.limits.exhaust(adelaide.tenant_id, "minute")
    assert adelaide.get("/Currencies").status_code == 429
    assert sydney.get("/Currencies").status_code == 200


def test_starter_day_limit_is_configurable():
    served = Served(day_limit=3)
    try:
        api = Api(served, login(served)["access_token"], served.org("Sydney").tenant_id)
        for _ in range(3):
            assert api.get("/Currencies").status_code == 200
        refused = api.get("/Currencies")
        assert (refused.status_code, refused.headers["X-Rate-Limit-Problem"]) == (429, "day")
        assert int(refused.headers["Retry-After"]) > 3600
    finally:
        served.close()


def test_a_sixth_call_while_five_are_in_flight_is_refused_as_concurrent(xero, adelaide):
    limits = xero.xero.limits
    for _ in range(5):      # five calls of Ferry's still running
        assert limits.acquire(adelaide.tenant_id)[0] is None
    refused = adelaide.get("/Currencies")
    assert (refused.status_code, refused.headers["X-Rate-Limit-Problem"]) == (429, "concurrent")
    limits.release(adelaide.tenant_id)
    assert adelaide.get("/Currencies").status_code == 200


def test_rate_limit_faults(xero, adelaide):
    xero.http.post("/_sandbox/faults", json={"kind": "429-day", "path": "/api.xro/*", "nth": 1})
    refused = adelaide.get("/Currencies")
    assert (refused.status_code, refused.headers["X-Rate-Limit-Problem"]) == (429, "day")
    assert refused.headers["X-DayLimit-Remaining"] == "0"


def test_same_key_same_body_replays_without_writing_twice(xero, adelaide, customer):
    body = {"Invoices": [invoice(customer["ContactID"], InvoiceNumber="CW-9")]}
    key = {"Idempotency-Key": "ferry-invoice-9-v1"}
    first = adelaide.put("/Invoices", body, headers=key)
    second = adelaide.put("/Invoices", body, headers=key)
    assert first.json()["Invoices"][0]["InvoiceID"] == second.json()["Invoices"][0]["InvoiceID"]
    assert len(adelaide.get("/Invoices").json()["Invoices"]) == 1


def test_same_key_different_body_is_a_400(adelaide, customer):
    key = {"Idempotency-Key": "ferry-contact-1"}
    adelaide.put("/Contacts", {"Contacts": [{"Name": "One"}]}, headers=key)
    clash = adelaide.put("/Contacts", {"Contacts": [{"Name": "Two"}]}, headers=key, check=False)
    assert clash.status_code == 400
    assert "Idempotency-Key" in clash.json()["Message"]


def test_keys_are_forgotten_after_six_minutes(xero, adelaide, customer):
    bill = invoice(customer["ContactID"], ("Parts", "1", "10", "310", "INPUT"), Type="ACCPAY",
                   InvoiceNumber="SUP-1")
    key = {"Idempotency-Key": "ferry-bill-1"}
    adelaide.put("/Invoices", {"Invoices": [bill]}, headers=key)
    xero.advance(5 * 60)
    adelaide.put("/Invoices", {"Invoices": [bill]}, headers=key)
    assert len(adelaide.get("/Invoices").json()["Invoices"]) == 1
    xero.advance(61 + 60)
    adelaide.put("/Invoices", {"Invoices": [bill]}, headers=key)
    # ACCPAY numbers are not unique, so a forgotten key means a duplicate bill.
    assert len(adelaide.get("/Invoices").json()["Invoices"]) == 2


def test_reset_rebuilds_the_same_orgs():
    app = create_app(seed=7)
    before = {o.tenant_id for o in app.xero.store.orgs.values()}
    app.xero.reset()
    assert {o.tenant_id for o in app.xero.store.orgs.values()} == before
    assert before != {o.tenant_id for o in create_app(seed=8).xero.store.orgs.values()}

"""The Sync section of the settings page: intervals, default organisation, posting
batches, and per organisation how documents are written; bad values get a sentence and
nothing is saved; saving moves a changed cycle on the schedule at once."""
import re
from datetime import datetime, timedelta, timezone

import pytest

from jobs.queue import get_redis
from jobs.schedule import next_runs, register_schedule
from models import Connection, OrgRecordSetting, Setting, db
from tests.conftest import csrf_token


@pytest.fixture
def orgs(app):
    with app.app_context(), db.connection_context():
        return [Connection.create(kind="xero", name=name, tenant_id=tenant).id
                for name, tenant in (("Harbour IT Pty Ltd", "t-1"), ("Reef Cloud", "t-2"))]


def _form(client, orgs, **changes) -> dict:
    form = {"csrf_token": csrf_token(client, "/settings/"), "interval_invoice": "6",
            "interval_credit_note": "6", "interval_bill": "6", "default_org": ""}
    for org in orgs:
        for kind in ("invoice", "credit_note", "bill"):
            form[f"org{org}_status_{kind}"] = "DRAFT"
            form[f"org{org}_amounts_{kind}"] = "Exclusive"
    form.update(changes)
    return form


def _stored(app, org):
    with app.app_context(), db.connection_context():
        return ({k.key: k.value for k in Setting.select() if k.key.startswith("sync.")},
                {r.record_type: (r.status, r.line_amount_types)
                 for r in OrgRecordSetting.select().where(OrgRecordSetting.org == org)},
                Connection.get_by_id(org).settings)


def test_the_section_shows_the_defaults(client, auth, orgs):
    auth.login()
    html = client.get("/settings/").get_data(as_text=True)
    assert 'name="interval_invoice" value="6"' in html
    assert "None: such a record becomes an exception" in html
    assert re.search(r'<input type="checkbox" name="post_batches"\s*>', html)
    assert "a later edit in ConnectWise can no longer flow to Xero" in html
    assert "Written to Reef Cloud" in html
    assert f'name="org{orgs[0]}_rounding_account" value=""' in html


def test_saving_stores_everything_and_moves_a_changed_cycle(app, client, auth, orgs):
    auth.login()
    first, second = orgs
    with app.app_context(), db.connection_context():
        register_schedule(get_redis())          # as the scheduler did when it started
        before = next_runs(get_redis())
    answer = client.post("/settings/sync", headers={"HX-Request": "true"}, data=_form(
        client, orgs, interval_bill="2", default_org=str(second), post_batches="on",
        **{f"org{first}_status_invoice": "AUTHORISED",
           f"org{first}_amounts_bill": "Inclusive",
           f"org{first}_rounding_account": "860",
           f"org{first}_untaxed_sales": "exemptoutput",
           f"org{first}_untaxed_purchases": "EXEMPTEXPENSES"}))
    assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    assert "Saved. A changed interval counts from now" in html
    assert "<html" not in html and 'name="interval_bill" value="2"' in html
    settings, rows, extra = _stored(app, first)
    assert settings["sync.interval_hours.bill"] == 2
    assert settings["sync.interval_hours.invoice"] == 6
    assert settings["sync.default_org"] == second and settings["sync.post_batches"] is True
    assert rows["invoice"] == ("AUTHORISED", "Exclusive")
    assert rows["bill"] == ("DRAFT", "Inclusive")
    assert extra["rounding_account"] == "860"
    assert extra["untaxed_sales"] == "EXEMPTOUTPUT"
    assert extra["untaxed_purchases"] == "EXEMPTEXPENSES"
    # The schedule took the new interval without a restart.
    bill_next = next_runs(get_redis())["ferry-cycle-bill"]
    assert abs(bill_next - (datetime.now(timezone.utc) + timedelta(hours=2))) \
        < timedelta(seconds=5)
    assert next_runs(get_redis())["ferry-cycle-invoice"] == before["ferry-cycle-invoice"]


def test_a_plain_form_post_returns_to_the_settings_page(app, client, auth, orgs):
    auth.login()
    answer = client.post("/settings/sync", data=_form(client, orgs, interval_invoice="1"))
    assert answer.status_code == 302 and answer.headers["Location"] == "/settings/"
    page = client.get("/settings/").get_data(as_text=True)
    assert "Saved." in page and 'name="interval_invoice" value="1"' in page


@pytest.mark.parametrize("changes, sentence", [
    ({"interval_invoice": "30"},
     "Run invoices every 1 to 24 hours; “30” is outside that range."),
    ({"interval_credit_note": "0"},
     "Run credit notes every 1 to 24 hours; “0” is outside that range."),
    ({"interval_bill": "six"},
     "Run bills every 1 to 24 hours; “six” is not a whole number of hours."),
    ({"default_org": "999"}, "The default organisation is no longer connected"),
    ({"org{0}_status_bill": "PAID"},
     "Choose how bills are written to Harbour IT Pty Ltd (draft or authorised)."),
    ({"org{0}_amounts_invoice": "NoTax"},
     "Choose how invoices are written to Harbour IT Pty Ltd (tax exclusive or tax "
     "inclusive)."),
    ({"org{0}_rounding_account": "rounding please"},
     "The rounding account for Harbour IT Pty Ltd is a Xero account code of up to 10 "
     "letters or digits, such as 860; “rounding please” is not one."),
    ({"org{0}_untaxed_sales": "GST free"},
     "The tax type for untaxed sales lines in Harbour IT Pty Ltd is a Xero tax type"),
])
def test_a_bad_value_gets_a_sentence_and_nothing_is_saved(app, client, auth, orgs,
                                                          changes, sentence):
    auth.login()
    changes = {k.format(orgs[0]): v for k, v in changes.items()}
    # A valid change beside the bad one must not be saved either.
    answer = client.post("/settings/sync", headers={"HX-Request": "true"}, data=_form(
        client, orgs, post_batches="on", **{f"org{orgs[1]}_rounding_account": "861"},
        **changes))
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert sentence in html
    # Beside its own field (the next thing after it, before any other field), not at
    # the top of the long card; the top only says one value needs correcting.
    [name] = changes
    field = html.index(f'name="{name}"')
    beside = html.index('class="field-error"', field)
    assert html.index(sentence) > beside
    assert 'name="' not in html[field + len(name) + 7:beside]
    assert html.index(sentence) > html.index("<form")
    assert "One value needs correcting: each says what is wrong beside it." in html
    settings, rows, extra = _stored(app, orgs[1])
    assert settings == {} and rows == {} and not extra.get("rounding_account")
    # What the person typed stays in the form to correct.
    for name, typed in changes.items():
        if name.startswith("interval_") or name.endswith("rounding_account"):
            assert f'name="{name}" value="{typed}"' in html


def test_a_plain_post_with_a_bad_value_answers_422_with_the_page(client, auth, orgs):
    auth.login()
    answer = client.post("/settings/sync", data=_form(client, orgs, interval_bill="six"))
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert "<nav" in html                      # the whole page, in the layout
    field = html.index('name="interval_bill"')
    assert html.index("Run bills every 1 to 24 hours; “six” is not a whole number of "
                      "hours.") > field
    assert 'name="interval_bill" value="six"' in html


def test_saving_needs_the_csrf_token(client, auth, orgs):
    auth.login()
    form = _form(client, orgs)
    del form["csrf_token"]
    assert client.post("/settings/sync", data=form).status_code == 400


def test_the_payment_back_sync_has_its_own_interval(client, auth, app, orgs):
    auth.login()
    page = client.get("/settings/").get_data(as_text=True)
    assert "Sync payments from Xero to ConnectWise every" in page
    answer = client.post("/settings/sync", data=_form(client, orgs, interval_payment="3"))
    assert answer.status_code == 302          # saved, back to the settings page
    with app.app_context(), db.connection_context():
        assert Setting.get_value("sync.interval_hours.payment") == 3
        assert "ferry-cycle-payment" in next_runs(get_redis())
    bad = client.post("/settings/sync", data=_form(client, orgs, interval_payment="0"),
                      headers={"HX-Request": "true"})
    assert bad.status_code == 422
    assert "Run payments from Xero to ConnectWise every 1 to 24 hours" in \
        bad.get_data(as_text=True)

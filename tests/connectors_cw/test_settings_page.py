"""The ConnectWise form on the settings page: save (the private key encrypted and never
shown again), test the connection, CSRF on both."""
import re

from models import Connection, db
from sandbox.connectwise import DEFAULTS, READONLY
from tests.conftest import csrf_token


def form(cw, **overrides):
    values = {"site": cw.url, "company_id": DEFAULTS["company"],
              "public_key": DEFAULTS["public_key"], "private_key": DEFAULTS["private_key"],
              "client_id": DEFAULTS["client_id"]}
    values.update(overrides)
    return values


def test_save_then_the_private_key_is_encrypted_and_never_shown(client, auth, app, cw):
    auth.login()
    token = csrf_token(client, "/settings/")
    response = client.post("/settings/connectwise", data={**form(cw), "csrf_token": token})
    assert response.status_code == 302
    page = client.get("/settings/").get_data(as_text=True)
    assert DEFAULTS["private_key"] not in page and "saved: leave blank to keep" in page
    assert f'value="{cw.url}"' in page
    with app.app_context(), db.connection_context():
        raw = db.execute_sql("select secrets from connection").fetchone()[0]
        row = Connection.get(Connection.kind == "connectwise")
    assert DEFAULTS["private_key"] not in raw
    assert row.secrets == {"private_key": DEFAULTS["private_key"]}
    # Saving again with the key left blank keeps it.
    client.post("/settings/connectwise", data={**form(cw, private_key="", client_id="other"),
                                               "csrf_token": token})
    with app.app_context(), db.connection_context():
        row = Connection.get(Connection.kind == "connectwise")
    assert row.secrets == {"private_key": DEFAULTS["private_key"]}
    assert row.settings["client_id"] == "other"


def test_missing_fields_are_named(client, auth, cw):
    auth.login()
    token = csrf_token(client, "/settings/")
    response = client.post("/settings/connectwise", headers={"HX-Request": "true"},
                           data={**form(cw, private_key="", company_id=""), "csrf_token": token})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Enter the company id." in html and "Enter the private key." in html
    assert "<html" not in html   # the section alone for HTMX


def test_a_bad_site_does_not_ask_for_a_saved_private_key(client, auth, cw):
    """The key field says "saved: leave blank to keep": a typo in another field must not
    then claim the key is missing."""
    auth.login()
    token = csrf_token(client, "/settings/")
    client.post("/settings/connectwise", data={**form(cw), "csrf_token": token})
    response = client.post("/settings/connectwise", headers={"HX-Request": "true"},
                           data={**form(cw, private_key="", site="ftp://x"), "csrf_token": token})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "https://" in html and "Enter the private key." not in html


def test_test_connection_shows_each_sentence(client, auth, cw):
    auth.login()
    token = csrf_token(client, "/settings/")
    client.post("/settings/connectwise", data={**form(cw), "csrf_token": token})
    response = client.post("/settings/connectwise/test", headers={"HX-Request": "true"},
                           data={**form(cw, private_key=""), "csrf_token": token})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.count('class="ok"') == 6 and "Ferry can read invoices." in html
    readonly = client.post("/settings/connectwise/test", data={
        **form(cw, public_key=READONLY[0], private_key=READONLY[1]), "csrf_token": token})
    page = readonly.get_data(as_text=True)
    assert "<html" in page                    # a plain form post gets the whole page
    assert "Finance &gt; Invoicing" in page and 'class="problem"' in page
    assert "The ConnectWise API member may not read invoices" in \
        client.get("/settings/").get_data(as_text=True)  # kept as the connection's problem


def test_both_posts_need_the_csrf_token(client, auth, cw):
    auth.login()
    for path in ("/settings/connectwise", "/settings/connectwise/test"):
        response = client.post(path, data=form(cw))
        assert response.status_code == 400
    assert not re.search(r"Ferry can read", client.get("/settings/").get_data(as_text=True))

"""Finding 6: anyone could put words on Ferry's pages through the unauthenticated Xero
callback's `error_description` (e.g. "call 0800 … to restore access")."""
from urllib.parse import parse_qs, urlsplit

import pytest

from connectors.xero_oauth import XeroApp, save_app
from models import db
from tests.conftest import csrf_token

INJECTED = "Your Xero access expired. Call 0800 555 0199 to restore it."


def page_after(client, response) -> str:
    while response.status_code == 302:
        response = client.get(response.headers["Location"])
    return response.get_data(as_text=True)


def test_a_stranger_cannot_write_on_the_login_page(client):
    response = client.get("/settings/xero/callback", query_string={
        "error": "server_error", "error_description": INJECTED, "state": "anything"})
    page = page_after(client, response)
    assert "Sign in" in page
    assert "0800" not in page and "does not belong to your current session" in page


@pytest.fixture
def consent_started(client, auth, app):
    auth.login()
    with app.app_context(), db.connection_context():
        save_app(XeroApp(client_id="CLIENTID", client_secret="secret",
                         redirect_uri="http://127.0.0.1:5000/settings/xero/callback"))
    response = client.post("/settings/xero/connect",
                           data={"csrf_token": csrf_token(client, "/settings/")})
    return parse_qs(urlsplit(response.headers["Location"]).query)["state"][0]


def test_a_signed_in_user_does_not_see_text_from_someone_elses_reply(client,
                                                                    consent_started):
    response = client.get("/settings/xero/callback", query_string={
        "error": "server_error", "error_description": INJECTED, "state": "not-yours"})
    page = page_after(client, response)
    assert "0800" not in page and "does not belong to your current session" in page


def test_xeros_own_words_reach_the_session_that_asked(client, consent_started):
    response = client.get("/settings/xero/callback", query_string={
        "error": "unauthorized_client", "error_description": "Invalid redirect_uri",
        "state": consent_started})
    assert "Xero did not grant access (Invalid redirect_uri)" in page_after(client, response)

"""Finding 2: stored secrets were sent to any host. With the private key left blank,
Test connection reused the saved key against whatever site the form named; a new Xero
API base with a blank secret kept the secret and Disconnect then sent the live access
token there; a company id of `x/../../any/path?` made Ferry fetch another path and keep
the answer in the audit log. Here the other host is a capture server on loopback."""
import pytest

from connectors.connectwise import ConnectWise, CWSettings, UnsafeSettings
from connectors.audit import ListSink
from connectors.xero_oauth import XeroApp, load_app, save_app
from models import AuditEntry, Connection, Setting, XeroGrant, db
from tests.conftest import csrf_token
from tests.security.conftest import INTERNAL_PAGE

PRIVATE_KEY = "REAL-PRIVATE-KEY-d41d8cd9"
SAVED_SITE = "https://au.myconnectwise.net"
CLIENT_SECRET = "REAL-XERO-CLIENT-SECRET-91b2"
ACCESS_TOKEN = "LIVE-ACCESS-TOKEN-5e6f"
REFRESH_TOKEN = "LIVE-REFRESH-TOKEN-7a8b"


@pytest.fixture
def signed_in(client, auth, app):
    auth.login()
    with app.app_context(), db.connection_context():
        Connection.create(kind="connectwise", name="ConnectWise (acme)", settings={
            "site": SAVED_SITE, "company_id": "acme", "public_key": "pub",
            "client_id": "cid"}, secrets={"private_key": PRIVATE_KEY})
    return client


def cw_form(client, **fields):
    form = {"csrf_token": csrf_token(client, "/settings/"), "site": SAVED_SITE,
            "company_id": "acme", "public_key": "pub", "client_id": "cid",
            "private_key": ""}
    form.update(fields)
    return form


def test_test_connection_never_sends_the_saved_key_to_another_site(signed_in, capture):
    response = signed_in.post("/settings/connectwise/test",
                              data=cw_form(signed_in, site=capture.url))
    assert response.status_code == 422
    assert "Type the private key again" in response.get_data(as_text=True)
    assert capture.requests == []           # nothing at all went there


def test_saving_another_site_needs_the_key_again(signed_in, capture, app):
    response = signed_in.post("/settings/connectwise",
                              data=cw_form(signed_in, site=capture.url),
                              headers={"HX-Request": "true"})
    assert response.status_code == 422
    assert "Type the private key again" in response.get_data(as_text=True)
    with app.app_context(), db.connection_context():
        saved = Connection.get(Connection.kind == "connectwise")
        assert saved.settings["site"] == SAVED_SITE
        assert saved.secrets == {"private_key": PRIVATE_KEY}
    assert capture.requests == []


def test_the_saved_key_still_works_for_its_own_site(signed_in, app):
    # Only the company id changes: the blank key means the saved one, as before.
    response = signed_in.post("/settings/connectwise",
                              data=cw_form(signed_in, company_id="acme2"))
    assert response.status_code == 302
    with app.app_context(), db.connection_context():
        saved = Connection.get(Connection.kind == "connectwise")
        assert saved.settings["company_id"] == "acme2"
        assert saved.secrets == {"private_key": PRIVATE_KEY}


@pytest.mark.parametrize("company_id", ["x/../../any/path?", "../admin", "a b", "x#y",
                                        "x%2F..%2F"])
def test_a_company_id_cannot_steer_the_request_elsewhere(signed_in, capture, company_id):
    response = signed_in.post("/settings/connectwise/test", data=cw_form(
        signed_in, site=capture.url, company_id=company_id, private_key="typed-key"))
    assert response.status_code == 422
    assert "company id" in response.get_data(as_text=True)
    assert capture.requests == []


def test_the_connector_itself_refuses_such_settings(capture):
    for settings in (CWSettings(capture.url, "x/../../any", "p", "k", "c"),
                     CWSettings("http://cw.example.com", "acme", "p", "k", "c"),
                     CWSettings("https://user@cw.example.com", "acme", "p", "k", "c")):
        with pytest.raises(UnsafeSettings):
            ConnectWise(settings, sink=ListSink())
    assert capture.requests == []


def test_keys_travel_only_over_https_or_to_this_machine(signed_in):
    response = signed_in.post("/settings/connectwise/test", data=cw_form(
        signed_in, site="http://cw.example.com", private_key="typed-key"))
    assert response.status_code == 422
    assert "https://" in response.get_data(as_text=True)


def test_answers_from_an_unsaved_host_are_not_kept_in_the_audit_log(signed_in, capture, app):
    # A typed key may be tested anywhere (its owner typed it), but what that other
    # server answers must not become readable through the audit log.
    signed_in.post("/settings/connectwise/test", data=cw_form(
        signed_in, site=capture.url, private_key="typed-key"))
    assert capture.requests, "the test did run against the typed site"
    assert capture.requests[0]["path"] == "/login/companyinfo/acme"
    with app.app_context(), db.connection_context():
        bodies = [e.response_body or "" for e in AuditEntry.select()]
    assert bodies and not any("INTERNAL-ONLY" in b for b in bodies)
    assert "INTERNAL-ONLY" in INTERNAL_PAGE


# -- Xero ----------------------------------------------------------------------------------------
@pytest.fixture
def xero_connected(signed_in, app):
    """A Xero app saved for Xero's real hosts, and one organisation connected with a live
    token (nothing here reaches Xero: the tests only try to move the addresses)."""
    with app.app_context(), db.connection_context():
        save_app(XeroApp(client_id="CLIENTID", client_secret=CLIENT_SECRET,
                         redirect_uri="http://127.0.0.1:5000/settings/xero/callback"))
        grant = XeroGrant.create(token={
            "access_token": ACCESS_TOKEN, "refresh_token": REFRESH_TOKEN,
            "token_type": "Bearer", "scope": "", "expires_at": 4102444800.0},
            status="active")
        org = Connection.create(kind="xero", name="MSP Pty Ltd", tenant_id="t-1", settings={
            "grant_id": grant.id, "xero_connection_id": "c-1"})
    return org.id


def xero_form(client, **fields):
    form = {"csrf_token": csrf_token(client, "/settings/"), "client_id": "CLIENTID",
            "client_secret": "", "redirect_uri": "", "scopes": "granular",
            "authorize_url": "https://login.xero.com/identity/connect/authorize",
            "token_url": "https://identity.xero.com/connect/token",
            "api_base": "https://api.xero.com"}
    form.update(fields)
    return form


@pytest.mark.parametrize("field", ["api_base", "token_url"])
def test_moving_xero_elsewhere_needs_the_secret_again(signed_in, xero_connected, capture,
                                                      app, field):
    url = capture.url + ("/connect/token" if field == "token_url" else "")
    answer = signed_in.post("/settings/xero/app", data=xero_form(signed_in, **{field: url}))
    page = answer.get_data(as_text=True)          # 422: the page, the sentence beside it
    assert answer.status_code == 422 and "Type the client secret again" in page
    with app.app_context(), db.connection_context():
        assert getattr(load_app(""), field).startswith("https://")    # unchanged
        assert XeroGrant.get().token["access_token"] == ACCESS_TOKEN
    assert capture.requests == []


def test_after_a_move_the_old_tokens_never_reach_the_new_host(signed_in, xero_connected,
                                                               capture, app):
    # Whoever types the secret may move the app, but the tokens Xero issued stay behind.
    signed_in.post("/settings/xero/app", data=xero_form(
        signed_in, client_secret="the-new-servers-secret", api_base=capture.url,
        token_url=capture.url + "/connect/token"))
    with app.app_context(), db.connection_context():
        assert load_app("").api_base == capture.url
        grant = XeroGrant.get()
        assert grant.token is None and grant.status == "needs_reconnect"
    signed_in.post(f"/settings/xero/{xero_connected}/disconnect",
                   data={"csrf_token": csrf_token(signed_in, "/settings/"), "confirmed": "1"})
    for secret in (ACCESS_TOKEN, REFRESH_TOKEN, CLIENT_SECRET):
        assert not capture.saw(secret)
    with app.app_context(), db.connection_context():
        assert Connection.get_by_id(xero_connected).status == "disabled"


def test_xero_addresses_must_be_https(signed_in, xero_connected, app):
    answer = signed_in.post("/settings/xero/app", data=xero_form(
        signed_in, client_secret="typed", api_base="http://api.evil.example"))
    assert answer.status_code == 422 and "https://" in answer.get_data(as_text=True)
    with app.app_context(), db.connection_context():
        assert Setting.get_value("xero.api_base") == "https://api.xero.com"

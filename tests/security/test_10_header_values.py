"""Issue 20, item 4 (finding 4): a ConnectWise client id with a non-ASCII character was
saved; Test connection then answered 500 and every cycle failed with UnicodeEncodeError.
What travels in HTTP headers is checked when it is saved (a sentence, nothing saved),
and a connector meeting such a value saved earlier stops with a sentence."""
import html

from jobs.cycle import run_cycle
from models import Connection, Setting, SyncRun, db
from tests.conftest import csrf_token

CW_FORM = {"site": "https://na.myconnectwise.net", "company_id": "acme",
           "public_key": "AbCdEf0123456789", "private_key": "ZyXw9876543210ab",
           "client_id": "3f2504e0-4f89-11d3-9a0c-0305e82c3301"}
DASHED = "3f2504e0–4f89-11d3-9a0c-0305e82c3301"       # an en dash, as a chat app makes it


def _text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def test_a_connectwise_client_id_no_header_can_carry_is_refused_when_saved(client, auth, app):
    auth.login()
    token = csrf_token(client, "/settings/")
    answer = client.post("/settings/connectwise", headers={"HX-Request": "true"},
                         data={**CW_FORM, "client_id": DASHED, "csrf_token": token})
    assert answer.status_code == 422
    assert ("The client id holds “–” at character 9, which cannot be sent to ConnectWise"
            in _text(answer))
    for name, value in (("public_key", "AbCdEf 0123456789"), ("private_key", "Zyx\u00a0w98")):
        refused = client.post("/settings/connectwise", headers={"HX-Request": "true"},
                              data={**CW_FORM, name: value, "csrf_token": token})
        assert refused.status_code == 422
        assert "an invisible character (U+00" in _text(refused)
    with app.app_context(), db.connection_context():
        assert not Connection.select().where(Connection.kind == "connectwise").exists()


def test_a_cycle_meeting_such_a_saved_client_id_stops_with_a_sentence(app, capture):
    """A server that answers like ConnectWise (so the calls with the keys are made)."""
    with app.app_context(), db.connection_context():
        Connection.create(kind="connectwise", name="ConnectWise (acme)",
                          settings={**CW_FORM, "site": capture.url, "client_id": DASHED},
                          secrets={"private_key": CW_FORM["private_key"]})
        run = run_cycle("invoice")
        assert run.status == "stopped"
        assert run.message.startswith("The client id holds “–” at character 9, which "
                                      "cannot be sent to ConnectWise")
        assert run.message.endswith("Enter it again under Settings → ConnectWise.")
        assert SyncRun.get_by_id(run.id).message == run.message
    assert not any("apis/3.0" in r["path"] for r in capture.requests)


def test_a_xero_client_id_or_secret_no_header_can_carry_is_refused_beside_it(client, auth,
                                                                            app):
    auth.login()
    token = csrf_token(client, "/settings/")
    for field, value in (("client_id", "ABCDEF0123456789ABCDEF012345678é"),
                         ("client_secret", "secret with a space")):
        form = {"client_id": "ABCDEF0123456789ABCDEF0123456789",
                "client_secret": "s3cr3t-Abc_def", "scopes": "granular", field: value,
                "csrf_token": token}
        answer = client.post("/settings/xero/app", data=form)
        assert answer.status_code == 422
        label = "The client id" if field == "client_id" else "The client secret"
        assert f"{label} holds " in _text(answer) and "cannot be sent to Xero" in _text(answer)
    with app.app_context(), db.connection_context():
        assert not Setting.get_value("xero.client_id")


def test_connect_xero_with_such_a_saved_secret_says_so(client, auth, app):
    with app.app_context(), db.connection_context():
        Setting.set_value("xero.client_id", "ABCDEF0123456789ABCDEF0123456789")
        Setting.set_value("xero.client_secret", "sécret", secret=True)
    auth.login()
    token = csrf_token(client, "/settings/")
    answer = client.post("/settings/xero/connect", data={"csrf_token": token})
    assert answer.status_code == 302
    page = _text(client.get("/settings/"))
    assert "The client secret holds “é” at character 2, which cannot be sent to Xero" in page

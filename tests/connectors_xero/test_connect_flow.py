"""Ferry's Xero pages (Flask test client) against the Xero sandbox over HTTP: connect,
choose organisations, disconnect, and a sentence for each way it can fail."""
from urllib.parse import urlsplit

import httpx2
import pytest

from models import Connection, XeroGrant
from sandbox.xero import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from tests.conftest import csrf_token
from tests.connectors_xero.conftest import Sandbox


def save_settings(client, url, secret=DEFAULT_CLIENT_SECRET):
    return client.post("/settings/xero/app", data={
        "csrf_token": csrf_token(client, "/settings/"), "client_id": DEFAULT_CLIENT_ID,
        "client_secret": secret, "redirect_uri": "", "scopes": "granular",
        "authorize_url": f"{url}/identity/connect/authorize",
        "token_url": f"{url}/connect/token", "api_base": url})


def start(client) -> str:
    response = client.post("/settings/xero/connect",
                           data={"csrf_token": csrf_token(client, "/settings/")})
    assert response.status_code == 302
    return response.headers["Location"]


def callback_path(authorize_url: str) -> str:
    """What Xero sends the browser back to after the user allows access."""
    answer = httpx2.get(authorize_url + "&auto_consent=1", follow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    location = urlsplit(answer.headers["location"])
    return f"{location.path}?{location.query}"


def settings_page(client) -> str:
    return client.get("/settings/").get_data(as_text=True)


@pytest.fixture
def signed_in(client, auth, sandbox):
    auth.login()
    save_settings(client, sandbox.url)
    return client


def test_connect_choose_one_organisation_then_disconnect(signed_in, sandbox):
    client = signed_in
    authorize = start(client)
    assert authorize.startswith(sandbox.url) and "code_challenge_method=S256" in authorize
    response = client.get(callback_path(authorize))
    assert response.headers["Location"].endswith("/settings/xero/organisations")
    page = client.get("/settings/xero/organisations").get_data(as_text=True)
    orgs = list(sandbox.xero.store.orgs.values())
    assert all(org.name in page for org in orgs)

    keep, drop = orgs
    client.post("/settings/xero/organisations", data={
        "csrf_token": csrf_token(client, "/settings/"), "tenant": [keep.tenant_id]})
    rows = list(Connection.select().where(Connection.kind == "xero"))
    assert [(r.name, r.status) for r in rows] == [(keep.name, "active")]
    assert "Connected to Xero: " + keep.name in settings_page(client)
    assert sandbox.xero.identity.connected(keep.tenant_id)
    assert not sandbox.xero.identity.connected(drop.tenant_id)   # handed back to Xero

    client.post(f"/settings/xero/{rows[0].id}/disconnect",
                data={"csrf_token": csrf_token(client, "/settings/"), "confirmed": "1"})
    assert not sandbox.xero.identity.connected(keep.tenant_id)
    assert Connection.get_by_id(rows[0].id).status == "disabled"
    assert XeroGrant.get_by_id(rows[0].settings["grant_id"]).token is None
    assert sandbox.journal(method="POST", path="/connect/revocation")
    assert "is disconnected from Xero" in settings_page(client)


def test_reconnecting_revives_an_organisation_that_needed_it(signed_in, sandbox):
    client = signed_in
    client.get(callback_path(start(client)))
    tenants = [o.tenant_id for o in sandbox.xero.store.orgs.values()]
    client.post("/settings/xero/organisations", data={
        "csrf_token": csrf_token(client, "/settings/"), "tenant": tenants})
    first = Connection.select().where(Connection.kind == "xero").first()
    first.status, first.last_error = "needs_reconnect", "Xero no longer accepts Ferry's access."
    first.save()

    client.get(callback_path(start(client)))
    assert "will be reconnected" in client.get("/settings/xero/organisations").get_data(as_text=True)
    client.post("/settings/xero/organisations", data={
        "csrf_token": csrf_token(client, "/settings/"), "tenant": tenants})
    revived = Connection.get_by_id(first.id)
    assert revived.status == "active" and revived.last_error is None
    assert Connection.select().where(Connection.kind == "xero").count() == 2


def test_cancelled_consent_is_explained(signed_in, sandbox):
    client = signed_in
    authorize = start(client)
    state = dict(p.split("=", 1) for p in urlsplit(authorize).query.split("&"))["state"]
    client.get(f"/settings/xero/callback?error=access_denied&state={state}")
    assert "You cancelled the consent in Xero" in settings_page(client)
    assert XeroGrant.select().count() == 0


def test_a_reply_for_another_session_connects_nothing(signed_in, sandbox, app):
    path = callback_path(start(signed_in))
    other = app.test_client()
    response = other.get(path)                     # no session: the state cannot match
    assert response.status_code == 302
    signed_in.get(path.replace("state=", "state=forged"))
    assert "does not belong to your current session" in settings_page(signed_in)
    assert XeroGrant.select().count() == 0


def test_a_wrong_client_secret_is_explained(client, auth, sandbox):
    auth.login()
    save_settings(client, sandbox.url, secret="not-the-secret")
    client.get(callback_path(start(client)))
    assert "rejected the client id or client secret" in settings_page(client)


def test_a_redirect_uri_xero_does_not_know_shows_which_one_to_register(client, auth):
    strict = Sandbox(redirect_uris=["https://ferry.example.com/settings/xero/callback"])
    try:
        auth.login()
        save_settings(client, strict.url)
        answer = httpx2.get(start(client), timeout=10)
        assert "Invalid redirect_uri" in answer.text
        page = settings_page(client)
        assert "http://127.0.0.1:5000/settings/xero/callback" in page
        assert "Invalid redirect_uri" in page and "Register exactly this redirect URI" in page
    finally:
        strict.stop()


def test_a_redirect_uri_that_is_not_a_web_address_is_refused(signed_in, sandbox):
    before = settings_page(signed_in)
    answer = signed_in.post("/settings/xero/app", data={
        "csrf_token": csrf_token(signed_in, "/settings/"), "client_id": DEFAULT_CLIENT_ID,
        "client_secret": "", "redirect_uri": "notaurl", "scopes": "granular",
        "authorize_url": f"{sandbox.url}/identity/connect/authorize",
        "token_url": f"{sandbox.url}/connect/token", "api_base": sandbox.url})
    # A plain post: 422 with the whole page, the sentence beside the redirect URI and
    # what was typed still there to correct.
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert "<nav" in page
    field = page.index('name="redirect_uri" value="notaurl"')
    sentence = page.index("must be a full web address")
    assert field < sentence < page.index('name="scopes"')
    assert "Nothing was saved." in page and "Saved." not in page.replace("Nothing was saved.", "")
    assert "http://127.0.0.1:5000/settings/xero/callback" in before
    assert 'value="notaurl"' not in settings_page(signed_in)        # nothing was saved


def test_xero_app_problems_answer_htmx_with_the_section_and_saved_only_on_success(
        signed_in, sandbox):
    form = {"csrf_token": csrf_token(signed_in, "/settings/"), "client_id": "",
            "client_secret": "", "redirect_uri": "", "scopes": "granular",
            "authorize_url": f"{sandbox.url}/identity/connect/authorize",
            "token_url": f"{sandbox.url}/connect/token", "api_base": sandbox.url}
    htmx = {"HX-Request": "true"}
    answer = signed_in.post("/settings/xero/app", data=form, headers=htmx)
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert html.startswith('<section class="card" id="xero-settings">')   # the section only
    field = html.index('name="client_id"')
    assert field < html.index("Enter the client id and client secret") < \
        html.index('name="client_secret"')
    assert "Saved." not in html.replace("Nothing was saved.", "")
    # An address Ferry will not send secrets to: beside that address, details opened.
    answer = signed_in.post("/settings/xero/app", headers=htmx, data={
        **form, "client_id": DEFAULT_CLIENT_ID, "api_base": "ftp://api.example"})
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert "<details open>" in html.replace("<details open >", "<details open>")
    api = html.index('name="api_base" value="ftp://api.example"')
    assert api < html.index('class="field-error"', api) < html.index("</details>")
    # Corrected: saved, and only now "Saved.".
    answer = signed_in.post("/settings/xero/app", headers=htmx,
                            data={**form, "client_id": DEFAULT_CLIENT_ID})
    assert answer.status_code == 200
    assert '<p class="notice" role="status">Saved.</p>' in answer.get_data(as_text=True)
    assert 'class="field-error"' not in answer.get_data(as_text=True)


def test_connecting_needs_the_csrf_token(signed_in):
    assert signed_in.post("/settings/xero/connect").status_code == 400


def test_the_demo_on_another_port_registers_that_port_as_its_redirect_uri(app, auth, client,
                                                                         monkeypatch):
    """`make demo` with FERRY_DEMO_PORT=8413: Settings → Xero shows the redirect URI on
    that port, and the demo's Xero consent succeeded with it (a strict sandbox refuses
    any other)."""
    import subprocess
    from pathlib import Path

    from sandbox import connectwise as cw_sandbox
    from sandbox.kit import serve_in_thread

    root = Path(__file__).resolve().parents[2]
    recipe = subprocess.run(["make", "-n", "-C", str(root), "demo"], capture_output=True,
                            text=True).stdout
    line = next(x for x in recipe.splitlines() if "FERRY_BASE_URL=" in x)
    value = line.split("FERRY_BASE_URL=", 1)[1].split()[0]     # as the shell expands it
    base = subprocess.run(["sh", "-c", f"echo {value}"], capture_output=True, text=True,
                          env={"FERRY_DEMO_PORT": "8413", "PATH": "/usr/bin:/bin"}).stdout
    assert base.strip() == "http://127.0.0.1:8413"

    callback = "http://127.0.0.1:8413/settings/xero/callback"
    strict = Sandbox(seed=1, redirect_uris=[callback])
    cw = serve_in_thread(cw_sandbox.create_app(seed=1, scale=1))
    try:
        app.config["BASE_URL"] = base.strip()
        monkeypatch.setenv("FERRY_DEMO_CW_PORT", cw.url.rsplit(":", 1)[1])
        monkeypatch.setenv("FERRY_DEMO_XERO_PORT", strict.url.rsplit(":", 1)[1])
        result = app.test_cli_runner().invoke(args=["demo-setup", "--wait"])
        assert result.exit_code == 0, result.output
        auth.login()
        page = settings_page(client)
        assert callback in page and "http://127.0.0.1:5000/settings/xero/callback" not in page
        from tests.alerts.conftest import inside
        with inside(app):
            assert Connection.select().where(Connection.kind == "xero").count() >= 1
    finally:
        strict.stop()
        cw.stop()

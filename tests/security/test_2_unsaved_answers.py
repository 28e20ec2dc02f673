"""Finding 2, what another host answers: Test connection against a site other than the
saved one showed that server's message once per check and made it the saved
connection's "Last problem" on /settings/. Issue 14: answers read from a host other
than the saved one are never kept. Both servers here are on loopback."""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from models import Connection, db
from tests.conftest import csrf_token

SECRET_TEXT = "INTERNAL-ONLY: db password is hunter2"
SAVED_KEY = "saved-private-key-0b7e"


class RefusingSite:
    """Answers companyinfo like ConnectWise, and every API call 400 with `message`."""

    def __init__(self, message: str):
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path.startswith("/login/companyinfo/"):
                    status, body = 200, {"Codebase": "v2025_1/", "CompanyName": "Acme"}
                else:
                    status, body = 400, {"code": "InvalidObject", "message": message}
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sites():
    saved, other = RefusingSite("The saved site refused this."), RefusingSite(SECRET_TEXT)
    yield saved, other
    saved.stop()
    other.stop()


@pytest.fixture
def signed_in(client, auth, app, sites):
    auth.login()
    with app.app_context(), db.connection_context():
        Connection.create(kind="connectwise", name="ConnectWise (acme)", settings={
            "site": sites[0].url, "company_id": "acme", "public_key": "pub",
            "client_id": "cid"}, secrets={"private_key": SAVED_KEY})
    return client


def cw_form(client, site, private_key=""):
    return {"csrf_token": csrf_token(client, "/settings/"), "site": site,
            "company_id": "acme", "public_key": "pub", "client_id": "cid",
            "private_key": private_key}


def last_problem(app):
    with app.app_context(), db.connection_context():
        return Connection.get(Connection.kind == "connectwise").last_error


@pytest.mark.parametrize("htmx", [True, False])
def test_another_sites_answer_is_shown_once_and_never_kept(signed_in, sites, app, htmx):
    page = signed_in.post("/settings/connectwise/test",
                          data=cw_form(signed_in, sites[1].url, "typed-key"),
                          headers={"HX-Request": "true"} if htmx else {}
                          ).get_data(as_text=True)
    assert page.count("hunter2") == 1                      # the test's own answer, once
    assert "ConnectWise gave the same answer as for companies (HTTP 400)" in page
    assert last_problem(app) is None                       # the saved connection untouched
    assert "hunter2" not in signed_in.get("/settings/").get_data(as_text=True)


def test_the_saved_sites_own_answer_still_becomes_the_last_problem(signed_in, sites, app):
    page = signed_in.post("/settings/connectwise/test", data=cw_form(
        signed_in, sites[0].url), headers={"HX-Request": "true"}  # blank key: the saved one
        ).get_data(as_text=True)
    assert page.count("The saved site refused this.") == 1
    assert last_problem(app) == ("ConnectWise refused GET company/companies: The saved "
                                 "site refused this.")
    assert "The saved site refused this." in signed_in.get("/settings/").get_data(
        as_text=True)


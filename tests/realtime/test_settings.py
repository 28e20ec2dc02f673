"""Settings → Real time: Ferry registers its ConnectWise callbacks itself, shows them,
registers them again when its address changes and deletes them when turned off; the
Xero webhook key is kept encrypted and the page says what to paste into Xero."""
from jobs import realtime
import pytest

from tests.sync_e2e.conftest import cw, xero  # noqa: F401  (fixtures)
from models import Connection, Setting, db
from tests.conftest import csrf_token

KEY = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789+/abcdefghijklmnopqrstuvwxyz=="


@pytest.fixture
def site(app, cw, xero):  # noqa: F811
    """Connected to both sandboxes, with no app context left pushed: each page request
    has its own (and its own CSRF token), as in production."""
    from jobs.demo import connect_sandboxes
    with app.app_context(), db.connection_context():
        connect_sandboxes(cw.url, xero.url)
    return app


def within(app):
    return _Both(app)


class _Both:
    def __init__(self, app):
        self.contexts = (app.app_context(), db.connection_context())

    def __enter__(self):
        for c in self.contexts:
            c.__enter__()

    def __exit__(self, *exc):
        for c in reversed(self.contexts):
            c.__exit__(*exc)


def cw_callbacks(cw):  # noqa: F811
    return sorted((c["type"], c["url"]) for c in
                  cw.app.sandbox.store.table("system/callbacks").values())


def save(client, **form):
    token = csrf_token(client, "/settings/")
    return client.post("/settings/realtime", data={"csrf_token": token, **form},
                       headers={"HX-Request": "true"})


def test_turning_real_time_on_and_off(site, client, auth, cw):  # noqa: F811
    auth.login()
    page = client.get("/settings/").get_data(as_text=True)
    assert "http://127.0.0.1:5000/hooks/xero" in page and "Real time" in page
    with within(site):
        orgs = list(Connection.select().where(Connection.kind == "xero"))
    answer = save(client, cw_on="on", xero_key=KEY, **{f"org{orgs[0].id}_on": "on"})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "ConnectWise callbacks registered: 2." in html
    assert KEY not in html
    with within(site):
        secret = realtime.cw_secret()
        url = f"http://127.0.0.1:5000/hooks/connectwise/{secret}"
        assert cw_callbacks(cw) == [("Invoice", url), ("PurchaseOrder", url)]
        assert secret not in html                      # shown without its secret
        assert realtime.is_on(orgs[0]) and not realtime.is_on(orgs[1])
        stored = db.execute_sql(f"SELECT value, secret FROM setting WHERE key = "
                                f"'{realtime.XERO_KEY}'").fetchone()
        assert stored[0] is None and KEY not in stored[1]
        assert Setting.get_value(realtime.XERO_KEY) == KEY

        # Ferry's address changes: the scheduler's check registers them again.
        realtime.keep_callbacks("https://ferry.example.com")
        moved = f"https://ferry.example.com/hooks/connectwise/{secret}"
        assert cw_callbacks(cw) == [("Invoice", moved), ("PurchaseOrder", moved)]
        realtime.keep_callbacks("https://ferry.example.com")          # nothing to do
        assert len(cw_callbacks(cw)) == 2

    # Off: Ferry's callbacks leave ConnectWise; someone else's stay.
    cw.app.sandbox.store.add("system/callbacks", {"url": "https://other.example/cb",
                                                  "type": "Ticket", "level": "Owner",
                                                  "objectId": 1, "description": "PSA bot"})
    html = save(client).get_data(as_text=True)
    assert "No ConnectWise callbacks are registered." in html
    assert cw_callbacks(cw) == [("Ticket", "https://other.example/cb")]
    with within(site):
        assert Setting.get_value(realtime.XERO_KEY) == KEY           # empty box keeps it


def test_a_key_that_is_not_one_is_refused(site, client, auth):
    auth.login()
    answer = save(client, xero_key="short key")
    assert answer.status_code == 422
    assert "does not look like one" in answer.get_data(as_text=True)
    with within(site):
        assert Setting.get_value(realtime.XERO_KEY) is None

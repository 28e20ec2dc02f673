"""The demo runs with real time on: callbacks registered in the ConnectWise sandbox, and
the Xero sandbox pointed at Ferry once its web app answers (intent to receive passed)."""
from jobs import realtime
from jobs.demo import connect_demo, point_xero_sandbox_at_ferry
from models import Connection, db
from tests.realtime.conftest import web  # noqa: F401  (fixture)
from tests.sync_e2e.conftest import cw, xero  # noqa: F401  (fixtures)


def test_the_demo_turns_real_time_on(app, cw, xero, web):  # noqa: F811
    with app.app_context(), db.connection_context():
        connect_demo(cw.url, xero.url, base_url=web.url)
        assert all(realtime.is_on(c) for c in Connection.select())
        hooks = cw.app.sandbox.store.table("system/callbacks").values()
        assert sorted(h["type"] for h in hooks) == ["Invoice", "PurchaseOrder"]
        assert all(h["url"].startswith(web.url + "/hooks/connectwise/") for h in hooks)
        assert point_xero_sandbox_at_ferry(xero.url, web.url) == "Xero sandbox webhooks: OK"

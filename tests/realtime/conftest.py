"""Both sandboxes and Ferry's web app served over loopback HTTP, real time turned on
(Ferry registered its ConnectWise callbacks; the Xero sandbox sends signed webhooks to
Ferry after its intent-to-receive check), a real worker process, and the first sync
done."""
import pytest

from sandbox.kit import serve_in_thread
from tests.sync_e2e.conftest import clock, cw, ferry, xero  # noqa: F401  (fixtures)

WEBHOOK_KEY = "sandbox-webhook-key-9f8e7d6c5b4a39281706f5e4d3c2b1a0ZZ"


@pytest.fixture
def web(app):
    served = serve_in_thread(app)
    yield served
    served.stop()


@pytest.fixture
def live(ferry, cw, xero, web, tmp_path):  # noqa: F811
    from jobs import realtime
    from jobs.cycle import run_cycle
    from models import Connection, Setting
    from tests.processes import ferry_process
    from tests.sync_e2e.helpers import action
    assert run_cycle("invoice").status == "done"
    assert run_cycle("credit_note").status == "done"
    for connection in Connection.select():
        realtime.set_on(connection, True)
    Setting.set_value(realtime.XERO_KEY, WEBHOOK_KEY, secret=True)
    hooks = realtime.sync_callbacks(web.url)
    assert sorted(h["type"] for h in hooks) == ["Invoice", "PurchaseOrder"]
    state = action(xero, "xero/webhooks", {"url": realtime.xero_hook_url(web.url),
                                           "key": WEBHOOK_KEY})
    assert state["status"] == "OK", state
    with ferry_process("worker", ferry.config["DATABASE_URL"], tmp_path / "worker.log"):
        yield ferry

"""Sync now in a real browser: press it for invoices, follow the run page while a real
worker writes to the Xero sandbox, and see it stop polling with the written count."""
import re

import pytest

from models import SyncRun, db
from tests.processes import ferry_process
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.sync_e2e.conftest import cw, xero  # noqa: F401  (fixtures)
from tests.sync_e2e.helpers import fault

pytestmark = pytest.mark.browser


@pytest.fixture
def connected(app, cw, xero):  # noqa: F811
    from jobs.demo import connect_sandboxes, seed_mappings_from_catalog
    with app.app_context(), db.connection_context():
        connect_sandboxes(cw.url, xero.url)
        seed_mappings_from_catalog()
    return app


@pytest.fixture
def worker(connected, tmp_path):
    """Ferry's worker command in the background, as `make demo` starts it."""
    with ferry_process("worker", connected.config["DATABASE_URL"], tmp_path / "worker.log") as log:
        yield log


def test_sync_now_follows_the_run_until_it_is_done(page, live_server, worker, xero):  # noqa: F811
    base = live_server.url
    # Xero answers each write slowly, so the run is still working when its page opens.
    fault(xero, kind="slow", path="/api.xro/2.0/Invoices", method="PUT", delay=2)
    page.goto(base + "/login")
    page.fill("input[name=email]", ADMIN_EMAIL)
    page.fill("input[name=password]", ADMIN_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/")

    def stopped(response):
        return re.search(r"/runs/\d+$", response.url) and response.status == 286

    with page.expect_response(stopped, timeout=180_000) as last_poll:
        page.get_by_role("button", name="Sync invoices now").click()
        page.wait_for_url(re.compile(r"/runs/\d+$"), timeout=60_000)
        page.locator('#run[data-status="running"]').wait_for(timeout=30_000)
    assert last_poll.value.request.headers.get("hx-request") == "true"

    run_id = int(page.url.rsplit("/", 1)[1])
    page.locator('#run[data-status="done"]').wait_for(timeout=10_000)
    assert page.locator("#run").get_attribute("hx-trigger") is None
    with db.connection_context():
        run = SyncRun.get_by_id(run_id)
    assert run.written > 0 and run.trigger == "force"
    assert page.locator("#run-written").inner_text() == str(run.written)
    assert page.console_errors == [], worker.read_text()

"""The version at the foot of every page, the dashboard's way to start a worker, and the
Alerts section's sentence about the digest, as a person sees them in Chromium (1366x768 screenshots kept in the test's
folder, and in FERRY_SCREENSHOTS when set, to look at)."""
import os
import shutil

import pytest

from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from version import version

pytestmark = pytest.mark.browser


def test_footer_and_digest_sentence(app, page, live_server, tmp_path):
    from models import Connection, db
    with app.app_context(), db.connection_context():   # not a first run: no guided setup
        Connection.create(kind="connectwise", name="ConnectWise", settings={})
    base = live_server.url
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(base + "/login")
    assert page.locator("footer.site-footer").count() == 0      # not before signing in
    page.fill("input[name=email]", ADMIN_EMAIL)
    page.fill("input[name=password]", ADMIN_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/")
    # With no worker running, the dashboard says how production starts one (not honcho).
    parts = page.locator("#health").inner_text()
    assert "systemctl start ferry-worker ferry-scheduler" in parts and "honcho" not in parts
    footer = page.locator("footer.site-footer")
    assert footer.inner_text() == f"Ferry {version()}"
    footer.scroll_into_view_if_needed()
    shots = [tmp_path / "dashboard-footer.png", tmp_path / "settings-alerts.png"]
    page.screenshot(path=str(shots[0]))
    page.goto(base + "/settings/")
    hint = page.locator("#alert-settings p.hint", has_text="No digest is written")
    hint.scroll_into_view_if_needed()
    assert "nobody to go to" in hint.inner_text()
    page.screenshot(path=str(shots[1]))
    if os.environ.get("FERRY_SCREENSHOTS"):
        for shot in shots:
            shutil.copy(shot, os.environ["FERRY_SCREENSHOTS"])
    assert page.console_errors == []

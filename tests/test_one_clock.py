"""One clock (issue 24, item 6): every time a page or a mail shows is in the
installation's display zone, with the zone's abbreviation; by default the first Xero
organisation's own time zone (Adelaide's in the sandbox); stored times stay UTC."""
import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest

from jobs.cycle import run_cycle
from models import AuditEntry, Connection, SyncRecord, SyncRun, db, utcnow
from tests.sync_e2e.conftest import cw, xero  # noqa: F401  (the sandboxes)

TIME = re.compile(r"\b\d{1,2}:\d{2}(?::\d{2})?\b(?! ?(?:am|pm))")
ADELAIDE = ("ACDT", "ACST")


# What Ferry did not write: an API call's headers and bodies as they crossed the wire
# (a Date header says GMT itself) are shown verbatim in <pre>.
VERBATIM = ("script", "style", "pre")


class _Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.parts, self._skip = [], 0

    def handle_starttag(self, tag, attrs):
        self._skip += tag in VERBATIM

    def handle_endtag(self, tag):
        self._skip -= tag in VERBATIM and self._skip > 0

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def bare_times(html: str, zones) -> list[str]:
    """Each time of day in the page's text not followed by one of `zones`."""
    parser = _Text()
    parser.feed(html)
    text = " ".join(" ".join(parser.parts).split())
    return [text[max(0, m.start() - 30):m.end() + 8] for m in TIME.finditer(text)
            if not any(text[m.end():].startswith(" " + z) for z in zones)]


@pytest.fixture
def synced(app, cw, xero):  # noqa: F811
    from jobs.demo import connect_sandboxes, seed_mappings_from_catalog
    with app.app_context(), db.connection_context():
        connect_sandboxes(cw.url, xero.url)
        seed_mappings_from_catalog()
        run_cycle("invoice")
        record = SyncRecord.select().where(SyncRecord.state == "exception").first()
        synced_one = SyncRecord.select().where(SyncRecord.state == "synced").first()
        run = SyncRun.select().order_by(SyncRun.id.desc()).first()
        entry = AuditEntry.select().order_by(AuditEntry.id.desc()).first()
        first_org = Connection.select().where(Connection.kind == "xero").order_by(
            Connection.id).first()
    return {"record": record.id, "synced": synced_one.id, "run": run.id,
            "entry": entry.id, "org": first_org.name}


def test_every_page_shows_times_in_the_first_orgs_zone_with_its_abbreviation(
        synced, client, auth):
    assert synced["org"].startswith("Adelaide")
    auth.login()
    pages = ["/", "/records/", f"/records/{synced['record']}", f"/records/{synced['synced']}",
             "/exceptions/", "/runs/", f"/runs/{synced['run']}", "/audit/",
             f"/audit/{synced['entry']}", "/outbox/", "/settings/", "/mappings/unmapped",
             "/reports/reconciliation"]
    seen = 0
    for path in pages:
        answer = client.get(path)
        assert answer.status_code == 200, path
        html = answer.get_data(as_text=True)
        assert bare_times(html, ADELAIDE) == [], path
        seen += len(TIME.findall(html))
    assert seen > 20        # the walk did meet times
    exceptions = client.get("/exceptions/").get_data(as_text=True)
    assert re.search(r"\d{2}:\d{2} AC[DS]T", exceptions)


def test_the_setting_changes_every_page_and_mail(synced, app, client, auth):
    from tests.conftest import csrf_token
    auth.login()
    token = csrf_token(client, "/settings/")
    bad = client.post("/settings/general", data={"csrf_token": token, "retention_days": "30",
                                                  "timezone": "Mars/Olympus"})
    assert bad.status_code == 422
    assert "“Mars/Olympus” is not a time zone Ferry knows" in bad.get_data(as_text=True)
    saved = client.post("/settings/general", data={
        "csrf_token": token, "retention_days": "30", "timezone": "Pacific/Auckland"})
    assert saved.status_code in (200, 302, 303)
    page = client.get(f"/records/{synced['record']}").get_data(as_text=True)
    assert bare_times(page, ("NZDT", "NZST")) == []
    assert " NZDT" in page or " NZST" in page
    with app.test_request_context(), db.connection_context():   # as jobs/context.py
        from jobs import alerts, digest
        assert alerts.timezone_name() == "Pacific/Auckland"
        end = utcnow()
        content = digest.build(end - timedelta(hours=24), end, ["invoice"])
        text, html = alerts.render_mail("digest", content)
    for body in (text, html):
        assert bare_times(body, ("NZDT", "NZST")) == []
        assert re.search(r"\d{2}:\d{2} NZ[DS]T", body)

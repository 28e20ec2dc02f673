"""Connect Ferry to the two sandboxes and fill its mappings from the synthetic MSP's
catalogue: what `make demo` and the end-to-end tests start from.

The Xero consent runs headlessly (`auto_consent=1` is a sandbox-only switch on the
authorize URL); everything else goes through the same code as the settings screens.
The catalogue's troublemakers (GL 4900, tax code VAT20) are left unmapped on purpose, so
a first sync shows what an exception looks like.
"""
from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import httpx2

from connectors.xero_oauth import (
    XeroApp, default_redirect_uri, exchange_code, identity_transport, list_connections,
    save_app, start_authorization,
)
from jobs.audit import DatabaseAuditSink
from models import (
    AccountMapping, Connection, OrgRecordSetting, RoutingRule, Setting, TaxMapping,
    TrackingMapping, XeroGrant, db,
)
from sandbox import catalog
from sandbox.connectwise import DEFAULTS as CW_DEFAULTS
from sandbox.xero import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

ROUNDING_CW_ACCOUNT = "9999"
# Sales documents are approved straight away (so credit notes can be allocated and
# payments recorded); bills stay drafts for someone to check, as the issue asks.
RECORD_STATUS = {"invoice": "AUTHORISED", "credit_note": "AUTHORISED", "bill": "DRAFT"}


def connect_sandboxes(cw_url: str, xero_url: str,
                      base_url: str = "http://127.0.0.1:5000") -> list[Connection]:
    """Create (or refresh) the ConnectWise connection and one connection per Xero org of
    the sandbox; returns the Xero connections."""
    cw = Connection.get_or_none(Connection.kind == "connectwise") or Connection(
        kind="connectwise")
    cw.name = f"ConnectWise ({CW_DEFAULTS['company']})"
    cw.settings = {"site": cw_url, "company_id": CW_DEFAULTS["company"],
                   "public_key": CW_DEFAULTS["public_key"],
                   "client_id": CW_DEFAULTS["client_id"]}
    cw.secrets = {"private_key": CW_DEFAULTS["private_key"]}
    cw.status, cw.last_error = "active", None
    cw.save()

    xero_url = xero_url.rstrip("/")
    app = XeroApp(client_id=DEFAULT_CLIENT_ID, client_secret=DEFAULT_CLIENT_SECRET,
                  redirect_uri=default_redirect_uri(base_url),
                  authorize_url=f"{xero_url}/identity/connect/authorize",
                  token_url=f"{xero_url}/connect/token", api_base=xero_url)
    save_app(app)
    started = start_authorization(app)
    answer = httpx2.get(started.url + "&auto_consent=1", follow_redirects=False,
                        timeout=30.0)
    code = parse_qs(urlsplit(answer.headers.get("location", "")).query).get("code")
    if not code:
        raise RuntimeError(f"The Xero sandbox at {xero_url} gave no authorisation code "
                           f"(HTTP {answer.status_code}).")
    with DatabaseAuditSink() as sink:
        token = exchange_code(app, code[0], started.code_verifier, sink)
        orgs = list_connections(identity_transport(app, sink), token["access_token"])
    grant = XeroGrant.create(token=token, scopes=token.get("scope", ""), status="active")
    known = {c.tenant_id: c for c in Connection.select().where(Connection.kind == "xero")}
    connections = []
    for org in orgs:
        connection = known.get(org["tenantId"]) or Connection(kind="xero",
                                                              tenant_id=org["tenantId"])
        connection.name = org["tenantName"]
        connection.settings = {**(connection.settings or {}), "grant_id": grant.id,
                               "xero_connection_id": org["id"]}
        connection.status, connection.last_error = "active", None
        connection.save()
        connections.append(connection)
    return connections


def seed_mappings_from_catalog() -> None:
    """Routing by office, and account, tax, tracking and record settings for every Xero
    org named in the catalogue; replaces what the seed wrote before."""
    orgs = {c.name: c for c in Connection.select().where(Connection.kind == "xero")}
    with db.atomic():
        for office in catalog.OFFICES:
            org = orgs.get(office["xero_org"])
            if org is None:
                continue
            RoutingRule.delete().where((RoutingRule.field == "location") &
                                       (RoutingRule.value == str(office["location_id"]))
                                       ).execute()
            RoutingRule.create(position=office["location_id"], field="location",
                               value=str(office["location_id"]), org=org)
        for org in orgs.values():
            _seed_org(org)


def _seed_org(org: Connection) -> None:
    for model in (AccountMapping, TaxMapping, TrackingMapping, OrgRecordSetting):
        model.delete().where(model.org == org).execute()
    AccountMapping.insert_many([
        {"org": org, "cw_account": number, "xero_code": code}
        for number, _desc, _type, code, *_ in catalog.GL_ACCOUNTS if code]).execute()
    TaxMapping.insert_many(
        [{"org": org, "side": "sales", "cw_tax_code": c, "xero_tax_type": sales}
         for c, _rate, sales, _buy in catalog.TAX_CODES if sales]
        + [{"org": org, "side": "purchases", "cw_tax_code": c, "xero_tax_type": buy}
           for c, _rate, _sales, buy in catalog.TAX_CODES if buy]).execute()
    rows = [{"org": org, "category": "Office", "source": "location",
             "cw_id": o["location_id"], "option": o["location"]} for o in catalog.OFFICES]
    rows += [{"org": org, "category": "Department", "source": "department",
              "cw_id": d["id"], "option": d["name"]} for d in catalog.DEPARTMENTS]
    TrackingMapping.insert_many(rows).execute()
    OrgRecordSetting.insert_many([{"org": org, "record_type": kind, "status": status}
                                  for kind, status in RECORD_STATUS.items()]).execute()
    rounding = next(code for number, _desc, _type, code, *_ in catalog.GL_ACCOUNTS
                    if number == ROUNDING_CW_ACCOUNT)
    org.settings = {**(org.settings or {}), "rounding_account": rounding}
    org.save()


def connect_demo(cw_url: str, xero_url: str, wait_seconds: float = 60.0,
                 base_url: str = "http://127.0.0.1:5000") -> str:
    """`flask demo-setup --wait`: wait for both sandboxes, connect, seed the mappings."""
    deadline = time.monotonic() + wait_seconds
    for url in (cw_url, xero_url):
        while True:
            try:
                httpx2.get(f"{url.rstrip('/')}/_sandbox/clock", timeout=2.0)
                break
            except httpx2.TransportError:
                if time.monotonic() > deadline:
                    return f"The sandbox at {url} did not answer; Ferry is not connected."
                time.sleep(0.5)
    orgs = connect_sandboxes(cw_url, xero_url, base_url)
    seed_mappings_from_catalog()
    # The demo shows an exception's e-mail in the Outbox after the first cycles, so its
    # alerts go out at once rather than in the daily digest (the default).
    from jobs.alerts import MODE, TIMEZONE
    for record_type in ("invoice", "credit_note", "bill", "payment"):
        Setting.set_value(MODE.format(record_type), "immediate")
    Setting.set_value(TIMEZONE, "Australia/Adelaide")     # the synthetic MSP's head office
    try:
        turn_on_realtime(base_url)
    except Exception as exc:        # the demo still runs, on its schedule alone
        print(f"Real time could not be turned on: {exc}")
    return ("Connected to the ConnectWise sandbox and to Xero: "
            + ", ".join(o.name for o in orgs) + "; mappings seeded from the catalogue.")


def turn_on_realtime(base_url: str) -> None:
    """The demo runs with real time on: every connection on, a webhook key as the Xero
    app would show it, Ferry's callbacks registered in the ConnectWise sandbox. The Xero
    sandbox is pointed at Ferry by `flask demo-webhooks` once the web app answers (its
    intent-to-receive check needs Ferry up)."""
    import secrets

    from jobs import realtime
    from models import Connection
    for connection in Connection.select():
        realtime.set_on(connection, True)
    if not Setting.get_value(realtime.XERO_KEY):
        Setting.set_value(realtime.XERO_KEY, secrets.token_urlsafe(48), secret=True)
    realtime.sync_callbacks(base_url)


def point_xero_sandbox_at_ferry(xero_url: str, base_url: str, wait_seconds: float = 120.0
                                ) -> str:
    """Wait for Ferry's web app, then give the Xero sandbox Ferry's webhook URL and key
    (what a person pastes into the Xero app's webhook settings)."""
    from jobs import realtime
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            httpx2.get(f"{base_url}/healthz", timeout=2.0)
            break
        except httpx2.TransportError:
            if time.monotonic() > deadline:
                return "Ferry's web app did not answer: the Xero sandbox sends no webhooks."
            time.sleep(0.5)
    answer = httpx2.post(f"{xero_url.rstrip('/')}/_sandbox/xero/webhooks", json={
        "url": realtime.xero_hook_url(base_url),
        "key": Setting.get_value(realtime.XERO_KEY)}, timeout=30.0)
    return f"Xero sandbox webhooks: {answer.json().get('status')}"

"""How many Xero calls Ferry spends per written invoice.

Writes N new ACCREC invoices (default 1,000) to the Xero sandbox over loopback HTTP through
Ferry's Xero client (batches, governor, audit) and prints the calls made against the
floor of ⌈N/50⌉ batch calls. Run: `.venv/bin/python bench/xero_write.py [N]`.
"""
import math
import os
import secrets
import sys
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.scratch import scratch_instance  # noqa: E402

_workdir = str(scratch_instance())
os.environ.setdefault("FERRY_SECRET_KEY", secrets.token_urlsafe(48))  # Ferry refuses weak keys

import httpx2  # noqa: E402

import migrations  # noqa: E402
from app import create_app  # noqa: E402
from connectors.audit import ListSink  # noqa: E402
from connectors.xero import open_client  # noqa: E402
from connectors.xero_governor import Governor  # noqa: E402
from connectors.xero_oauth import (  # noqa: E402
    TokenKeeper, XeroApp, exchange_code, identity_transport, list_connections,
    start_authorization,
)
from models import Connection, XeroGrant, db  # noqa: E402
from sandbox.kit import serve_in_thread  # noqa: E402
from sandbox.xero import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET  # noqa: E402
from sandbox.xero import create_app as create_sandbox  # noqa: E402


def connect(url: str) -> tuple[XeroApp, Connection]:
    app = XeroApp(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET,
                  "http://127.0.0.1:5000/settings/xero/callback",
                  authorize_url=f"{url}/identity/connect/authorize",
                  token_url=f"{url}/connect/token", api_base=url)
    started = start_authorization(app)
    reply = httpx2.get(started.url + "&auto_consent=1", follow_redirects=False)
    code = parse_qs(urlsplit(reply.headers["location"]).query)["code"][0]
    token = exchange_code(app, code, started.code_verifier)
    grant = XeroGrant.create(token=token, scopes=token["scope"])
    org = list_connections(identity_transport(app, ListSink()), token["access_token"])[0]
    connection = Connection.create(kind="xero", name=org["tenantName"],
                                   tenant_id=org["tenantId"],
                                   settings={"grant_id": grant.id, "xero_connection_id": org["id"]})
    return app, connection


def invoice(n: int, contact_id: str) -> dict:
    return {"Type": "ACCREC", "Contact": {"ContactID": contact_id},
            "InvoiceNumber": f"BENCH-{n:05d}", "Date": "2026-03-02", "DueDate": "2026-04-01",
            "Status": "AUTHORISED", "LineAmountTypes": "Exclusive",
            "LineItems": [{"Description": f"Managed services #{n}", "Quantity": Decimal("1"),
                           "UnitAmount": Decimal("99.95"), "AccountCode": "260",
                           "TaxType": "OUTPUT"}]}


def main(count: int) -> None:
    flask_app = create_app({"DATABASE_URL": f"sqlite:///{_workdir}/bench.db"})
    sandbox = create_sandbox()
    served = serve_in_thread(sandbox)
    try:
        with flask_app.app_context(), db.connection_context():
            migrations.upgrade(db)
            xero_app, connection = connect(served.url)
            client = open_client(xero_app, connection, sink=ListSink(), governor=Governor(),
                                 tokens=TokenKeeper(xero_app))
            customer = client.save_contacts([{"Name": "Bench Customer",
                                              "ContactNumber": "BENCH"}])[0]
            before = len(sandbox.xero.kit.journal.entries(path="/api.xro/2.0/*"))
            started = time.perf_counter()
            results = client.save_invoices([invoice(n, customer.id) for n in range(count)],
                                           create_only=True)
            elapsed = time.perf_counter() - started
            calls = len(sandbox.xero.kit.journal.entries(path="/api.xro/2.0/*")) - before
    finally:
        served.stop()
    written = sum(1 for r in results if r.ok)
    floor = math.ceil(count / 50)
    print(f"invoices written:          {written} of {count}")
    print(f"Xero calls for the writes: {calls} (floor ⌈{count}/50⌉ = {floor})")
    print(f"calls per invoice:         {calls / max(written, 1):.4f} "
          f"(floor {floor / count:.4f})")
    print(f"wall time:                 {elapsed:.2f} s ({written / elapsed:.0f} invoices/s)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)

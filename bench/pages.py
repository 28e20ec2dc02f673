"""Page latency at scale: Ferry's pages over a database holding a busy year.

    .venv/bin/python bench/pages.py [--records 10000] [--audit 200000]

Fills a fresh SQLite database (or DATABASE_URL's PostgreSQL, emptied first: use a
throwaway database) with sync records, their history, runs and audit entries, then
times each page through Flask's test client (server-side time: rendering and queries,
no network), median and worst of 20.
"""
from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("FERRY_INSTANCE_DIR", tempfile.mkdtemp(prefix="ferry-bench-"))
os.environ.setdefault("FERRY_SECRET_KEY", secrets.token_urlsafe(48))  # Ferry refuses weak keys

PAGES = ["/", "/records/", "/records/?state=exception", "/records/?q=1004",
         "/exceptions/", "/audit/", "/audit/?q=invoice:5", "/audit/?outcome=server_error",
         "/runs/", "/mappings/", "/settings/"]


def fill(records: int, audit: int) -> None:
    from models import (
        AuditEntry, Connection, RecordEvent, SyncRecord, SyncRun, db, utcnow,
    )
    now = utcnow()
    orgs = [Connection.create(kind="xero", name=n, tenant_id=t) for n, t in
            (("Adelaide IT Services Pty Ltd", "t-a"), ("Sydney IT Services Pty Ltd", "t-s"))]
    runs = [SyncRun.create(record_type="invoice", status="done", started_at=now,
                           finished_at=now, read=100, written=95) for _ in range(400)]
    with db.atomic():
        rows = [{"record_type": "invoice", "cw_id": i, "cw_number": str(10000 + i),
                 "org": orgs[i % 2].id, "state": "exception" if i % 50 == 0 else "synced",
                 "xero_id": f"x-{i}", "cw_total": Decimal("123.45"),
                 "problems": '["No Xero account for CW GL account 4900"]' if i % 50 == 0
                 else None, "last_run": runs[i % 400].id,
                 "updated_at": now - timedelta(minutes=i)} for i in range(records)]
        for start in range(0, len(rows), 500):
            SyncRecord.insert_many(rows[start:start + 500]).execute()
        ids = [r.id for r in SyncRecord.select(SyncRecord.id)]
        events = [{"record": rid, "kind": "created", "message": "Written to Xero",
                   "at": now} for rid in ids]
        for start in range(0, len(events), 500):
            RecordEvent.insert_many(events[start:start + 500]).execute()
        body = '{"Invoices": [' + ", ".join(['{"InvoiceNumber": "1"}'] * 20) + "]}"
        entries = [{"at": now - timedelta(seconds=i), "api": "xero" if i % 3 else "connectwise",
                    "method": "GET", "url": f"https://api.xero.com/api.xro/2.0/Invoices?page={i}",
                    "status": 503 if i % 997 == 0 else 200, "duration_ms": 120.0,
                    "response_body": body, "record_ref": f"invoice:{i % records}",
                    "run_id": runs[i % 400].id} for i in range(audit)]
        for start in range(0, len(entries), 500):
            AuditEntry.insert_many(entries[start:start + 500]).execute()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--audit", type=int, default=200_000)
    args = parser.parse_args()
    import migrations
    from app import create_app, open_database
    from blueprints.auth import save_user
    from models import db

    url = os.environ.get("DATABASE_URL") or \
        f"sqlite:///{Path(os.environ['FERRY_INSTANCE_DIR']) / 'bench.db'}"
    database = open_database(url)
    with database.connection_context():
        migrations.upgrade(database)
    app = create_app({"DATABASE_URL": url, "WTF_CSRF_ENABLED": False})
    started = time.perf_counter()
    with app.app_context(), db.connection_context():
        fill(args.records, args.audit)
        save_user("bench@msp.example", "benchmark password")
    print(f"filled {args.records:,} records and {args.audit:,} audit entries in "
          f"{time.perf_counter() - started:.1f} s ({url.split(':')[0]})")
    client = app.test_client()
    client.post("/login", data={"email": "bench@msp.example", "password": "benchmark password"})
    for page in PAGES:
        times = []
        for _ in range(20):
            t = time.perf_counter()
            answer = client.get(page)
            times.append((time.perf_counter() - t) * 1000)
            assert answer.status_code == 200, (page, answer.status_code)
        print(f"{page:32} median {statistics.median(times):7.1f} ms   worst {max(times):7.1f} ms")


if __name__ == "__main__":
    main()

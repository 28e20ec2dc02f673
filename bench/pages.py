"""Page latency at scale: Ferry's pages over a database holding a busy year.

    .venv/bin/python bench/pages.py [--records 100000] [--audit 1000000] [--runs 30]

Fills a fresh SQLite database (or DATABASE_URL's PostgreSQL, emptied first: use a
throwaway database) with sync records (customer, date, amounts), their history, runs,
30 days of metered versions and audit entries, then times each page through Flask's
test client (server-side time: rendering and queries, no network): median and 95th
percentile of --runs requests, against the budgets of issue 13 (pages ≤ 100 ms, audit
text search ≤ 300 ms, live endpoints ≤ 20 ms). Last, a fresh process streams the CSV
export of every audit entry and prints its peak memory (budget 150 MB).
"""
from __future__ import annotations

import argparse
import os
import resource
import secrets
import statistics
import subprocess
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.scratch import scratch_instance  # noqa: E402

scratch_instance()
os.environ.setdefault("FERRY_SECRET_KEY", secrets.token_urlsafe(48))  # Ferry refuses weak keys

PAGE, SEARCH, LIVE = 100.0, 300.0, 20.0
EXPORT_MB = 150
PARTIES = ["Barossa Valley Wines Pty Ltd", "Coorong Freight Co", "Hahndorf Bakery",
           "Fleurieu Veterinary Clinic", "Adelaide Hills Cellars", "Port Lincoln Seafoods"]
CHUNK = 2000


def pages(ids: dict) -> list[tuple[str, float]]:
    return [
        ("/", PAGE), ("/dashboard/live", LIVE), ("/runs/", PAGE),
        (f"/runs/{ids['run']}", PAGE),
        ("/records/", PAGE), ("/records/?state=exception", PAGE),
        ("/records/?sort=-total", PAGE), ("/records/?sort=party", PAGE),
        ("/records/?party=Hahndorf", PAGE), ("/records/?q=1004", PAGE),
        ("/records/?from=2026-06-01&to=2026-06-30&sort=date", PAGE),
        (f"/records/{ids['record']}", PAGE),
        ("/audit/", PAGE), ("/audit/?q=invoice:5", PAGE), ("/audit/?q=10005", PAGE),
        ("/audit/?outcome=server_error", PAGE), ("/audit/?status=429", PAGE),
        ("/audit/?api=xero&method=PUT", PAGE), ("/audit/?type=bill", PAGE),
        (f"/audit/?org={ids['org']}", PAGE), (f"/audit/?run={ids['run']}", PAGE),
        ("/audit/?from=2026-01-01&to=2026-01-31", PAGE),
        (f"/audit/{ids['entry']}", PAGE),
        ("/audit/?customer=Hahndorf", SEARCH), ("/audit/?q=Contacts", SEARCH),
        ("/audit/?q=no-such-words-anywhere", SEARCH),
        (f"/audit/live?after={ids['entry']}", LIVE),
        (f"/audit/live?after={ids['entry']}&q=invoice:5", LIVE),
    ]


def _insert(model, rows) -> None:
    for start in range(0, len(rows), CHUNK):
        model.insert_many(rows[start:start + CHUNK]).execute()


def fill(records: int, audit: int) -> dict:
    from models import (
        AuditEntry, Connection, MeteredVersion, RecordEvent, SyncRecord, SyncRun, db,
        utcnow,
    )
    now = utcnow()
    cw = Connection.create(kind="connectwise", name="ConnectWise (bench)", settings={})
    orgs = [Connection.create(kind="xero", name=n, tenant_id=t) for n, t in
            (("Adelaide IT Services Pty Ltd", "t-a"), ("Sydney IT Services Pty Ltd", "t-s"))]
    with db.atomic():
        _insert(SyncRun, [{"record_type": ("invoice", "credit_note", "bill")[i % 3],
                           "status": "done", "started_at": now - timedelta(hours=6 * i),
                           "finished_at": now - timedelta(hours=6 * i) + timedelta(minutes=2),
                           "read": 100, "written": 95} for i in range(1460)])
    runs = [r.id for r in SyncRun.select(SyncRun.id).order_by(SyncRun.id)]
    with db.atomic():
        _insert(SyncRecord, [
            {"record_type": "bill" if i % 10 == 0 else "invoice", "cw_id": i,
             "cw_number": str(10000 + i), "org": orgs[i % 2].id,
             "state": "exception" if i % 50 == 0 else "synced", "xero_id": f"x-{i}",
             "cw_total": Decimal(110 + i % 5000) + Decimal("0.45"),
             "party_name": PARTIES[i % len(PARTIES)] + (f" {i % 997}" if i % 3 else ""),
             "doc_date": date(2026, 1, 1) + timedelta(days=i % 330), "currency": "AUD",
             "xero_status": "PAID" if i % 4 == 0 else "AUTHORISED",
             "amount_due": Decimal(0 if i % 4 == 0 else 110), "amount_paid": Decimal(i % 4),
             "problems": '["No Xero account for CW GL account 4900"]' if i % 50 == 0
             else None, "last_run": runs[i % len(runs)],
             "updated_at": now - timedelta(minutes=i)} for i in range(records)])
    ids = [r.id for r in SyncRecord.select(SyncRecord.id)]
    with db.atomic():
        _insert(RecordEvent, [{"record": rid, "kind": "created", "message": "Written to Xero",
                               "at": now} for rid in ids])
        _insert(MeteredVersion, [{"record_type": "invoice", "cw_id": i, "version_hash": "v1",
                                  "month": (now - timedelta(days=i % 30)).strftime("%Y-%m"),
                                  "at": now - timedelta(days=i % 30)}
                                 for i in range(records)])
    body = ('{"Invoices": [' + ", ".join(['{"InvoiceNumber": "10001", "Total": 110.45}'] * 6)
            + "]}")
    urls = ["https://api.xero.com/api.xro/2.0/Invoices?summarizeErrors=false",
            "https://api.xero.com/api.xro/2.0/Contacts?page={}",
            "https://api-na.myconnectwise.net/v4_6_release/apis/3.0/finance/invoices/{}"]
    start = now - timedelta(days=365)
    step = timedelta(days=365) / max(audit, 1)
    for first in range(0, audit, 50_000):
        with db.atomic():
            _insert(AuditEntry, [
                {"at": start + step * i, "api": "connectwise" if i % 3 == 2 else "xero",
                 "connection_id": cw.id if i % 3 == 2 else orgs[i % 2].id,
                 "method": "PUT" if i % 3 == 0 else "GET",
                 "url": urls[i % 3].format(i), "status": (200, 200, 429, 503)[i % 4]
                 if i % 97 == 0 else 200, "duration_ms": 120.0,
                 "response_body": body, "record_ref": f"invoice:{i % records}",
                 "run_id": runs[i % len(runs)]}
                for i in range(first, min(first + 50_000, audit))])
    newest = AuditEntry.select(AuditEntry.id).order_by(AuditEntry.id.desc()).first()
    return {"run": runs[0], "record": ids[len(ids) // 2], "org": orgs[0].id,
            "entry": newest.id if newest else 0}


def _client(url: str):
    from app import create_app
    if not os.environ.get("REDIS_URL"):
        # As in production: one Redis URL for the process (the embedded Redis's address
        # is otherwise checked with a ping on every use).
        from jobs.queue import ensure_embedded_redis
        os.environ["REDIS_URL"] = ensure_embedded_redis()
    app = create_app({"DATABASE_URL": url, "WTF_CSRF_ENABLED": False})
    client = app.test_client()
    return app, client


def _sign_in(app, client) -> None:
    from blueprints.auth import save_user
    from models import db
    with app.app_context(), db.connection_context():
        save_user("bench@msp.example", "benchmark password")
    answer = client.post("/login", data={"email": "bench@msp.example",
                                         "password": "benchmark password"})
    assert answer.status_code in (302, 303), answer.status_code


def _peak_rss_mb() -> float:
    """This process's peak resident memory. VmHWM belongs to the process's own memory
    map; ru_maxrss would carry the parent's peak over fork and exec on Linux."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def export_only(url: str) -> None:
    """In a fresh process: stream the whole CSV export, print rows, bytes, peak RSS."""
    app, client = _client(url)
    client.post("/login", data={"email": "bench@msp.example",
                                "password": "benchmark password"})
    started = time.perf_counter()
    answer = client.get("/audit/export.csv", buffered=False)
    size = lines = 0
    for chunk in answer.response:
        size += len(chunk)
        lines += chunk.count(b"\n")
    answer.close()
    peak = _peak_rss_mb()
    print(f"CSV export: {lines - 1:,} rows, {size / 1e6:,.0f} MB streamed in "
          f"{time.perf_counter() - started:.0f} s; peak RSS {peak:.0f} MB "
          f"(budget {EXPORT_MB} MB) {'ok' if peak <= EXPORT_MB else 'OVER'}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--audit", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=30, help="requests per page")
    parser.add_argument("--export-only", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.export_only:
        return export_only(args.export_only)
    import migrations
    from app import open_database
    from models import db

    url = os.environ.get("DATABASE_URL") or \
        f"sqlite:///{Path(os.environ['FERRY_INSTANCE_DIR']) / 'bench.db'}"
    database = open_database(url)
    with database.connection_context():
        migrations.upgrade(database)
    database.close()
    app, client = _client(url)
    started = time.perf_counter()
    with app.app_context(), db.connection_context():
        ids = fill(args.records, args.audit)
        if url.startswith("postgres"):
            db.execute_sql("ANALYZE")
    _sign_in(app, client)
    print(f"filled {args.records:,} records and {args.audit:,} audit entries in "
          f"{time.perf_counter() - started:.0f} s ({url.split(':')[0]})")
    over = 0
    for page, budget in pages(ids):
        times = []
        for _ in range(args.runs):
            t = time.perf_counter()
            answer = client.get(page)
            times.append((time.perf_counter() - t) * 1000)
            assert answer.status_code == 200, (page, answer.status_code)
        p95 = statistics.quantiles(times, n=20)[-1] if len(times) > 1 else times[0]
        over += p95 > budget
        print(f"{page:58} median {statistics.median(times):7.1f} ms   p95 {p95:7.1f} ms"
              f"   (budget {budget:.0f}) {'ok' if p95 <= budget else 'OVER'}")
    subprocess.run([sys.executable, __file__, "--export-only", url], check=True)
    print(f"{over} page(s) over budget")


if __name__ == "__main__":
    main()

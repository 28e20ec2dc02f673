"""How fast the Xero sandbox takes Ferry's writes and serves its reads, over loopback HTTP.

    .venv/bin/python bench/xero_sandbox.py [--batches 10] [--seconds 5]

Prints the latency of a 50-invoice PUT (3 lines each, tracking, summarizeErrors=false),
then GET /Invoices requests per second (unpaged list and page=1) with the invoices written,
from one client and from four threads. The per-tenant call limits are lifted for the run.
"""
import argparse
import statistics
import threading
import time
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import httpx2

from sandbox.kit import serve_in_thread
from sandbox.xero import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, create_app
from sandbox.xero.jsonio import dumps

REDIRECT = "http://127.0.0.1:5000/callback"


def connect(http: httpx2.Client) -> str:
    answer = http.get("/identity/connect/authorize", params={
        "response_type": "code", "client_id": DEFAULT_CLIENT_ID, "redirect_uri": REDIRECT,
        "scope": "offline_access accounting.settings accounting.contacts accounting.transactions",
        "state": "bench", "auto_consent": "1"})
    code = parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]
    token = http.post("/connect/token", auth=(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET), data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT})
    return token.json()["access_token"]


def batch(n: int) -> bytes:
    invoices = [{
        "Type": "ACCREC", "Contact": {"Name": f"Bench Customer {i % 40}"},
        "InvoiceNumber": f"B{n}-{i}", "Date": "2026-10-01", "DueDate": "2026-10-31",
        "Status": "AUTHORISED", "LineAmountTypes": "Exclusive",
        "LineItems": [{"Description": f"Line {j}", "Quantity": Decimal("1"),
                       "UnitAmount": Decimal("33.33"), "AccountCode": "200", "TaxType": "OUTPUT",
                       "Tracking": [{"Name": "Office", "Option": "Adelaide"}]} for j in range(3)],
    } for i in range(50)]
    return dumps({"Invoices": invoices}).encode()


def rate(url: str, headers: dict, params: dict, seconds: float, threads: int) -> float:
    counts = [0] * threads
    deadline = time.perf_counter() + seconds

    def worker(k):
        with httpx2.Client(base_url=url, headers=headers, timeout=30) as client:
            while time.perf_counter() < deadline:
                client.get("/api.xro/2.0/Invoices", params=params).raise_for_status()
                counts[k] += 1
    pool = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return sum(counts) / seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    app = create_app(seed=1, minute_limit=10**9, day_limit=10**9, concurrent_limit=10**6)
    server = serve_in_thread(app)
    try:
        with httpx2.Client(base_url=server.url, timeout=60) as http:
            tenant = next(iter(app.xero.store.orgs))
            headers = {"Authorization": f"Bearer {connect(http)}", "xero-tenant-id": tenant,
                       "Accept": "application/json"}
            took = []
            for n in range(args.batches):
                body = batch(n)
                started = time.perf_counter()
                answer = http.put("/api.xro/2.0/Invoices", content=body,
                                  params={"summarizeErrors": "false"},
                                  headers={**headers, "Content-Type": "application/json"})
                took.append(time.perf_counter() - started)
                answer.raise_for_status()
            total = len(app.xero.store.orgs[tenant].invoices)
            print(f"PUT 50 invoices: median {statistics.median(took) * 1000:.0f} ms, "
                  f"max {max(took) * 1000:.0f} ms over {args.batches} batches ({total} invoices)")
            # Each token lives 30 minutes of the sandbox clock, far beyond this run.
            for label, params in (("unpaged list", {}), ("page=1 (100 with lines)", {"page": "1"})):
                for threads in (1, 4):
                    per_second = rate(server.url, headers, params, args.seconds, threads)
                    print(f"GET /Invoices {label}, {threads} client(s): {per_second:.0f} req/s")
    finally:
        server.stop()


if __name__ == "__main__":
    main()

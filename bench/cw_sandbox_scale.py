"""How fast the ConnectWise sandbox builds and serves at --scale 20 (~10,000 invoices).

    .venv/bin/python bench/cw_sandbox_scale.py [--scale 20] [--rounds 5]

Prints the build time, then the latency of 1000-row invoice pages over loopback HTTP:
plain, filtered on _info/lastUpdated, forward-only, and the GL export preview.
"""
import argparse
import base64
import statistics
import time

import httpx2

from sandbox.connectwise import DEFAULTS, create_app
from sandbox.kit import serve_in_thread


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    started = time.perf_counter()
    app = create_app(seed=1, scale=args.scale)
    print(f"build: {time.perf_counter() - started:.2f}s for "
          f"{len(app.sandbox.store.table('finance/invoices'))} invoices")
    server = serve_in_thread(app)
    token = base64.b64encode(
        f"{DEFAULTS['company']}+{DEFAULTS['public_key']}:{DEFAULTS['private_key']}".encode())
    client = httpx2.Client(base_url=server.url + "/v4_6_release/apis/3.0/", timeout=60,
                           headers={"Authorization": "Basic " + token.decode(),
                                    "clientId": DEFAULTS["client_id"]})
    cases = {
        "page 1000 rows": ("GET", "finance/invoices", {"pageSize": 1000, "page": 5}, {}),
        "filtered 1000": ("GET", "finance/invoices", {
            "pageSize": 1000, "conditions": "_info/lastUpdated > [2026-01-01T00:00:00Z]"}, {}),
        "forward-only 1000": ("GET", "finance/invoices", {"pageSize": 1000, "pageId": 5000},
                              {"pagination-type": "forward-only"}),
        "unposted 1000": ("GET", "finance/accounting/unpostedinvoices", {"pageSize": 1000},
                          {}),
    }
    try:
        for name, (method, path, params, headers) in cases.items():
            times = []
            for _ in range(args.rounds):
                t = time.perf_counter()
                response = client.request(method, path, params=params, headers=headers)
                response.raise_for_status()
                times.append(time.perf_counter() - t)
            print(f"{name:18s} median {statistics.median(times) * 1000:7.1f} ms  "
                  f"({len(response.json())} rows, {len(response.content) // 1024} KiB)")
        t = time.perf_counter()
        export = client.post("finance/accounting/export", json={"summarizeInvoices": "Detailed"})
        export.raise_for_status()
        print(f"{'GL export preview':18s} {(time.perf_counter() - t) * 1000:7.1f} ms  "
              f"({len(export.json()['transactions'])} transactions)")
    finally:
        client.close()
        server.stop()


if __name__ == "__main__":
    main()

"""A first sync cycle of invoices at scale: API calls per synced record against the
floor, Ferry's CPU seconds per 1,000 records, and peak memory.

    .venv/bin/python bench/sync_cycle.py                # scales 20 and 40
    .venv/bin/python bench/sync_cycle.py --scales 5,20

Each scale runs in a process of its own (peak RSS is per process), and the growth of
peak memory and CPU per 1,000 records between the first and last scale is printed.
ConnectWise calls are printed against their floor too (see cw_floor).

Both sandboxes run in child processes (their CPU is not Ferry's). Xero's minute limit is
lifted in the sandbox and Ferry's governor runs on a moved clock, so the figures measure
Ferry's work, not waiting. The floor is ⌈documents/50⌉ writes + ⌈new contacts/50⌉ + the
reference reads (tax rates, organisation and currencies, per org). After a second cycle
(which should write nothing) a third, idle one is measured, then the same for credit
memos and bills, and it counts duplicates in the Xero sandbox: invoice numbers held
twice, and contact numbers held by two contacts. Peak memory is taken right after the
first sync.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import secrets
import resource
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.scratch import scratch_instance  # noqa: E402

SERVE = ("from sandbox.kit import run_forever\n"
         "from sandbox.{kind} import create_app\n"
         "run_forever(create_app({args}), '127.0.0.1', {port}, 'ready')\n")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(kind: str, args: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    child = subprocess.Popen([sys.executable, "-c", SERVE.format(kind=kind, args=args,
                                                                 port=port)],
                             cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    child.stdout.readline()                 # the banner: serving
    return child, f"http://127.0.0.1:{port}"


class MovedClock:
    def __init__(self):
        self.offset = 0.0

    def clock(self) -> float:
        return time.time() + self.offset

    def sleep(self, seconds: float) -> None:
        self.offset += seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scales", default="20,40",
                        help="sandbox scales to run, each in a process of its own")
    parser.add_argument("--scale", type=int, help="one scale, figures as JSON (internal)")
    options = parser.parse_args()
    if options.scale is not None:
        print("FIGURES " + json.dumps(measure(options.scale)))
        return
    results = []
    for scale in [int(s) for s in options.scales.split(",")]:
        child = subprocess.run([sys.executable, __file__, "--scale", str(scale)], cwd=ROOT,
                               capture_output=True, text=True)
        line = next((ln for ln in child.stdout.splitlines() if ln.startswith("FIGURES ")),
                    None)
        if line is None:
            print(child.stdout[-3000:], child.stderr[-3000:])
            raise SystemExit(f"scale {scale} failed")
        figures = json.loads(line[len("FIGURES "):])
        results.append(figures)
        report(figures)
    if len(results) >= 2:
        a, b = results[0], results[-1]
        per_k = (b["read"] - a["read"]) / 1000
        print(f"growth from scale {a['scale']} to {b['scale']} ({a['read']} -> {b['read']} "
              f"records): peak RSS {(b['peak_mb'] - a['peak_mb']) / per_k:+.2f} MB per 1,000 "
              f"records (target <= 2); Ferry CPU {(b['cpu'] - a['cpu']) / per_k:.2f} s per "
              "1,000 records (target <= 2)")


def report(f: dict) -> None:
    print(f"--- scale {f['scale']}: first cycle {f['status']}; read {f['read']}, written "
          f"{f['written']}, exceptions {f['exceptions']}, waiting {f['waiting']}; "
          f"{f['wall']:.1f} s wall")
    if f["status"] != "done":
        print(f"the first cycle {f['status']}: {f['message']}")
        raise SystemExit(f"scale {f['scale']}: no figures, the first cycle did not finish")
    print(f"Xero calls: {f['xero_calls']} for {f['synced']} documents and {f['contacts']} "
          f"contacts; floor {f['xero_floor']} ({f['xero_calls'] / f['xero_floor']:.2f}x the "
          "floor, target <= 1.05)")
    print(f"ConnectWise calls: {f['cw_calls']}; floor {f['cw_floor']} "
          f"({f['cw_calls'] / f['cw_floor']:.2f}x the floor, target <= 1.2)")
    print(f"Ferry CPU: {f['cpu']:.2f} s = {f['cpu'] / max(f['read'], 1) * 1000:.2f} s per "
          "1,000 records (mapping, hashing, database, HTTP client)")
    print(f"peak memory (max RSS of the Ferry process): {f['peak_mb']:.0f} MB")
    print(f"idle cycle (third, nothing changed): read {f['idle_read']}, written "
          f"{f['idle_written']}, Xero calls {f['idle_xero']}, ConnectWise calls "
          f"{f['idle_cw']} (targets: 0 Xero, 1 ConnectWise)")
    for kind, o in f["idle_others"].items():
        print(f"idle {kind} cycle (third): read {o['read']}, Xero calls {o['xero']}, "
              f"ConnectWise calls {o['cw']} (targets: 0 Xero, 1 ConnectWise)")
    print(f"duplicates in Xero: {f['dup_invoices']} invoice numbers, "
          f"{f['dup_contacts']} contact numbers")


def cw_floor(read: int, numbers: list[str], companies: list[int]) -> int:
    """The fewest CW calls that can read `read` invoices: the unposted list 1,000 a page
    (it names each invoice by number), the invoices by number and the companies and
    their billing contacts in URL-length chunks (as few as CW's ~2,000-character URLs
    allow), the GL export 200 invoices a request, and the two name lists (locations,
    departments)."""
    from connectors.cw_conditions import split_in
    lookups = (len(list(split_in("invoiceNumber", sorted(numbers))))
               + 2 * len(list(split_in("id", companies))))
    return math.ceil(read / 1000) + lookups + math.ceil(read / 200) + 2


def measure(scale: int) -> dict:
    workdir = scratch_instance()
    os.environ.setdefault("FERRY_SECRET_KEY", secrets.token_urlsafe(48))  # Ferry refuses weak keys

    import migrations
    from app import create_app, open_database
    from jobs.cycle import Pacing, run_cycle
    from jobs.demo import connect_sandboxes, seed_mappings_from_catalog
    from jobs.queue import get_redis
    from models import ContactLink, SyncRecord, db

    url = f"sqlite:///{workdir / 'bench.db'}"
    database = open_database(url)
    with database.connection_context():
        migrations.upgrade(database)
    database.close()
    cw, cw_url = serve("connectwise", f"seed=1, scale={scale}")
    xero, xero_url = serve("xero", "seed=1, minute_limit=10**6, day_limit=10**6")
    app = create_app({"DATABASE_URL": url})
    moved = MovedClock()
    try:
        with app.app_context(), db.connection_context():
            connect_sandboxes(cw_url, xero_url)
            seed_mappings_from_catalog()
            cpu = time.process_time()
            wall = time.monotonic()
            run = run_cycle("invoice", pacing=Pacing(moved.sleep, moved.clock))
            cpu, wall = time.process_time() - cpu, time.monotonic() - wall
            # Peak memory of the first sync alone (what follows reads whole lists back).
            peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            synced = SyncRecord.select().where(SyncRecord.state == "synced").count()
            contacts = ContactLink.select().count()
            orgs = len({r.org_id for r in SyncRecord.select(SyncRecord.org)
                        if r.org_id is not None})
            records = list(SyncRecord.select(SyncRecord.cw_id, SyncRecord.cw_number))
            companies = sorted({c.cw_company_id for c in ContactLink.select()})
            floor_cw = cw_floor(run.read, [r.cw_number for r in records if r.cw_number],
                                companies)
            run_cycle("invoice", pacing=Pacing(moved.sleep, moved.clock))   # settles
            idle = run_cycle("invoice", pacing=Pacing(moved.sleep, moved.clock))
            # The other record types: a first sync, a second that settles, then idle.
            others = {}
            for kind in ("credit_note", "bill"):
                for _ in range(2):
                    run_cycle(kind, pacing=Pacing(moved.sleep, moved.clock))
                other = run_cycle(kind, pacing=Pacing(moved.sleep, moved.clock))
                others[kind] = {"read": other.read, "cw": other.cw_calls,
                                "xero": other.xero_calls}
            duplicates = count_duplicates()
    finally:
        cw.terminate()
        xero.terminate()
        if not os.environ.get("REDIS_URL"):       # the private Redis this run started
            get_redis().shutdown(nosave=True)
    # Writes in batches of 50 + new contacts in batches of 50 + the reference reads per
    # org (tax rates, organisation, currencies): a first sync has an empty cache.
    floor = math.ceil(synced / 50) + math.ceil(contacts / 50) + 3 * orgs
    return {"scale": scale, "status": run.status, "message": run.message, "read": run.read, "written": run.written,
            "exceptions": run.exceptions, "waiting": run.waiting, "wall": wall, "cpu": cpu,
            "synced": synced, "contacts": contacts, "xero_calls": run.xero_calls,
            "xero_floor": floor, "cw_calls": run.cw_calls, "cw_floor": floor_cw,
            "peak_mb": peak_mb, "idle_others": others,
            "idle_read": idle.read, "idle_written": idle.written,
            "idle_xero": idle.xero_calls, "idle_cw": idle.cw_calls,
            "dup_invoices": duplicates["invoices"], "dup_contacts": duplicates["contacts"]}


def count_duplicates() -> Counter:
    """Read every org's invoices and contacts back from the Xero sandbox."""
    from flask import current_app

    from connectors.audit import ListSink
    from connectors.xero import open_client
    from connectors.xero_governor import Governor
    from connectors.xero_oauth import TokenKeeper, load_app
    from jobs.queue import get_redis
    from models import Connection
    found = Counter()
    app = load_app(current_app.config["BASE_URL"])
    for org in Connection.select().where(Connection.kind == "xero"):
        client = open_client(app, org, sink=ListSink(),
                             tokens=TokenKeeper(app, redis=get_redis()),
                             governor=Governor(get_redis()))
        try:
            numbers = Counter(d.get("InvoiceNumber") for d in
                              client.call("GET", "/Invoices")["Invoices"]
                              if d.get("Type") == "ACCREC")
            contacts = Counter(c.get("ContactNumber") for c in
                               client.call("GET", "/Contacts")["Contacts"]
                               if c.get("ContactNumber"))
        finally:
            client.transport.close()
        found["invoices"] += sum(1 for n in numbers.values() if n > 1)
        found["contacts"] += sum(1 for n in contacts.values() if n > 1)
    return found


if __name__ == "__main__":
    main()

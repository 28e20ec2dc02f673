"""A first sync cycle of invoices at scale: API calls per synced record against the
floor, Ferry's CPU seconds per 1,000 records, and peak memory.

    .venv/bin/python bench/sync_cycle.py --scale 20

Both sandboxes run in child processes (their CPU is not Ferry's). Xero's minute limit is
lifted in the sandbox and Ferry's governor runs on a moved clock, so the figures measure
Ferry's work, not waiting. The floor is ⌈documents/50⌉ writes + ⌈new contacts/50⌉ + the
reference reads (tax rates, organisation and currencies, per org). After a second cycle
(which should write nothing) it counts duplicates in the Xero sandbox: invoice numbers
held twice, and contact numbers held by two contacts.
"""
from __future__ import annotations

import argparse
import math
import os
import secrets
import resource
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

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
    parser.add_argument("--scale", type=int, default=20)
    options = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="ferry-bench-"))
    os.environ.setdefault("FERRY_INSTANCE_DIR", str(workdir))
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
    started = time.monotonic()
    cw, cw_url = serve("connectwise", f"seed=1, scale={options.scale}")
    xero, xero_url = serve("xero", "seed=1, minute_limit=10**6, day_limit=10**6")
    print(f"sandboxes up in {time.monotonic() - started:.1f} s (scale {options.scale})")
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
            synced = SyncRecord.select().where(SyncRecord.state == "synced").count()
            contacts = ContactLink.select().count()
            orgs = len({r.org_id for r in SyncRecord.select(SyncRecord.org)
                        if r.org_id is not None})
            second = run_cycle("invoice", pacing=Pacing(moved.sleep, moved.clock))
            duplicates = count_duplicates()
    finally:
        cw.terminate()
        xero.terminate()
        if not os.environ.get("REDIS_URL"):       # the private Redis this run started
            get_redis().shutdown(nosave=True)
    floor = math.ceil(synced / 50) + math.ceil(contacts / 50) + 3 * orgs
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"first cycle: {run.status}; read {run.read}, written {run.written}, "
          f"exceptions {run.exceptions}; {wall:.1f} s wall")
    print(f"Xero calls: {run.xero_calls} for {synced} documents and {contacts} contacts "
          f"= {run.xero_calls / max(synced, 1):.4f} per record; floor {floor} "
          f"({run.xero_calls / floor:.2f}x the floor)")
    print(f"ConnectWise calls: {run.cw_calls} = {run.cw_calls / max(run.read, 1):.4f} "
          "per record read")
    print(f"Ferry CPU: {cpu:.2f} s = {cpu / max(run.read, 1) * 1000:.2f} s per 1,000 "
          "records (mapping, hashing, database, HTTP client)")
    print(f"peak memory (max RSS of the Ferry process): {peak_mb:.0f} MB")
    print(f"second cycle: written {second.written}, Xero calls {second.xero_calls}, "
          f"ConnectWise calls {second.cw_calls}")
    print(f"duplicates in Xero: {duplicates['invoices']} invoice numbers, "
          f"{duplicates['contacts']} contact numbers")


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

"""What writing the audit trail costs per HTTP call, on SQLite and PostgreSQL.

    .venv/bin/python bench/audit_overhead.py [--calls 300]

Makes the same small ConnectWise GET (one page of tax codes from the loopback sandbox)
`--calls` times with no database sink, with the sink writing every record at once
(batch_size=1) and with the default buffered sink (batch_size=50), and prints ms per call
for each. PostgreSQL is measured when 127.0.0.1:5432 (or FERRY_BENCH_POSTGRES_URL) answers;
a throwaway database is created and dropped.
"""
import argparse
import os
import secrets
import socket
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("FERRY_SECRET_KEY", secrets.token_urlsafe(48))  # Ferry refuses weak keys

import migrations  # noqa: E402
from app import open_database  # noqa: E402
from connectors.audit import ListSink  # noqa: E402
from connectors.connectwise import ConnectWise, CWSettings  # noqa: E402
from jobs.audit import DatabaseAuditSink  # noqa: E402
from models import AuditEntry, db  # noqa: E402
from sandbox.connectwise import DEFAULTS, create_app  # noqa: E402
from sandbox.kit import serve_in_thread  # noqa: E402

POSTGRES_ADMIN = os.environ.get("FERRY_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def per_call_ms(client: ConnectWise, calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        client.get("finance/taxCodes", pageSize=25)
    if isinstance(client.transport.sink, DatabaseAuditSink):
        client.transport.sink.flush()
    return (time.perf_counter() - started) * 1000 / calls


def measure(label: str, url: str, calls: int) -> None:
    settings = CWSettings(url, DEFAULTS["company"], DEFAULTS["public_key"],
                          DEFAULTS["private_key"], DEFAULTS["client_id"])
    results = {}
    for name, make_sink in (("no database sink", ListSink),
                            ("sink, batch_size=1", lambda: DatabaseAuditSink(batch_size=1)),
                            ("sink, batch_size=50", lambda: DatabaseAuditSink(batch_size=50))):
        client = ConnectWise(settings, sink=make_sink())
        client.codebase
        per_call_ms(client, 20)            # warm the connection pool and the caches
        results[name] = per_call_ms(client, calls)
        client.close()
    rows = AuditEntry.select().count()
    base = results["no database sink"]
    print(f"{label}: {rows} audit rows written")
    for name, ms in results.items():
        extra = "" if name == "no database sink" else f"  ({ms - base:+.2f} ms per call)"
        print(f"  {name:<22} {ms:6.2f} ms per call{extra}")


def with_database(url: str, label: str, sandbox_url: str, calls: int) -> None:
    database = open_database(url)
    db.initialize(database)
    with database.connection_context():
        migrations.upgrade(database)
        measure(label, sandbox_url, calls)
    database.close()


def postgres_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), 0.5):
            return True
    except OSError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    server = serve_in_thread(create_app(seed=1, scale=1))
    try:
        with tempfile.TemporaryDirectory() as folder:
            with_database(f"sqlite:///{folder}/bench.db", "SQLite (WAL)", server.url, args.calls)
        if not postgres_reachable():
            print("PostgreSQL: not reachable at 127.0.0.1:5432, skipped")
            return
        import psycopg2
        name = f"ferry_bench_{secrets.token_hex(4)}"
        admin = psycopg2.connect(POSTGRES_ADMIN)
        admin.autocommit = True
        admin.cursor().execute(f'CREATE DATABASE "{name}"')
        try:
            with_database(POSTGRES_ADMIN.rsplit("/", 1)[0] + "/" + name, "PostgreSQL",
                          server.url, args.calls)
        finally:
            admin.cursor().execute(f'DROP DATABASE "{name}"')
            admin.close()
    finally:
        server.stop()


if __name__ == "__main__":
    import logging
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    main()

"""`make bench`: run every benchmark once and gather their figures into one Markdown
report, written to bench/REPORT.md (or --out) and printed.

    .venv/bin/python bench/report.py [--quick] [--out bench/REPORT.md]

Each benchmark is a script of its own that prints its figures (they are not tests); this
runs them one after the other on this machine, so that the ratios in one report were
measured in one run, and keeps each one's output verbatim under its heading. --quick runs
the smaller sizes (for a look in a few minutes, not for the README's figures).
"""
from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PYTHON = sys.executable

# (heading, what it compares, arguments for the full run, for --quick, environment);
# "{pg}" in the environment stands for a throwaway PostgreSQL database made for that run.
BENCHES = [
    ("API calls per synced record, CPU and memory of a first sync and an idle cycle",
     "Xero and ConnectWise calls against the floor the API limits allow, first sync and "
     "idle cycle; Ferry's CPU per 1,000 records against JSON-encoding the same payloads; "
     "peak memory and its growth between two scales",
     # Scales 20 and 40 (about 4,300 and 8,700 records) give the growth per 1,000; the
     # sandbox builds scale 40 in under a minute (the README's figures are this run's).
     ["bench/sync_cycle.py", "--scales", "20,40"], ["bench/sync_cycle.py", "--scales", "3,6"],
     {}),
    ("Payment back-sync", "Xero and ConnectWise calls for a first, a busy and an idle "
     "payment cycle",
     ["bench/payment_cycle.py", "--scale", "5", "--payments", "200"],
     ["bench/payment_cycle.py", "--scale", "2", "--payments", "40"], {}),
    ("ConnectWise read", "calls to read every invoice against ⌈records/1000⌉",
     ["bench/cw_read.py", "--scale", "20"], ["bench/cw_read.py", "--scale", "5"], {}),
    ("Xero write", "calls to write 1,000 invoices against ⌈1000/50⌉",
     ["bench/xero_write.py"], ["bench/xero_write.py"], {}),
    ("Audit trail", "cost per API call of recording it, SQLite and PostgreSQL",
     ["bench/audit_overhead.py"], ["bench/audit_overhead.py", "--calls", "100"], {}),
    ("Page latency at scale, SQLite",
     "p50/p95 of each page with 100,000 records and 1,000,000 audit rows against the "
     "budgets; CSV export memory",
     ["bench/pages.py", "--records", "100000", "--audit", "1000000"],
     ["bench/pages.py", "--records", "10000", "--audit", "100000", "--runs", "10"], {}),
    ("Page latency at scale, PostgreSQL", "the same on PostgreSQL",
     ["bench/pages.py", "--records", "100000", "--audit", "1000000"],
     ["bench/pages.py", "--records", "10000", "--audit", "100000", "--runs", "10"],
     {"DATABASE_URL": "{pg}"}),
    ("Idle footprint", "RSS, PSS and CPU of web, worker and scheduler after two idle "
     "minutes against the 256 MB budget",
     ["bench/idle.py", "--idle", "120"], ["bench/idle.py", "--idle", "30"], {}),
    ("Chaos", "sync and payment cycles under random faults: documents, duplicates, lost",
     ["-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "tests/chaos"],
     ["-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "tests/chaos"],
     {"FERRY_CHAOS_SEEDS": "1,2,3,4,5,6,7,8,9,10", "FERRY_CHAOS_CYCLES": "50"}),
]
POSTGRES_ADMIN = os.environ.get("FERRY_BENCH_POSTGRES_URL",
                                "postgresql://postgres@127.0.0.1:5432/test")


def throwaway_postgres() -> str | None:
    """A new empty database beside FERRY_BENCH_POSTGRES_URL's, or None without one."""
    try:
        import psycopg2
        conn = psycopg2.connect(POSTGRES_ADMIN, connect_timeout=3)
    except Exception:
        return None
    conn.autocommit = True
    name = f"ferry_bench_{os.getpid()}_{int(time.time())}"
    with conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()
    return POSTGRES_ADMIN.rsplit("/", 1)[0] + "/" + name


def drop_postgres(url: str) -> None:
    import psycopg2
    conn = psycopg2.connect(POSTGRES_ADMIN)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    conn.close()


def run(args: list[str], env: dict) -> tuple[int, str, float]:
    started = time.monotonic()
    try:
        done = subprocess.run([PYTHON, *args], cwd=ROOT, capture_output=True, text=True,
                              timeout=3 * 3600,
                              env={**os.environ, "PYTHONUNBUFFERED": "1", **env})
        output = done.stdout + (("\n" + done.stderr) if done.returncode else "")
        code = done.returncode
    except subprocess.TimeoutExpired:
        code, output = -1, "did not finish in 3 hours"
    return code, output.strip(), time.monotonic() - started


def machine() -> str:
    cpus = os.cpu_count()
    memory = ""
    try:
        kb = int(next(line for line in open("/proc/meminfo") if line.startswith("MemTotal"))
                 .split()[1])
        memory = f", {kb / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    return f"{platform.system()} {platform.machine()}, {cpus} cores{memory}, Python " \
           f"{platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, minutes not hours")
    parser.add_argument("--out", default=str(ROOT / "bench" / "REPORT.md"))
    args = parser.parse_args()
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts = [f"# Ferry benchmark report\n\nMeasured {now} on {machine()}"
             f"{' (--quick sizes)' if args.quick else ''}, one benchmark after the other. "
             "Each section is the script's own output.\n"]
    summary = ["| benchmark | compares | result | time |", "| --- | --- | --- | --- |"]
    sections = []
    for heading, compares, full, quick, env in BENCHES:
        script = (quick if args.quick else full)
        if args.quick and "FERRY_CHAOS_SEEDS" in env:
            env = {"FERRY_CHAOS_SEEDS": "1,2", "FERRY_CHAOS_CYCLES": "16"}
        pg = None
        if "{pg}" in env.values():
            pg = throwaway_postgres()
            if pg is None:
                summary.append(f"| {heading} | {compares} | skipped: no PostgreSQL at "
                               f"{POSTGRES_ADMIN} | – |")
                continue
            env = {k: (pg if v == "{pg}" else v) for k, v in env.items()}
        print(f"running {' '.join(script)} ...", file=sys.stderr, flush=True)
        try:
            code, output, seconds = run(script, env)
        finally:
            if pg:
                drop_postgres(pg)
        result = "ok" if code == 0 else f"failed (exit {code})"
        summary.append(f"| {heading} | {compares} | {result} | {seconds:.0f} s |")
        sections.append(f"## {heading}\n\n{compares}.\n\n`{' '.join(script)}`\n\n"
                        f"```\n{output}\n```\n")
    # What a benchmark left behind (a process or a scratch folder) is a failure too.
    from bench.scratch import left_running
    left = left_running() + [str(p) for p in Path(tempfile.gettempdir()).glob("ferry-bench-*")]
    summary.append(f"| Left behind | processes and scratch folders of the benchmarks after "
                   f"they ended | {'none' if not left else f'{len(left)}: ' + '; '.join(left)}"
                   " | – |")
    report = "\n".join(parts + ["\n".join(summary), ""] + sections)
    Path(args.out).write_text(report)
    print(report)
    failed = [line for line in summary if "| failed" in line]
    if failed or left:
        print(f"make bench: {len(failed)} benchmark(s) failed, {len(left)} thing(s) left "
              "behind (see the table)", file=sys.stderr)
        raise SystemExit(1)


if __name__ == "__main__":
    main()

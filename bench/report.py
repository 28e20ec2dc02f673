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
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

# (heading, what it compares, arguments for the full run, for --quick)
BENCHES = [
    ("API calls per synced record, CPU and memory of a first sync and an idle cycle",
     "Xero and ConnectWise calls against the floor the API limits allow; Ferry's CPU per "
     "1,000 records against JSON-encoding the same payloads; peak memory at two scales",
     ["bench/sync_cycle.py"], ["bench/sync_cycle.py", "--quick"]),
    ("ConnectWise read", "calls to read every invoice against ⌈records/1000⌉",
     ["bench/cw_read.py", "--scale", "20"], ["bench/cw_read.py", "--scale", "5"]),
    ("Xero write", "calls to write 1,000 invoices against ⌈1000/50⌉",
     ["bench/xero_write.py"], ["bench/xero_write.py"]),
    ("Audit trail", "cost per API call of recording it, SQLite and PostgreSQL",
     ["bench/audit_overhead.py"], ["bench/audit_overhead.py", "--calls", "100"]),
    ("Page latency at scale, SQLite",
     "p50/p95 of each page with 100,000 records and 1,000,000 audit rows; CSV export memory",
     ["bench/pages.py", "--records", "100000", "--audit", "1000000"],
     ["bench/pages.py", "--records", "10000", "--audit", "100000"]),
    ("Page latency at scale, PostgreSQL", "the same on PostgreSQL",
     ["bench/pages.py", "--records", "100000", "--audit", "1000000", "--postgresql"],
     ["bench/pages.py", "--records", "10000", "--audit", "100000", "--postgresql"]),
    ("Chaos", "cycles under random faults: documents, duplicates, lost",
     ["tests/chaos/run.py", "--cycles", "500"], ["tests/chaos/run.py", "--cycles", "40"]),
]


def run(args: list[str]) -> tuple[int, str, float]:
    started = time.monotonic()
    try:
        done = subprocess.run([PYTHON, *args], cwd=ROOT, capture_output=True, text=True,
                              timeout=3 * 3600, env={**os.environ, "PYTHONUNBUFFERED": "1"})
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
    for heading, compares, full, quick in BENCHES:
        script = (quick if args.quick else full)
        if not (ROOT / script[0]).exists():
            summary.append(f"| {heading} | {compares} | not present ({script[0]}) | – |")
            continue
        if "--postgresql" in script and not shutil.which("psql") and \
                not os.environ.get("FERRY_BENCH_POSTGRES_URL"):
            summary.append(f"| {heading} | {compares} | skipped: no PostgreSQL | – |")
            continue
        print(f"running {' '.join(script)} ...", file=sys.stderr, flush=True)
        code, output, seconds = run(script)
        result = "ok" if code == 0 else f"failed (exit {code})"
        summary.append(f"| {heading} | {compares} | {result} | {seconds:.0f} s |")
        sections.append(f"## {heading}\n\n{compares}.\n\n`{' '.join(script)}`\n\n"
                        f"```\n{output}\n```\n")
    report = "\n".join(parts + ["\n".join(summary), ""] + sections)
    Path(args.out).write_text(report)
    print(report)


if __name__ == "__main__":
    main()

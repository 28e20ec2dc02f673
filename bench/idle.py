"""Idle footprint of a whole installation: gunicorn (as deploy/ferry-web.service starts it),
the worker and the scheduler, on SQLite and a private Redis, connected to both sandboxes
(the sandboxes themselves are not counted). After a warm-up (first cycles, the pages
opened once) it waits --idle seconds and prints each process's RSS and PSS
(/proc/PID/smaps_rollup) and the CPU seconds it used while idle, then the totals.

    .venv/bin/python bench/idle.py [--idle 120] [--web-workers N]
"""
from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.scratch import scratch_instance  # noqa: E402
from bench.sync_cycle import free_port, serve  # noqa: E402

BIN = Path(sys.executable).parent
BUDGET_MB = 256


def memory(pid: int) -> tuple[float, float]:
    """RSS and PSS in MB."""
    rss = pss = 0
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Rss:"):
            rss = int(line.split()[1])
        elif line.startswith("Pss:"):
            pss = int(line.split()[1])
    return rss / 1024, pss / 1024


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree(pid: int) -> list[int]:
    """The process and its descendants (gunicorn's workers, RQ's scheduler child)."""
    children = {}
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(proc.name))
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        pending += children.get(current, [])
    return found


def name_of(pid: int) -> str:
    cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    for word in ("gunicorn", "worker", "scheduler"):
        if word in cmd:
            return f"{word} ({pid})"
    return cmd[:60]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--idle", type=float, default=120, help="seconds to stay idle")
    parser.add_argument("--web-workers", type=int,
                        help="gunicorn processes (default: deploy/gunicorn.conf.py's)")
    options = parser.parse_args()
    workdir = scratch_instance()
    env = {**os.environ, "FERRY_INSTANCE_DIR": str(workdir),
           "FERRY_SECRET_KEY": os.environ.get("FERRY_SECRET_KEY") or secrets.token_urlsafe(48),
           "DATABASE_URL": f"sqlite:///{workdir / 'ferry.db'}",
           "REDIS_URL": f"unix://{workdir}/redis.sock", "PYTHONUNBUFFERED": "1"}
    os.environ.update(env)
    redis = subprocess.Popen(["redis-server", "--port", "0", "--unixsocket",
                              f"{workdir}/redis.sock", "--save", "", "--dir", str(workdir)],
                             stdout=subprocess.DEVNULL)
    cw, cw_url = serve("connectwise", "seed=1, scale=1")
    xero, xero_url = serve("xero", "seed=1")
    flask = [str(BIN / "flask"), "--app", "app"]
    subprocess.run(flask + ["db", "upgrade"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    connect = ("from app import create_app\nfrom models import db\n"
               "from jobs.demo import connect_sandboxes, seed_mappings_from_catalog\n"
               "app = create_app()\nwith app.app_context(), db.connection_context():\n"
               f"    connect_sandboxes({cw_url!r}, {xero_url!r})\n"
               "    seed_mappings_from_catalog()\n")
    subprocess.run([sys.executable, "-c", connect], cwd=ROOT, env=env, check=True)
    port = free_port()
    started = {
        "web": subprocess.Popen([str(BIN / "gunicorn"), "--config", "deploy/gunicorn.conf.py",
                                 "--bind", f"127.0.0.1:{port}",
                                 *(["--workers", str(options.web_workers)]
                                   if options.web_workers else []), "app:create_app()"],
                                cwd=ROOT, env=env, stderr=subprocess.DEVNULL),
        "worker": subprocess.Popen(flask + ["worker"], cwd=ROOT, env=env,
                                   stderr=subprocess.DEVNULL),
        "scheduler": subprocess.Popen(flask + ["scheduler"], cwd=ROOT, env=env,
                                      stderr=subprocess.DEVNULL),
    }
    try:
        import httpx2
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx2.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code:
                    break
            except httpx2.HTTPError:
                time.sleep(0.5)
        for path in ("/login", "/healthz", "/readyz"):      # every web worker warmed
            for _ in range(4):
                httpx2.get(f"http://127.0.0.1:{port}{path}", timeout=10)
        time.sleep(20)              # the scheduler's first cycles run and finish
        pids = [p for process in started.values() for p in tree(process.pid)]
        before = {p: cpu_seconds(p) for p in pids}
        time.sleep(options.idle)
        rows, total_rss, total_pss, total_cpu = [], 0.0, 0.0, 0.0
        for pid in pids:
            try:
                rss, pss = memory(pid)
                cpu = cpu_seconds(pid) - before[pid]
            except OSError:         # a work-horse that ended meanwhile
                continue
            rows.append((name_of(pid), rss, pss, cpu))
            total_rss, total_pss, total_cpu = total_rss + rss, total_pss + pss, total_cpu + cpu
    finally:
        for process in started.values():
            process.send_signal(signal.SIGTERM)
        for process in started.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        for child in (cw, xero, redis):
            child.terminate()
    web = (f"{options.web_workers} processes" if options.web_workers
           else "deploy/gunicorn.conf.py's processes and threads")
    print(f"Idle footprint after {options.idle:.0f} s idle (gunicorn with {web}, worker, "
          "scheduler; SQLite, Redis not counted)")
    for name, rss, pss, cpu in rows:
        print(f"  {name:28} RSS {rss:6.1f} MB   PSS {pss:6.1f} MB   CPU {cpu:5.2f} s")
    print(f"total: RSS {total_rss:.0f} MB (budget {BUDGET_MB} MB) "
          f"{'ok' if total_rss <= BUDGET_MB else 'OVER'}, PSS {total_pss:.0f} MB, "
          f"CPU {total_cpu:.2f} s over {options.idle:.0f} s idle "
          f"({100 * total_cpu / options.idle:.1f}% of one core)")


if __name__ == "__main__":
    main()

"""What a test run left running: `python tests/leftovers.py RUN_DIR` lists every process
whose command line or environment names RUN_DIR (`make test` runs the suite with TMPDIR
and pytest's temporary root inside it, so every redis-server, gunicorn, RQ worker,
scheduler or browser a test started carries it), ends them (SIGTERM, then SIGKILL) and
exits 1 when there were any, so a test that forgets to stop what it started is seen."""
from __future__ import annotations

import os
import signal
import sys
import time


def _read(pid: str, name: str) -> str:
    try:
        with open(f"/proc/{pid}/{name}", "rb") as f:
            return f.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


def _ancestors() -> set[str]:
    found, pid = set(), str(os.getpid())
    while pid and pid != "0":
        found.add(pid)
        stat = _read(pid, "stat")
        pid = stat.rsplit(")", 1)[-1].split()[1] if ")" in stat else ""
    return found


def left_running(run_dir: str) -> dict[int, str]:
    mine = _ancestors()
    found = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or pid in mine:
            continue
        cmdline = _read(pid, "cmdline")
        if run_dir in cmdline or run_dir in _read(pid, "environ"):
            found[int(pid)] = cmdline.strip()[:200] or _read(pid, "comm").strip()
    return found


def main(run_dir: str) -> int:
    run_dir = run_dir.rstrip("/")
    deadline = time.monotonic() + 5         # a process the last test just stopped
    while (found := left_running(run_dir)) and time.monotonic() < deadline:
        time.sleep(0.2)
    if not found:
        print(f"leftovers: nothing the tests started is still running ({run_dir})")
        return 0
    print(f"leftovers: {len(found)} process(es) the tests started are still running; "
          "ending them:")
    for pid, what in sorted(found.items()):
        print(f"  {pid}: {what}")
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in found:
            try:
                os.kill(pid, sig)
            except OSError:
                pass
        time.sleep(2)
    return 1


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tests/leftovers.py RUN_DIR")
    sys.exit(main(sys.argv[1]))

"""A benchmark's scratch folder (its instance folder: database, key, private Redis) that
goes away when the script ends, whether it finished or failed: the private Redis that
Ferry started in it is stopped and the folder removed. `make bench` ended with two of
pages.py's redis-servers still running an hour later before this."""
from __future__ import annotations

import atexit
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path


def scratch_instance() -> Path:
    """A new folder, made FERRY_INSTANCE_DIR unless one is set, cleaned up at exit."""
    folder = Path(tempfile.mkdtemp(prefix="ferry-bench-"))
    os.environ.setdefault("FERRY_INSTANCE_DIR", str(folder))
    atexit.register(clean, folder)
    # A terminated benchmark (report.py's timeout, Ctrl-C) still cleans up.
    signal.signal(signal.SIGTERM, _exit_on_term)
    return folder


def _exit_on_term(_signum, _frame):
    raise SystemExit(143)           # runs the atexit clean-up, which a bare kill skips


def clean(folder: Path) -> None:
    # SIGTERM is not enough: Redis saves on shutdown, and if that save fails it stays up.
    try:
        pid = int((folder / "redis.pid").read_text().strip())
    except (OSError, ValueError):
        pid = None
    if pid is not None:
        try:
            import redis
            redis.Redis(unix_socket_path=str(folder / "redis.sock")).shutdown(nosave=True)
        except Exception:           # redis-py raises ConnectionError once it has gone
            pass
        for _ in range(50):
            try:
                os.kill(pid, 0)
            except OSError:
                break
            time.sleep(0.1)
        else:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    shutil.rmtree(folder, ignore_errors=True)


def left_running() -> list[str]:
    """Processes whose command line names a benchmark's scratch folder (for report.py)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "ferry-bench-" in cmdline and "left_running" not in cmdline:
            found.append(f"{proc.name}: {cmdline.strip()[:160]}")
    return found

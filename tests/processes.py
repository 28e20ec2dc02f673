"""Ferry's own processes started as `make demo` and the systemd units start them, for
tests that need a real worker beside the app under test."""
import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def ferry_process(role: str, database_url: str, log: Path, **env):
    """`flask --app app <role>` (worker, scheduler) on `database_url`, its output in `log`;
    stopped (then killed if it lingers) when the block ends. Yields the log's path."""
    environment = dict(os.environ, DATABASE_URL=database_url, **env)
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", role],
                                env=environment, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

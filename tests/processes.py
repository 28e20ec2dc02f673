"""Ferry's own processes started as `make demo` and the systemd units start them, for
tests that need a real worker beside the app under test."""
import os
import subprocess
import sys
import time
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


def kill_mid_call(call: str, database_url: str, faults, settle: float = 3.5) -> None:
    """Run `call` (e.g. "jobs.cycle:run_cycle('invoice')") in a child process with a job
    context, SIGKILL it as soon as the sandbox starts holding its first faulted call
    (`faults`: the sandbox's fault rules, a "slow" rule first), then wait `settle` seconds
    for the sandbox to finish that call anyway: a worker that died mid-write."""
    module, expression = call.split(":", 1)
    code = (f"from jobs.context import job_context\nimport {module}\n"
            f"with job_context():\n    {module}.{expression}\n")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    worker = subprocess.Popen([sys.executable, "-c", code], cwd=root,
                              env={**os.environ, "DATABASE_URL": database_url},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while faults.rules()[0]["fired"] == 0:
        assert worker.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    worker.kill()
    worker.wait()
    time.sleep(settle)

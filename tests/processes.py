"""Ferry's own processes started as `make demo` and the systemd units start them, for
tests that need a real worker beside the app under test."""
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


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
        _end(proc)


def _end(proc: subprocess.Popen, patience: float = 15) -> None:
    """SIGTERM, and SIGKILL if it lingers."""
    proc.terminate()
    try:
        proc.wait(timeout=patience)
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
    try:
        deadline = time.monotonic() + 60
        while faults.rules()[0]["fired"] == 0:
            assert worker.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        worker.kill()           # also when the call never reached the fault
        worker.wait()
    time.sleep(settle)


class Processes:
    """Worker and scheduler (`flask --app app worker|scheduler`) as real processes, each
    of which a test may stop, kill -9 and start again; `close()` ends them all (and any
    RQ work horse left running)."""

    def __init__(self, tmp_path: Path, env: dict):
        self.tmp_path, self.env = tmp_path, env
        self.running: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}
        self.every: list[subprocess.Popen] = []
        self.orphans: list[int] = []        # work horses of a killed worker

    def start(self, role: str, *args: str, **env: str) -> subprocess.Popen:
        log = self.tmp_path / f"{role}.log"
        self.logs[role] = log
        with log.open("a") as out:
            proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", role,
                                     *args], cwd=ROOT, env={**self.env, **env},
                                    stdout=out, stderr=subprocess.STDOUT)
        self.running[role] = proc
        self.every.append(proc)
        return proc

    def kill(self, role: str) -> None:
        """`kill -9` of the process itself (an RQ work horse, if one runs, lives on
        until its job ends, as it would)."""
        proc = self.running.pop(role)
        self.orphans += _children(proc.pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    def stop(self, role: str) -> None:
        _end(self.running.pop(role), patience=20)

    def log(self, role: str) -> str:
        return self.logs[role].read_text() if role in self.logs else ""

    def all_logs(self) -> str:
        return "\n".join(f"--- {role}\n{path.read_text()[-3000:]}"
                         for role, path in self.logs.items())

    def close(self) -> None:
        for pid in self.orphans:
            _kill(pid)
        for proc in self.every:
            children = _children(proc.pid)
            if proc.poll() is None:
                _end(proc)
            for pid in children:            # a work horse left running
                _kill(pid)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return [int(p) for p in found.stdout.split()]


def wait_for(what: str, predicate, timeout: float = 60.0, logs: Processes | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {timeout:.0f} s\n"
                         + (logs.all_logs() if logs else ""))

"""`flask --app app check` says in sentences what is wrong with an installation and exits
1, and passes (exit 0) on one set up as the README's VPS section describes."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def test_a_fresh_installation_is_told_what_to_fix(app):
    app.config["BASE_URL"] = "http://127.0.0.1:5000"
    result = app.test_cli_runner().invoke(args=["check"])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    problems = {line.split(":", 1)[0].replace("PROBLEM", "").strip()
                for line in lines if line.startswith("PROBLEM")}
    assert {"Base URL", "Xero", "ConnectWise"} <= problems, result.output
    assert any("FERRY_BASE_URL=https://" in line for line in lines)
    assert any(line.startswith("ok") and "Database" in line for line in lines)
    assert "problem(s) to fix" in result.output


class _Sink:
    async def handle_DATA(self, server, session, envelope):
        return "250 OK"


@pytest.fixture
def smtp_server():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(_Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    yield controller
    controller.stop()


@pytest.fixture
def processes(app, database_url, tmp_path):
    """A real worker and scheduler on the same database and Redis, as systemd runs them."""
    env = {**os.environ, "DATABASE_URL": database_url,
           "FERRY_SECRET_KEY": app.config["SECRET_KEY"],
           "PATH": f"{BIN}:{os.environ.get('PATH', '')}"}
    started = []
    for role in ("worker", "scheduler"):
        with open(tmp_path / f"{role}.log", "w") as log:
            started.append(subprocess.Popen([str(BIN / "flask"), "--app", "app", role],
                                            cwd=ROOT, env=env, stdout=log,
                                            stderr=subprocess.STDOUT))
    yield started
    for proc in started:
        proc.terminate()
    for proc in started:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_an_installation_set_up_as_the_readme_says_passes(ferry, smtp_server, processes):
    from jobs import readiness
    from jobs.queue import get_redis
    ferry.config.update(BASE_URL="https://ferry.msp.example", SMTP_HOST="127.0.0.1",
                        SMTP_PORT=smtp_server.port, SMTP_STARTTLS=False)
    # The scheduler registers its jobs just after it says it is alive: wait for both.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if readiness.worker_check(get_redis()).ok and \
                readiness.scheduler_check(get_redis()).ok and \
                _schedule_ok(ferry, readiness):
            break
        time.sleep(0.5)
    result = ferry.test_cli_runner().invoke(args=["check"])
    assert result.exit_code == 0, result.output
    assert "PROBLEM" not in result.output
    for subject in ("Secret key", "Base URL", "Database", "Redis", "Mail", "Xero",
                    "ConnectWise", "Worker", "Scheduler", "Schedule", "Stored secrets"):
        assert subject in result.output, (subject, result.output)


def _schedule_ok(ferry, readiness):
    from jobs.queue import get_redis
    from models import db
    with ferry.app_context(), db.connection_context():
        return readiness.schedule_check(get_redis()).ok


def test_a_weak_key_is_one_sentence_not_a_traceback(tmp_path):
    """A person who pasted a short key into /etc/ferry.env runs `flask check` (or any
    command) and is told what to do, exit 1."""
    env = {**os.environ, "FERRY_SECRET_KEY": "changeme", "FERRY_INSTANCE_DIR": str(tmp_path),
           "PATH": f"{BIN}:{os.environ.get('PATH', '')}"}
    for command in (["check"], ["db", "upgrade"]):
        done = subprocess.run([str(BIN / "flask"), "--app", "app", *command], cwd=ROOT,
                              env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 1
        assert "FERRY_SECRET_KEY is too weak" in done.stderr
        assert "token_urlsafe(48)" in done.stderr
        assert "Traceback" not in done.stdout + done.stderr


def test_a_changed_key_a_bad_port_and_failing_cycles_are_sentences(ferry):
    """After a restore with the wrong key, every line still prints: the secrets that
    cannot be read are named as such, a bad SMTP port is a sentence, and ConnectWise
    whose cycles keep stopping is not "ok" because its last test passed."""
    import secrets as random

    import security
    from models import SyncRun, db
    with ferry.app_context(), db.connection_context():
        for n in range(3):
            SyncRun.create(record_type="invoice", trigger="schedule", status="stopped",
                           message=f"ConnectWise answered HTTP 500 ({n}).")
    new_key = random.token_urlsafe(48)
    ferry.config.update(SECRET_KEY=new_key, BASE_URL="https://ferry.msp.example",
                        SMTP_HOST="127.0.0.1", SMTP_PORT="abc")
    security.configure(new_key)
    try:
        result = ferry.test_cli_runner().invoke(args=["check"])
    finally:
        security.configure(os.environ["FERRY_SECRET_KEY"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code == 1 and "Traceback" not in result.output
    lines = {line.split(":", 1)[0].replace("PROBLEM", "").strip(): line
             for line in result.output.splitlines() if line.startswith("PROBLEM")}
    assert "cannot be decrypted with this FERRY_SECRET_KEY" in lines["Stored secrets"]
    assert "cannot be decrypted" in lines["Xero"]
    assert "FERRY_SMTP_PORT “abc” is not a port number" in lines["Mail"]
    assert "cannot be decrypted" in lines["ConnectWise"]
    # The right key back: ConnectWise's last test passed, but its cycles keep stopping.
    ferry.config.update(SECRET_KEY=os.environ["FERRY_SECRET_KEY"], SMTP_PORT=None,
                        SMTP_HOST=None)
    result = ferry.test_cli_runner().invoke(args=["check"])
    line = next(x for x in result.output.splitlines() if x.startswith("PROBLEM ConnectWise"))
    assert "the last 3 invoice cycles did not finish" in line
    assert "HTTP 500 (2)" in line

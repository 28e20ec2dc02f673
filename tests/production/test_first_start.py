"""Ferry started the way production starts it: the Procfile's three processes (gunicorn
web, RQ worker, rq-scheduler) together on an EMPTY database, in whatever order honcho
brings them up. The worker and scheduler must wait for the web process's migrations
instead of crashing (which stopped every process on the first start before), /readyz
must report every part running, and a force-synced cycle must run through the worker
against the sandboxes.
"""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import pytest

from tests.conftest import DATABASES
from tests.sync_e2e.helpers import documents, orgs

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
STRONG_KEY = "K3v7-production-test-key-9f2c4e1a8b6d0e5f7a3c9b1d4e6f8a0c2"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _environment(tmp_path, database_url, redis_url, port, cw, xero) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("FERRY_", "DATABASE_URL", "REDIS_URL"))}
    env.update({
        "PATH": f"{BIN}:{env.get('PATH', '/usr/bin:/bin')}",
        "FERRY_INSTANCE_DIR": str(tmp_path / "instance"),
        "FERRY_SECRET_KEY": STRONG_KEY,
        "FERRY_BIND": f"127.0.0.1:{port}",
        "FERRY_BASE_URL": f"http://127.0.0.1:{port}",
        "FERRY_WEB_WORKERS": "1",
        "DATABASE_URL": database_url,
        # demo-setup connects to the sandboxes on these ports.
        "FERRY_DEMO_CW_PORT": str(cw.port),
        "FERRY_DEMO_XERO_PORT": str(xero.port),
    })
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


def _database(kind, tmp_path, request):
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'instance' / 'ferry.db'}", None
    url = request.getfixturevalue("postgres_databases").create()
    return url, os.environ["REDIS_URL"]


def _wait_healthy(base: str, log: Path, timeout: float = 90.0) -> dict:
    deadline = time.monotonic() + timeout
    body = None
    while time.monotonic() < deadline:
        try:
            answer = httpx2.get(f"{base}/readyz", timeout=2.0)
            body = answer.json()
            if answer.status_code == 200 and body["status"] == "ready":
                return body
        except (httpx2.HTTPError, ValueError):
            pass
        time.sleep(0.5)
    raise AssertionError(f"not healthy in {timeout}s: {body}\n{log.read_text()[-4000:]}")


def _sign_in(client: httpx2.Client, base: str) -> str:
    page = client.get(f"{base}/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    from app import DEMO_EMAIL, DEMO_PASSWORD
    answer = client.post(f"{base}/login", data={
        "email": DEMO_EMAIL, "password": DEMO_PASSWORD, "csrf_token": token})
    assert answer.status_code in (302, 303), answer.text[:500]
    home = client.get(f"{base}/")
    found = re.search(r'name="csrf_token" value="([^"]+)"', home.text)
    assert home.status_code == 200 and found, (home.status_code, home.text[:500])
    return found.group(1)


@pytest.mark.slow
@pytest.mark.parametrize("kind", DATABASES)
def test_procfile_first_start_on_an_empty_database_then_a_forced_cycle(
        kind, tmp_path, request, cw, xero):
    database_url, redis_url = _database(kind, tmp_path, request)
    port = _free_port()
    env = _environment(tmp_path, database_url, redis_url, port, cw, xero)
    (tmp_path / "instance").mkdir()
    log = tmp_path / "honcho.log"
    base = f"http://127.0.0.1:{port}"
    with open(log, "w") as out:
        honcho = subprocess.Popen(
            [str(BIN / "honcho"), "-f", str(ROOT / "Procfile"), "start"], cwd=ROOT, env=env,
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        health = _wait_healthy(base, log)
        assert all(check["ok"] for check in health["checks"].values()), health
        text = log.read_text()
        assert "Traceback" not in text, text[-4000:]
        assert "does not exist" not in text and "no such table" not in text, text[-4000:]

        # Connect to the sandboxes and seed mappings the way the demo does, from a
        # separate process on the same database.
        setup = subprocess.run(
            [str(BIN / "flask"), "--app", "app", "demo-setup", "--wait"], cwd=ROOT, env=env,
            capture_output=True, text=True, timeout=120)
        assert setup.returncode == 0, setup.stdout + setup.stderr

        with httpx2.Client(follow_redirects=False, timeout=10.0) as client:
            token = _sign_in(client, base)
            queued = client.post(f"{base}/runs/force", data={
                "record_type": "invoice", "csrf_token": token})
            assert queued.status_code == 303, queued.text[:500]
        written = _wait_for_run(database_url)
        in_xero = sum(len(documents(org)) for org in orgs(xero).values())
        assert in_xero == written, (in_xero, written)
    finally:
        os.killpg(honcho.pid, signal.SIGTERM)
        try:
            honcho.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(honcho.pid, signal.SIGKILL)
            honcho.wait()
        _stop_private_redis(tmp_path / "instance")


def _wait_for_run(database_url: str, timeout: float = 120.0) -> int:
    """The forced run, read from the database the processes share: it must end done
    with documents written."""
    from app import open_database
    database = open_database(database_url)
    deadline = time.monotonic() + timeout
    row = None
    try:
        while time.monotonic() < deadline:
            with database.connection_context():
                row = database.execute_sql(
                    "SELECT status, written, message FROM sync_run "
                    "WHERE trigger = 'force' ORDER BY id DESC LIMIT 1").fetchone()
            if row and row[0] not in ("running", "queued"):
                break
            time.sleep(1.0)
    finally:
        database.close()
    assert row is not None, "the forced cycle never started"
    assert row[0] == "done" and row[1] > 0, row
    return row[1]


def _stop_private_redis(instance: Path) -> None:
    pid_file = instance / "redis.pid"
    if pid_file.exists():
        try:
            os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)
        except (ValueError, ProcessLookupError):
            pass

"""/healthz reports the database, Redis, the worker and the scheduler truthfully."""
import os
import subprocess
import sys
import time

import pytest


def _wait_for(client, part, want, logs=(), seconds=20):
    deadline = time.monotonic() + seconds
    body = None
    while time.monotonic() < deadline:
        body = client.get("/healthz").get_json()
        if body["checks"][part]["ok"] is want:
            return body
        time.sleep(0.3)
    output = "\n".join(path.read_text()[-2000:] for path in logs)
    raise AssertionError(f"{part} never became ok={want}: {body}\n{output}")


def test_health_without_login_reports_parts(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["redis"]["ok"] is True
    assert body["checks"]["worker"]["ok"] is False
    assert body["status"] == "degraded"


@pytest.fixture
def ferry_process(app, tmp_path):
    """Start `flask --app app ARGS` in the background; returns its log file."""
    started = []

    def start(*args):
        env = dict(os.environ, DATABASE_URL=app.config["DATABASE_URL"])
        log = tmp_path / f"{args[0]}.log"
        with log.open("w") as stderr:  # the child keeps its own copy of the handle
            proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", *args],
                                    env=env, stdout=subprocess.DEVNULL, stderr=stderr)
        started.append(proc)
        return log

    yield start
    for proc in started:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_health_sees_a_running_worker_and_scheduler(client, ferry_process):
    logs = [ferry_process("worker"), ferry_process("scheduler", "--interval", "1")]
    _wait_for(client, "worker", True, logs)
    body = _wait_for(client, "scheduler", True, logs)
    assert body["status"] == "ok"


def test_dashboard_health_panel_is_an_htmx_partial(app, client, auth):
    from models import SyncRun, db
    with app.app_context(), db.connection_context():
        # A cycle has run: past the first run, whose / is the guided setup instead.
        SyncRun.create(record_type="invoice", status="done")
    auth.login()
    full = client.get("/").get_data(as_text=True)
    assert "<html" in full and 'id="health"' in full
    partial = client.get("/dashboard/health", headers={"HX-Request": "true"})
    text = partial.get_data(as_text=True)
    assert "<html" not in text and 'id="health"' in text and "not running" in text

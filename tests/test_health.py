"""/healthz (liveness) and /readyz (readiness) answer JSON an uptime monitor can read:
/healthz 200 while the web process answers, whatever else is down (it never touches the
database); /readyz 200 only when the database, Redis, a worker, the scheduler and the
schedule are all well, else 503 with a sentence per part. Both public, neither says
anything secret (issue 27: a database outage was an HTML 500, a dead worker "ok")."""
import os
import socket
import time

import pytest
import redis

from tests.processes import Processes, wait_for


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _secrets_absent(text: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in text, secret


@pytest.fixture
def processes(app, tmp_path):
    env = dict(os.environ, DATABASE_URL=app.config["DATABASE_URL"],
               FERRY_SECRET_KEY=app.config["SECRET_KEY"])
    started = Processes(tmp_path, env)
    yield started
    started.close()


def _ready(client, part: str, want: bool, processes=None, timeout: float = 60.0):
    def check():
        body = client.get("/readyz").get_json()
        return body if body["checks"][part]["ok"] is want else None
    return wait_for(f"/readyz {part} ok={want}", check, timeout=timeout, logs=processes)


@pytest.mark.parametrize("broken", ["postgresql", "sqlite"])
def test_a_database_that_is_down_is_json_not_an_error_page(broken, tmp_path, redis_url,
                                                           monkeypatch):
    from app import create_app, release_connections
    from models import db
    path = tmp_path / "ferry.db"
    url = (f"postgresql://ferry:db-password-42@127.0.0.1:{_closed_port()}/ferry"
           if broken == "postgresql" else f"sqlite:///{path}")
    app = create_app({"TESTING": True, "DATABASE_URL": url,
                      "SECRET_KEY": os.environ["FERRY_SECRET_KEY"]})
    if broken == "sqlite":
        # The file goes bad under the running web process (root reads any file, so
        # unreadable is a folder in its place): SQLite can no longer open it.
        for leftover in tmp_path.glob("ferry.db*"):
            leftover.unlink()
        path.mkdir()
    try:
        client = app.test_client()
        live = client.get("/healthz")
        assert live.status_code == 200 and live.is_json
        assert live.get_json()["status"] == "ok"
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.is_json
        body = ready.get_json()
        assert body["status"] == "not ready"
        database = body["checks"]["database"]
        assert database["ok"] is False
        assert database["sentence"].startswith("The database does not answer (")
        assert body["checks"]["redis"]["ok"] is True
        assert body["checks"]["schedule"]["ok"] is False
        # A browser still signed in (a session cookie) gets the same answers.
        with client.session_transaction() as session:
            session["user_id"] = 1
            session["signed_in_at"] = time.time()
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 503
        _secrets_absent(ready.get_data(as_text=True), "db-password-42", "ferry:",
                        str(tmp_path), os.environ["FERRY_SECRET_KEY"])
    finally:
        release_connections()
        db.close()


def test_redis_down_is_not_ready(app, client, monkeypatch):
    monkeypatch.setenv("REDIS_URL", f"redis://:redis-password-7@127.0.0.1:{_closed_port()}/0")
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 503
    checks = ready.get_json()["checks"]
    assert checks["database"]["ok"] is True
    assert checks["redis"] == {"ok": False, "sentence": checks["redis"]["sentence"]}
    assert checks["redis"]["sentence"].startswith("Redis does not answer (ConnectionError)")
    assert checks["worker"]["ok"] is checks["scheduler"]["ok"] is False
    _secrets_absent(ready.get_data(as_text=True), "redis-password-7", "127.0.0.1")


def test_ready_with_a_worker_and_a_scheduler_then_not_when_one_is_killed(
        app, client, processes, redis_url):
    """Real processes as systemd runs them; `kill -9` of either shows at once (it ran
    on this host: its process is gone), not minutes later."""
    from jobs.schedule import register_schedule
    from models import db
    processes.start("worker")
    processes.start("scheduler", "--interval", "1")
    body = _ready(client, "scheduler", True, processes)
    body = _ready(client, "worker", True, processes)
    wait_for("ready", lambda: client.get("/readyz").status_code == 200, logs=processes)
    body = client.get("/readyz").get_json()
    assert body["status"] == "ready"
    assert set(body["checks"]) == {"database", "redis", "worker", "scheduler", "schedule"}
    assert body["checks"]["worker"]["count"] == 1

    processes.kill("worker")
    killed = time.monotonic()
    ready = client.get("/readyz")
    assert ready.status_code == 503, ready.get_json()
    worker = ready.get_json()["checks"]["worker"]
    assert worker["ok"] is False and "systemctl start ferry-worker" in worker["sentence"]
    assert time.monotonic() - killed < 5

    processes.start("worker")
    _ready(client, "worker", True, processes)
    processes.kill("scheduler")
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.get_json()["checks"]["scheduler"]["ok"] is False
    assert "systemctl start ferry-scheduler" in \
        ready.get_json()["checks"]["scheduler"]["sentence"]
    _secrets_absent(ready.get_data(as_text=True), socket.gethostname(),
                    app.config["DATABASE_URL"], os.environ["REDIS_URL"])
    with app.app_context(), db.connection_context():
        register_schedule(redis.Redis.from_url(redis_url))   # the schedule stays whole


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
    assert "<html" not in text and 'id="health"' in text
    assert 'data-part="worker"' in text and "No worker is running" in text
    assert "/readyz" in text

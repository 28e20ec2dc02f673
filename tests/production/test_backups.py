"""Backups as the person running Ferry meets them: a backup run in a bare shell (without
the services' environment) wrote an empty backup, exited 0 and left a stray secret key;
`--verify` checks one; `--keep` keeps a rotation; a restore refuses a running Ferry and
says the order that works; a restored Xero sign-in that Xero has since replaced says so
instead of blaming a withdrawn consent."""
from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import httpx2
import pytest

from app import create_app
from models import Connection, SyncRun, db
from tests.conftest import DATABASES

ROOT = Path(__file__).resolve().parents[2]
FLASK = str(Path(sys.executable).parent / "flask")
KEY = os.environ["FERRY_SECRET_KEY"]


def needs_pg_tools(kind: str) -> None:
    if kind == "postgresql" and not (shutil.which("pg_dump") and shutil.which("pg_restore")):
        pytest.skip("pg_dump/pg_restore are not installed (apt-get install postgresql-client)")


def _app_for(url: str, key: str = KEY):
    return create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": key})


def _new_url(kind: str, tmp_path, request, name: str) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / name}"
    return request.getfixturevalue("postgres_databases").create()


def _filled(kind, tmp_path, request, name="live.db"):
    """An installation with data: migrated, a ConnectWise connection with its key."""
    url = _new_url(kind, tmp_path, request, name)
    live = _app_for(url)
    assert live.test_cli_runner().invoke(args=["db", "upgrade"]).exit_code == 0
    with live.app_context(), db.connection_context():
        Connection.create(kind="connectwise", name="ConnectWise",
                          settings={"site": "https://api-na.myconnectwise.net"},
                          secrets={"private_key": "pRiVaTe-Key-123"})
    return live


def test_backup_in_a_bare_shell_refuses_and_leaves_nothing_behind(tmp_path):
    """No DATABASE_URL, no key: Ferry looked at its default SQLite file, found nothing,
    says where it looked and how to run it, exits 1, and removes what it made."""
    instance = tmp_path / "instance"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("FERRY_", "DATABASE_URL"))}
    env["FERRY_INSTANCE_DIR"] = str(instance)
    done = subprocess.run([FLASK, "--app", "app", "backup", str(tmp_path / "b")], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        f"Error: Found no Ferry data to back up in the SQLite file {instance}/ferry.db (no "
        "migrations applied). DATABASE_URL is not set in this shell, so Ferry looked at its "
        "default. Run the backup with the services' settings, for example runuser -u ferry "
        "-- sh -c 'set -a; . /etc/ferry.env; .venv/bin/flask --app app backup FOLDER'.")
    assert not instance.exists(), list(instance.iterdir())     # no stray secret_key
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize("kind", DATABASES)
def test_backup_of_a_migrated_but_empty_database_is_refused(kind, tmp_path, request):
    url = _new_url(kind, tmp_path, request, "empty.db")
    empty = _app_for(url)
    assert empty.test_cli_runner().invoke(args=["db", "upgrade"]).exit_code == 0
    result = empty.test_cli_runner().invoke(args=["backup", str(tmp_path / "b")])
    assert result.exit_code == 1
    assert "Found no Ferry data to back up" in result.output
    assert "(every table empty)" in result.output
    db.obj.close()


@pytest.mark.parametrize("kind", DATABASES)
def test_verify_checks_the_file_the_database_and_the_key(kind, tmp_path, request):
    needs_pg_tools(kind)
    live = _filled(kind, tmp_path, request)
    folder = tmp_path / "backup"
    made = live.test_cli_runner().invoke(args=["backup", str(folder)])
    assert made.exit_code == 0, made.output
    assert f"Backup {folder} is sound" in made.output         # checked right after writing
    verified = live.test_cli_runner().invoke(args=["backup", "--verify", str(folder)])
    assert verified.exit_code == 0, verified.output
    assert "checksum matches" in verified.output and "made with this secret key" in \
        verified.output
    db.obj.close()

    other = _app_for(_new_url(kind, tmp_path, request, "other.db"), secrets.token_urlsafe(48))
    refused = other.test_cli_runner().invoke(args=["backup", "--verify", str(folder)])
    assert refused.exit_code == 1 and "made with another secret key" in refused.output
    db.obj.close()

    manifest = json.loads((folder / "manifest.json").read_text())
    data = folder / manifest["file"]
    damaged = bytearray(data.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    data.write_bytes(bytes(damaged))
    bad = live.test_cli_runner().invoke(args=["backup", "--verify", str(folder)])
    assert bad.exit_code == 1 and "checksum differs" in bad.output
    missing = live.test_cli_runner().invoke(args=["backup", "--verify", str(tmp_path)])
    assert missing.exit_code == 1 and "is not a Ferry backup" in missing.output
    db.obj.close()


def test_keep_writes_dated_backups_and_removes_the_oldest(tmp_path, request):
    live = _filled("sqlite", tmp_path, request)
    parent = tmp_path / "backups"
    parent.mkdir()
    (parent / "notes").mkdir()                  # not a Ferry backup: never touched
    names = []
    for _ in range(3):
        result = live.test_cli_runner().invoke(args=["backup", "--keep", "2", str(parent)])
        assert result.exit_code == 0, result.output
        names.append(result.output.split("Backup written to ", 1)[1].split(" (", 1)[0])
    left = sorted(p.name for p in parent.iterdir())
    assert left == sorted([Path(names[1]).name, Path(names[2]).name, "notes"])
    assert f"Removed the older backup {names[0]}." in result.output
    db.obj.close()


@pytest.mark.parametrize("kind", DATABASES)
def test_restore_in_the_order_the_readme_gives(kind, tmp_path, request, redis_url):
    """The services stopped, an empty database, restore, start. A running Ferry, or a
    database its first start already wrote into, is refused with the way that works."""
    needs_pg_tools(kind)
    live = _filled(kind, tmp_path, request)
    folder = tmp_path / "backup"
    assert live.test_cli_runner().invoke(args=["backup", str(folder)]).exit_code == 0
    db.obj.close()

    target_url = _new_url(kind, tmp_path, request, "new.db")
    target = _app_for(target_url)
    assert target.test_cli_runner().invoke(args=["db", "upgrade"]).exit_code == 0
    # The new installation's services started once: a cycle ran (nothing connected).
    with target.app_context(), db.connection_context():
        from jobs.cycle import run_cycle
        assert run_cycle("invoice").status == "stopped"

    from rq import Worker

    from jobs.queue import get_redis
    worker = Worker(["default"], connection=get_redis(), name="ferry-test-worker")
    worker.register_birth()
    worker.heartbeat()
    try:
        running = target.test_cli_runner().invoke(args=["restore", "--yes", str(folder)])
        assert running.exit_code == 1
        assert "Ferry is running (1 worker)" in running.output
        assert "Stop Ferry's services first" in running.output
    finally:
        worker.register_death()

    filled = target.test_cli_runner().invoke(args=["restore", "--yes", str(folder)])
    assert filled.exit_code == 1 and "already holds data (for example in sync_run)" in \
        filled.output
    assert "Restore into an empty database with the services stopped" in filled.output
    db.obj.close()

    # What the sentence says: an empty database, then restore.
    empty = _app_for(_new_url(kind, tmp_path, request, "empty-again.db"))
    restored = empty.test_cli_runner().invoke(args=["restore", "--yes", str(folder)])
    assert restored.exit_code == 0, restored.output
    with empty.app_context(), db.connection_context():
        assert Connection.get(Connection.kind == "connectwise").secrets == {
            "private_key": "pRiVaTe-Key-123"}
        assert SyncRun.select().count() == 0
    db.obj.close()


@pytest.mark.parametrize("kind", DATABASES)
def test_a_restored_xero_sign_in_xero_has_replaced_says_so(kind, cw, xero, tmp_path,
                                                           request, redis_url):
    """The backup holds the refresh token of its time; Xero rotates it on each refresh
    and takes the previous one for 30 minutes only. After the restore, Xero's refusal is
    explained by the backup's age, not by a withdrawn consent."""
    needs_pg_tools(kind)
    from jobs.cycle import run_cycle
    from jobs.demo import connect_sandboxes, seed_mappings_from_catalog
    from models import XeroGrant
    live = _app_for(_new_url(kind, tmp_path, request, "live.db"))
    assert live.test_cli_runner().invoke(args=["db", "upgrade"]).exit_code == 0
    folder = tmp_path / "backup"
    with live.app_context(), db.connection_context():
        connect_sandboxes(cw.url, xero.url)
        seed_mappings_from_catalog()
        made = live.test_cli_runner().invoke(args=["backup", str(folder)])
        assert made.exit_code == 0, made.output
        # Ferry runs on: its next refresh rotates the token the backup holds.
        for grant in XeroGrant.select():
            grant.token = {**grant.token, "expires_at": 0}
            grant.save()
        assert run_cycle("credit_note").status == "done"
    db.obj.close()
    httpx2.post(f"{xero.url}/_sandbox/clock", json={"advance_seconds": 31 * 60}) \
        .raise_for_status()

    fresh = _app_for(_new_url(kind, tmp_path, request, "restored.db"))
    restored = fresh.test_cli_runner().invoke(args=["restore", "--yes", str(folder)])
    assert restored.exit_code == 0, restored.output
    assert "connect Xero again under Settings → Xero" in restored.output
    with fresh.app_context(), db.connection_context():
        run = run_cycle("credit_note")
        assert run.status == "stopped"
        org = Connection.get(Connection.kind == "xero")
        assert org.status == "needs_reconnect"
        assert org.last_error.startswith(
            "Xero no longer accepts the sign-in this installation was restored with: the "
            "backup was made "), org.last_error
        assert "withdrawn" not in org.last_error
    db.obj.close()

"""Upgrades and backups as a person running Ferry meets them: an installation with data
at an earlier schema comes to head with its data intact; two processes migrating at
once apply each migration once; a backup restores onto a fresh instance with its
secrets readable, and refuses a restore that would lose them."""
from __future__ import annotations

import multiprocessing
import os
import secrets
import shutil
from datetime import datetime

import pytest

import migrations
from app import open_database
from tests.conftest import DATABASES

PREVIOUS_HEAD = "0004_sync"   # the schema of the last release before this one


@pytest.fixture(params=DATABASES)
def empty_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ferry.db'}"
    return request.getfixturevalue("postgres_databases").create()


def _fill_previous_release(database) -> None:
    """Rows as the previous release wrote them, through plain SQL of that schema."""
    now = datetime(2026, 11, 20, 10, 30)
    sql = database.execute_sql
    p = database.param
    sql(f"INSERT INTO \"user\" (email, password_hash, is_admin, created_at) VALUES "
        f"({p}, {p}, {p}, {p})", ("finance@msp.example", "scrypt:hash", True, now))
    sql(f"INSERT INTO connection (kind, name, status, settings, created_at, updated_at) "
        f"VALUES ({p}, {p}, {p}, {p}, {p}, {p})",
        ("xero", "Adelaide Pty Ltd", "active", '{"grant_id": 1}', now, now))
    sql(f"INSERT INTO sync_run (record_type, trigger, status, started_at, finished_at, read, "
        f"written, skipped, exceptions, cw_calls, xero_calls) VALUES "
        f"({p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p})",
        ("invoice", "schedule", "done", now, now, 3, 2, 0, 1, 4, 2))
    sql(f"INSERT INTO sync_record (record_type, cw_id, cw_number, org_id, state, xero_id, "
        f"cw_total, updated_at, last_run_id) VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p})",
        ("invoice", 1377, "1377", 1, "synced", "b6a1c0de-0000-4000-8000-000000001377",
         "1045.50", now, 1))
    sql(f"INSERT INTO account_mapping (org_id, cw_account, xero_code) VALUES ({p}, {p}, {p})",
        (1, "4000", "200"))
    sql(f"INSERT INTO audit_entry (at, api, method, url, status, duration_ms, record_ref) "
        f"VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p})",
        (now, "xero", "PUT", "https://api.xero.com/api.xro/2.0/Invoices", 200, 12.5,
         "invoice:1377"))


def test_an_installation_at_the_previous_release_upgrades_with_its_data(empty_url):
    database = open_database(empty_url)
    with database.connection_context():
        assert migrations.upgrade(database, target=PREVIOUS_HEAD)[-1] == PREVIOUS_HEAD
        _fill_previous_release(database)
        ran = migrations.upgrade(database)
        assert ran == [m for m in migrations.available() if m > PREVIOUS_HEAD]
        assert migrations.pending(database) == []
        row = database.execute_sql(
            "SELECT cw_number, state, xero_id, cw_total FROM sync_record").fetchone()
        assert row[:3] == ("1377", "synced", "b6a1c0de-0000-4000-8000-000000001377")
        assert str(row[3]) in ("1045.50", "1045.5")
        assert database.execute_sql("SELECT email FROM \"user\"").fetchone()[0] == \
            "finance@msp.example"
        assert database.execute_sql("SELECT xero_code FROM account_mapping").fetchone()[0] \
            == "200"
        assert database.execute_sql("SELECT record_ref FROM audit_entry").fetchone()[0] == \
            "invoice:1377"
        assert database.execute_sql("SELECT written FROM sync_run").fetchone()[0] == 2
    database.close()


def _migrate(url: str, barrier) -> None:
    barrier.wait()  # open together too: a new SQLite file is switched to WAL on open
    database = open_database(url)
    with database.connection_context():
        migrations.upgrade(database)


def test_two_processes_migrating_at_once_apply_each_migration_once(empty_url):
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(3)
    workers = [context.Process(target=_migrate, args=(empty_url, barrier)) for _ in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    assert [w.exitcode for w in workers] == [0, 0, 0]
    database = open_database(empty_url)
    with database.connection_context():
        names = [r[0] for r in database.execute_sql(
            "SELECT name FROM ferry_migration ORDER BY name").fetchall()]
    database.close()
    assert names == migrations.available()


def test_worker_waits_for_the_schema_with_a_sentence(empty_url):
    database = open_database(empty_url)
    lines = []
    with pytest.raises(migrations.SchemaNotReady) as refused:
        migrations.wait_for_schema(database, timeout=0.3, log=lines.append, poll=0.1)
    assert "flask --app app db upgrade" in str(refused.value)
    assert lines and "Waiting for the database schema" in lines[0]
    with database.connection_context():
        migrations.upgrade(database)
    migrations.wait_for_schema(database, timeout=1, log=lines.append)  # returns at once
    database.close()


# --- backup and restore -----------------------------------------------------------------

def _app_for(url: str, key: str):
    from app import create_app
    return create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": key})


def _new_url(kind: str, tmp_path, request, name: str) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / name}"
    return request.getfixturevalue("postgres_databases").create()


@pytest.mark.parametrize("kind", DATABASES)
def test_backup_restores_on_a_fresh_instance_with_secrets_readable(kind, tmp_path, request):
    if kind == "postgresql" and not shutil.which("pg_dump"):
        pytest.skip("pg_dump is not installed (apt-get install postgresql-client)")
    from models import Connection, db
    key = os.environ["FERRY_SECRET_KEY"]
    source_url = _new_url(kind, tmp_path, request, "live.db")
    live = _app_for(source_url, key)
    runner = live.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    with live.app_context(), db.connection_context():
        Connection.create(kind="connectwise", name="ConnectWise",
                          settings={"site": "https://api-na.myconnectwise.net"},
                          secrets={"private_key": "pRiVaTe-Key-123"})
    backup_dir = tmp_path / "backup-2026-11-29"
    made = runner.invoke(args=["backup", str(backup_dir)])
    assert made.exit_code == 0, made.output
    assert "secret key is not in this backup" in made.output
    stored = "".join(p.read_bytes().decode("latin-1") for p in backup_dir.iterdir())
    assert key not in stored and "pRiVaTe-Key-123" not in stored
    assert oct(backup_dir.stat().st_mode & 0o777) == "0o700"
    db.obj.close()

    # A fresh instance with another key: refused, with the reason.
    other = _app_for(_new_url(kind, tmp_path, request, "wrongkey.db"),
                     secrets.token_urlsafe(48))
    refused = other.test_cli_runner().invoke(args=["restore", "--yes", str(backup_dir)])
    assert refused.exit_code != 0 and "another secret key" in refused.output
    db.obj.close()

    # A fresh instance with the same key: everything back, secrets readable.
    fresh = _app_for(_new_url(kind, tmp_path, request, "fresh.db"), key)
    restored = fresh.test_cli_runner().invoke(args=["restore", "--yes", str(backup_dir)])
    assert restored.exit_code == 0, restored.output
    with fresh.app_context(), db.connection_context():
        connection = Connection.get(Connection.kind == "connectwise")
        assert connection.secrets == {"private_key": "pRiVaTe-Key-123"}
        assert migrations.pending(db) == []
    # Restoring again over data is refused: nothing is overwritten.
    again = fresh.test_cli_runner().invoke(args=["restore", "--yes", str(backup_dir)])
    assert again.exit_code != 0 and "already holds data" in again.output
    db.obj.close()

    # A new installation whose services started once (the web unit migrated an empty
    # schema, as the README's order does) takes the backup too.
    started = _app_for(_new_url(kind, tmp_path, request, "started.db"), key)
    assert started.test_cli_runner().invoke(args=["db", "upgrade"]).exit_code == 0
    restored = started.test_cli_runner().invoke(args=["restore", "--yes", str(backup_dir)])
    assert restored.exit_code == 0, restored.output
    with started.app_context(), db.connection_context():
        connection = Connection.get(Connection.kind == "connectwise")
        assert connection.secrets == {"private_key": "pRiVaTe-Key-123"}
        assert migrations.pending(db) == []
    db.obj.close()

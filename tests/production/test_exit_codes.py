"""Every command's exit status is something a script, cron or a container can trust: 0
when it did what it says, 1 with one sentence when it did not (a sync that stopped used
to exit 0; a database or Redis out of reach printed a traceback)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from models import OutboxMail
from tests.sync_e2e.helpers import fault

ROOT = Path(__file__).resolve().parents[2]
FLASK = str(Path(sys.executable).parent / "flask")


def one_sentence_error(result) -> str:
    """The failure as the person reads it: 'Error: …' and no traceback."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output, result.output
    line = result.output.strip().splitlines()[-1]
    assert line.startswith("Error: "), result.output
    return line


def test_sync_exits_1_when_the_cycle_stopped(ferry, xero):
    fault(xero, kind="429-day", path="/api.xro/2.0/*")
    result = ferry.test_cli_runner().invoke(args=["sync", "invoice"])
    line = one_sentence_error(result)
    assert line.startswith("Error: The invoice cycle stopped: This Xero organisation has "
                           "used all of today's API calls"), line


def test_sync_exits_1_when_nothing_is_connected(app):
    result = app.test_cli_runner().invoke(args=["sync", "bill"])
    assert "ConnectWise is not connected" in one_sentence_error(result)


def test_sync_exits_0_when_the_cycle_is_done(ferry):
    result = ferry.test_cli_runner().invoke(args=["sync", "credit_note"])
    assert result.exit_code == 0 and " done: " in result.output, result.output


def test_outbox_send_exits_1_when_mail_cannot_go(app):
    with app.app_context():
        from models import db
        with db.connection_context():
            OutboxMail.create(kind="test", recipients=["a@msp.example"], subject="s", text="t")
    # No mail server configured: nothing can be sent.
    app.config["SMTP_HOST"] = None
    result = app.test_cli_runner().invoke(args=["outbox", "--send"])
    assert "no mail server is configured" in one_sentence_error(result)
    listed = app.test_cli_runner().invoke(args=["outbox"])       # a listing only
    assert listed.exit_code == 0, listed.output


def test_outbox_send_exits_1_when_the_server_refuses(app, silent):
    with app.app_context():
        from models import db
        with db.connection_context():
            OutboxMail.create(kind="test", recipients=["a@msp.example"], subject="s", text="t")
    app.config.update({"SMTP_HOST": "127.0.0.1", "SMTP_PORT": silent, "SMTP_TIMEOUT": 0.5,
                       "SMTP_STARTTLS": False})
    result = app.test_cli_runner().invoke(args=["outbox", "--send"])
    assert "1 e-mail(s) could not be sent" in one_sentence_error(result)


@pytest.fixture
def silent():
    from tests.alerts.conftest import free_port  # a port nobody listens on: refused at once
    return free_port()


def test_database_out_of_reach_is_one_sentence(redis_url):
    from app import create_app
    unreachable = create_app({"TESTING": True,
                              "DATABASE_URL": "postgresql://ferry:pw@127.0.0.1:1/ferry"})
    for args in (["db", "upgrade"], ["db", "status"], ["sync", "invoice"], ["outbox"],
                 ["digest", "send"], ["mappings", "export", "routing"]):
        result = unreachable.test_cli_runner().invoke(args=args)
        line = one_sentence_error(result)
        assert ("Ferry could not use its database, PostgreSQL database ferry on "
                "127.0.0.1:1") in line, (args, line)
        assert "pw" not in result.output


def test_schema_not_migrated_says_what_to_run(tmp_path, redis_url):
    from app import create_app
    fresh = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'new.db'}"})
    result = fresh.test_cli_runner().invoke(args=["sync", "invoice"])
    assert "run flask --app app db upgrade" in one_sentence_error(result)


def test_redis_out_of_reach_is_one_sentence(app, monkeypatch):
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    result = app.test_cli_runner().invoke(args=["sync", "invoice"])
    line = one_sentence_error(result)
    assert "Ferry could not reach Redis at 127.0.0.1:1" in line, line


def test_the_real_process_exits_1_with_the_sentence_on_stderr(tmp_path):
    """Through `flask` itself, as cron or a container runs it."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update({"FERRY_INSTANCE_DIR": str(tmp_path),
                "DATABASE_URL": "postgresql://ferry@127.0.0.1:1/ferry"})
    done = subprocess.run([FLASK, "--app", "app", "db", "status"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith(
        "Error: Ferry could not use its database"), done.stderr

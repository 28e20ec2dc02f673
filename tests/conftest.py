"""Fixtures in the style of the Flask tutorial: `app`, `client`, `auth`.

The suite uses the real services when it can reach them (PostgreSQL at 127.0.0.1:5432,
Redis at 127.0.0.1:6379, or FERRY_TEST_POSTGRES_URL / FERRY_TEST_REDIS_URL) and the
embedded defaults otherwise (SQLite files, a private redis-server); its header says
which. Every test that takes `app` runs once per database available.
"""
import os
import re
import secrets
import socket
import tempfile
from pathlib import Path

import pytest

# Keep tests away from the checkout's instance/ (the demo's database and Redis).
_SESSION_DIR = Path(tempfile.mkdtemp(prefix="ferry-tests-"))
os.environ["FERRY_INSTANCE_DIR"] = str(_SESSION_DIR)
os.environ.setdefault("FERRY_SECRET_KEY", "test-secret-key-not-for-production")

POSTGRES_URL = os.environ.get("FERRY_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("FERRY_TEST_REDIS_URL", "redis://127.0.0.1:6379/9")
ADMIN_EMAIL = "finance@msp.example"
ADMIN_PASSWORD = "correct horse battery"


def _reachable(url: str, default_port: int) -> bool:
    from urllib.parse import urlparse
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname, parsed.port or default_port), 0.5):
            return True
    except OSError:
        return False


def _postgres_available() -> bool:
    return _reachable(POSTGRES_URL, 5432)


def _resolve_redis() -> str:
    if _reachable(REDIS_URL, 6379):
        return REDIS_URL
    from jobs.queue import ensure_embedded_redis
    return ensure_embedded_redis()


DATABASES = ["sqlite"] + (["postgresql"] if _postgres_available() else [])
os.environ["REDIS_URL"] = _resolve_redis()


def pytest_report_header(config):
    pg = f"postgresql ({POSTGRES_URL})" if "postgresql" in DATABASES else \
        "postgresql not reachable: SQLite only"
    return [f"ferry databases: sqlite, {pg}", f"ferry redis: {os.environ['REDIS_URL']}"]


class PostgresDatabases:
    """Creates throwaway databases beside the `test` one and drops them at the end."""

    def __init__(self, admin_url: str):
        self.admin_url = admin_url
        self.created: list[str] = []

    def _admin(self):
        import psycopg2
        conn = psycopg2.connect(self.admin_url)
        conn.autocommit = True
        return conn

    def create(self) -> str:
        name = f"ferry_test_{os.getpid()}_{secrets.token_hex(4)}"
        conn = self._admin()
        try:
            with conn.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{name}"')
        finally:
            conn.close()
        self.created.append(name)
        return self.admin_url.rsplit("/", 1)[0] + "/" + name

    def drop_all(self) -> None:
        conn = self._admin()
        try:
            with conn.cursor() as cur:
                for name in self.created:
                    cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            conn.close()


@pytest.fixture(scope="session")
def postgres_databases():
    if "postgresql" not in DATABASES:
        pytest.skip("PostgreSQL is not reachable at " + POSTGRES_URL)
    dbs = PostgresDatabases(POSTGRES_URL)
    yield dbs
    dbs.drop_all()


@pytest.fixture(scope="session")
def _postgres_app_url(postgres_databases):
    """One migrated PostgreSQL database for the session; tables emptied per test."""
    import migrations
    from app import open_database
    url = postgres_databases.create()
    database = open_database(url)
    with database.connection_context():
        migrations.upgrade(database)
    database.close()
    return url


def _empty_tables(database) -> None:
    tables = [t for t in database.get_tables() if t != "ferry_migration"]
    if tables:
        quoted = ", ".join(f'"{t}"' for t in tables)
        database.execute_sql(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE")


@pytest.fixture(params=DATABASES)
def database_url(request, tmp_path):
    """A migrated, empty database: a fresh SQLite file, or the session's PostgreSQL one."""
    import migrations
    from app import open_database
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ferry.db'}"
        database = open_database(url)
        with database.connection_context():
            migrations.upgrade(database)
        database.close()
        return url
    url = request.getfixturevalue("_postgres_app_url")
    database = open_database(url)
    with database.connection_context():
        _empty_tables(database)
    database.close()
    return url


@pytest.fixture
def redis_url():
    import redis
    url = os.environ["REDIS_URL"]
    redis.Redis.from_url(url).flushdb()
    return url


@pytest.fixture
def app(database_url, redis_url):
    from app import create_app
    from models import db
    application = create_app({
        "TESTING": True,
        "DATABASE_URL": database_url,
        "SECRET_KEY": os.environ["FERRY_SECRET_KEY"],
    })
    with application.app_context(), db.connection_context():
        from blueprints.auth import save_user
        save_user(ADMIN_EMAIL, ADMIN_PASSWORD)
    yield application
    if not db.is_closed():
        db.close()
    db.obj.close()


@pytest.fixture
def client(app):
    return app.test_client()


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"|"X-CSRFToken": "([^"]+)"')


def csrf_token(client, path: str = "/login") -> str:
    """The CSRF token a page hands out (forms, or the HTMX header on every page)."""
    html = client.get(path).get_data(as_text=True)
    match = _CSRF.search(html)
    assert match, f"no CSRF token on {path}"
    return match.group(1) or match.group(2)


class AuthActions:
    def __init__(self, client):
        self._client = client

    def login(self, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD):
        token = csrf_token(self._client, "/login")
        return self._client.post("/login", data={
            "email": email, "password": password, "csrf_token": token})

    def logout(self):
        token = csrf_token(self._client, "/")
        return self._client.post("/logout", data={"csrf_token": token})


@pytest.fixture
def auth(client):
    return AuthActions(client)

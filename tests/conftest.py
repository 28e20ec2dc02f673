"""Fixtures in the style of the Flask tutorial: `app`, `client`, `auth`.

The suite uses the real services when it can reach them (PostgreSQL at 127.0.0.1:5432,
Redis at 127.0.0.1:6379, or FERRY_TEST_POSTGRES_URL / FERRY_TEST_REDIS_URL) and the
embedded defaults otherwise (SQLite files, a private redis-server); its header says
which. Every test that takes `app` runs once per database available. A run claims a Redis
database number of its own (RedisClaim), so suites sharing one Redis never collide.
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
os.environ.setdefault("FERRY_SECRET_KEY", secrets.token_urlsafe(48))  # Ferry refuses weak keys

POSTGRES_URL = (os.environ.get("FERRY_TEST_POSTGRES_URL")
                or "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("FERRY_TEST_REDIS_URL") or "redis://127.0.0.1:6379/9"
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


class RedisClaim:
    """One Redis database number owned by this test run, so two suites on one Redis (a
    developer's and CI's) never flush each other's keys or hold each other's cycle locks.

    The run claims a database with an expiring key (SET NX EX) and renews it from a
    daemon thread while it lives; a run that dies leaves a claim that expires, and the next
    run may take that database over (it then holds only test keys: the `used` marker says
    so). A database holding keys that no test run marked is never touched. The preferred
    number is the one in FERRY_TEST_REDIS_URL; the others are tried after it.
    """
    CLAIM = "ferry-test:claim"
    USED = "ferry-test:used"
    TTL = 90
    _RENEW = ("if redis.call('GET', KEYS[1]) == ARGV[1] then "
              "return redis.call('EXPIRE', KEYS[1], ARGV[2]) end return 0")

    def __init__(self, base_url: str):
        from urllib.parse import urlparse
        self.base = urlparse(base_url)
        self.preferred = int((self.base.path or "/0").lstrip("/") or 0)
        self.token = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.db: int | None = None
        self._stop = None

    def url(self, db: int) -> str:
        return self.base._replace(path=f"/{db}").geturl()

    def _client(self, db: int):
        import redis
        return redis.Redis.from_url(self.url(db))

    def acquire(self) -> str:
        client0 = self._client(self.preferred)
        databases = int(client0.config_get("databases").get("databases", 16))
        # Fall back from the top: engineers and CI set low numbers of their own.
        order = [self.preferred] + [n for n in range(databases - 1, 0, -1) if n != self.preferred]
        for db in order:
            client = self._client(db)
            if not client.set(self.CLAIM, self.token, nx=True, ex=self.TTL):
                continue                        # another live run owns it
            if client.dbsize() > 1 and not client.exists(self.USED):
                client.delete(self.CLAIM)       # someone's data (a demo?): leave it alone
                continue
            client.set(self.USED, "1")
            self.db = db
            self.flush_own()                    # a dead run's leftovers
            self._start_renewing(client)
            return self.url(db)
        raise RuntimeError(f"No free Redis database on {self.base.netloc} for this test run.")

    def _start_renewing(self, client) -> None:
        import threading
        self._stop = threading.Event()

        def renew():
            while not self._stop.wait(self.TTL / 3):
                try:
                    client.eval(self._RENEW, 1, self.CLAIM, self.token, self.TTL)
                except Exception:       # Redis restarted (chaos): renew on the next tick
                    pass
        threading.Thread(target=renew, name="ferry-test-redis-claim", daemon=True).start()

    def flush_own(self) -> None:
        """Every key of this run's database but the claim and its marker."""
        client = self._client(self.db)
        keep = {self.CLAIM.encode(), self.USED.encode()}
        batch = [k for k in client.scan_iter(count=1000) if k not in keep]
        for start in range(0, len(batch), 500):
            client.delete(*batch[start:start + 500])

    def release(self) -> None:
        if self.db is None:
            return
        if self._stop:
            self._stop.set()
        try:
            self.flush_own()
            self._client(self.db).eval(
                "if redis.call('GET', KEYS[1]) == ARGV[1] then "
                "return redis.call('DEL', KEYS[1]) end return 0", 1, self.CLAIM, self.token)
        except Exception:
            pass


REDIS_CLAIM: RedisClaim | None = None


def _resolve_redis() -> str:
    global REDIS_CLAIM
    if _reachable(REDIS_URL, 6379):
        REDIS_CLAIM = RedisClaim(REDIS_URL)
        return REDIS_CLAIM.acquire()
    from jobs.queue import ensure_embedded_redis
    return ensure_embedded_redis()      # private to this run's instance folder


DATABASES = ["sqlite"] + (["postgresql"] if _postgres_available() else [])


def _hypothesis_profile() -> None:
    """Hypothesis's clock checks (an example's deadline, data generation too slow) time
    the machine, not the property: the suite runs in parallel workers on a small CI box,
    where one draw of a list of Decimals once took a second. Same examples, same
    assertions, no wall-clock verdicts."""
    from hypothesis import HealthCheck, settings
    settings.register_profile("ferry", deadline=None,
                              suppress_health_check=[HealthCheck.too_slow])
    settings.load_profile("ferry")


_hypothesis_profile()


def pytest_configure(config):
    """Each process that runs tests claims its Redis database: with pytest-xdist each
    worker (gw0, gw1, ...) claims one of its own; the controller, which runs none, none."""
    if getattr(config.option, "numprocesses", None) and \
            not os.environ.get("PYTEST_XDIST_WORKER"):
        os.environ["REDIS_URL"] = "redis://controller-runs-no-tests.invalid/0"
        return
    os.environ["REDIS_URL"] = _resolve_redis()


def pytest_unconfigure(config):
    if REDIS_CLAIM is not None:
        REDIS_CLAIM.release()
    _stop_embedded_redis(_SESSION_DIR)
    import shutil
    shutil.rmtree(_SESSION_DIR, ignore_errors=True)


def _stop_embedded_redis(instance: Path) -> None:
    """The private redis-server Ferry started in `instance` (when no Redis was reachable),
    ended with the session that started it."""
    import signal
    import time
    pidfile = instance / "redis.pid"
    try:
        pid = int(pidfile.read_text().strip())
        os.kill(pid, signal.SIGTERM)
    except (OSError, ValueError):
        return
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except OSError:
            return
        time.sleep(0.05)


def pytest_report_header(config):
    pg = f"postgresql ({POSTGRES_URL})" if "postgresql" in DATABASES else \
        "postgresql not reachable: SQLite only"
    redis_line = os.environ["REDIS_URL"]
    if "controller-runs-no-tests" in redis_line:
        redis_line = f"one database per xdist worker, claimed on {REDIS_URL.rsplit('/', 1)[0]}"
    return [f"ferry databases: sqlite, {pg}", f"ferry redis: {redis_line}"]


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


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory) -> Path:
    """One SQLite file migrated once per session (per test worker); each test gets a copy."""
    import migrations
    from app import open_database
    path = tmp_path_factory.mktemp("sqlite-template") / "ferry.db"
    database = open_database(f"sqlite:///{path}")
    with database.connection_context():
        migrations.upgrade(database)
        database.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    database.close()
    return path


@pytest.fixture(params=DATABASES)
def database_url(request, tmp_path):
    """A migrated, empty database: a fresh SQLite file (a copy of the session's migrated
    template), or the session's PostgreSQL one emptied."""
    from app import open_database
    if request.param == "sqlite":
        import shutil
        target = tmp_path / "ferry.db"
        shutil.copyfile(request.getfixturevalue("_sqlite_template"), target)
        return f"sqlite:///{target}"
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
    if REDIS_CLAIM is not None:
        REDIS_CLAIM.flush_own()         # this run's database only, claim kept
    else:
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
    with application.app_context(), db.connection_context():
        assert_run_counts()
    if not db.is_closed():
        db.close()
    from app import release_connections
    release_connections()
    db.obj.close()


def assert_run_counts() -> None:
    """Every cycle the suite ran left each record it read in a state a person sees:
    read = written + skipped + exceptions + waiting + excluded for a finished run (a
    run stopped part-way says in its message how many it did not reach)."""
    from models import SyncRun, db
    if not db.table_exists("sync_run"):
        return
    for run in SyncRun.select().where(
            SyncRun.record_type.in_(("invoice", "credit_note", "bill"))):
        accounted = run.written + run.skipped + run.exceptions + run.waiting + run.excluded
        if run.status == "done":
            assert run.read == accounted, (
                f"run {run.id} ({run.record_type}) read {run.read} but accounted for "
                f"{accounted}: written {run.written}, skipped {run.skipped}, exceptions "
                f"{run.exceptions}, waiting {run.waiting}, excluded {run.excluded}")
        elif run.status != "running":
            assert accounted <= run.read, f"run {run.id} accounted for more than it read"


@pytest.fixture(scope="session")
def _playwright():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        yield pw


@pytest.fixture
def chromium(request):
    """The worker's one headless Chromium (launched at its first browser test, closed at
    the end of the session; launched again if it died). Each test opens its own context."""
    from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
    if CHROMIUM is None:
        pytest.skip("browser tests need Chromium: apt-get install chromium")
    global _BROWSER
    if _BROWSER is None or not _BROWSER.is_connected():
        pw = request.getfixturevalue("_playwright")
        _BROWSER = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                      args=CHROMIUM_ARGS)
    return _BROWSER


_BROWSER = None


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
        token = csrf_token(self._client, "/settings/")
        return self._client.post("/logout", data={"csrf_token": token})


@pytest.fixture
def auth(client):
    return AuthActions(client)

"""Versioned schema migrations.

Each file `NNNN_name.py` here has `upgrade(db, migrator)`: `db` is the peewee database,
`migrator` a playhouse.migrate SchemaMigrator for it. Migrations define the tables they
create as frozen classes of their own (never importing models.py, which moves on), and
run once each, in order, inside a transaction; the names applied are kept in the table
`ferry_migration`.
"""
import fcntl
import importlib
import pkgutil
import re
import time
from contextlib import contextmanager
from datetime import datetime, timezone

from peewee import CharField, DatabaseProxy, DateTimeField, Model, PostgresqlDatabase
from playhouse.migrate import SchemaMigrator

_NAME = re.compile(r"^\d{4}_\w+$")


def _ledger(db):
    class FerryMigration(Model):
        name = CharField(primary_key=True)
        applied_at = DateTimeField()

        class Meta:
            database = db
            table_name = "ferry_migration"

    return FerryMigration


def available() -> list[str]:
    names = [m.name for m in pkgutil.iter_modules(__path__) if _NAME.match(m.name)]
    return sorted(names)


def applied(db) -> list[str]:
    ledger = _ledger(db)
    if not db.table_exists("ferry_migration"):
        return []
    return [row.name for row in ledger.select().order_by(ledger.name)]


def pending(db) -> list[str]:
    done = set(applied(db))
    return [name for name in available() if name not in done]


def upgrade(db, target: str | None = None) -> list[str]:
    """Apply every pending migration (up to and including `target`, when given); returns
    the names applied.

    Processes that start together (web, worker, scheduler, a second host) may all call
    this: the whole upgrade runs under one lock, and what is pending is read again inside
    it, so each migration runs exactly once and the ledger never records one twice."""
    ledger = _ledger(db)
    with _migration_lock(db):
        db.create_tables([ledger], safe=True)
        ran = []
        for name in pending(db):
            if target is not None and name > target:
                break
            module = importlib.import_module(f"{__name__}.{name}")
            with db.atomic():
                module.upgrade(db, SchemaMigrator.from_database(db))
                ledger.create(name=name,
                              applied_at=datetime.now(timezone.utc).replace(tzinfo=None))
            ran.append(name)
    return ran


def wait_for_schema(db, timeout: float, log=None, poll: float = 1.0) -> None:
    """Block until every migration this code knows is applied (the web process or
    `flask db upgrade` applies them). Workers and the scheduler call this at start so
    they never read a table that does not exist yet; raises SchemaNotReady on timeout."""
    deadline = time.monotonic() + timeout
    said = None
    while True:
        try:
            with db.connection_context():
                waiting = pending(db)
        except Exception as exc:  # the database itself not up yet: same wait
            waiting = [f"(database not reachable: {type(exc).__name__})"]
        if not waiting:
            return
        if log is not None and waiting != said:
            log(f"Waiting for the database schema: {len(waiting)} migration(s) pending "
                f"({', '.join(waiting)}); the web process applies them on start, or run "
                "`flask --app app db upgrade`.")
            said = waiting
        if time.monotonic() > deadline:
            raise SchemaNotReady(
                f"The database schema is not up to date after {int(timeout)} s "
                f"({', '.join(waiting)} pending). Run `flask --app app db upgrade`.")
        time.sleep(poll)


class SchemaNotReady(Exception):
    """The schema did not reach this code's head in time; the message says what to run."""


# Any constant: the advisory lock's key for "a migration is running" on PostgreSQL.
_PG_LOCK_KEY = 0x46455252  # "FERR"


@contextmanager
def _migration_lock(db):
    if isinstance(db, DatabaseProxy):  # models.db: lock the database it stands for
        db = db.obj
    if isinstance(db, PostgresqlDatabase):
        db.execute_sql("SELECT pg_advisory_lock(%s)", (_PG_LOCK_KEY,))
        try:
            yield
        finally:
            db.execute_sql("SELECT pg_advisory_unlock(%s)", (_PG_LOCK_KEY,))
        return
    path = getattr(db, "database", None)
    if not path or path == ":memory:":
        yield
        return
    with open(f"{path}.migrate-lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)

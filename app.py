"""Ferry's application factory: configuration, database, blueprints, CLI commands."""
import os
import sys
import time
from pathlib import Path

import click
from flask import Flask, request
from flask_htmx import HTMX
from flask_wtf.csrf import CSRFProtect
from playhouse.db_url import connect as connect_url
from playhouse.pool import PooledDatabase

import config
import migrations
import security
from models import db

# The demo's administrator, printed by `make demo`; never created outside demo-setup.
DEMO_EMAIL = "demo@ferry.example"
DEMO_PASSWORD = "ferry-demo-2026"

csrf = CSRFProtect()
htmx = HTMX()

# Only our own static files: no CDN, no inline script or style.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; object-src 'none'"
)


def open_database(url: str, *, pooled: bool = False):
    """A peewee database for DATABASE_URL (SQLite gets WAL and foreign keys). `pooled`
    keeps PostgreSQL connections open between requests (opening one costs ≈ 8 ms, most
    of a small page); SQLite opens a file, which costs nothing to repeat."""
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1].split("?", 1)[0]
        if path and path != ":memory:" and os.path.isdir(os.path.dirname(path) or "."):
            if not os.path.exists(path):
                for made in (path, path + "-wal", path + "-shm"):
                    config.MADE_HERE.append(Path(made))
            # SQLite copies the database's mode to its -wal and -shm files.
            security.private_file(path)
            _use_wal(path)
        # WAL is kept in the file, so connections only set what lasts one connection.
        # Transactions begin IMMEDIATE (taking the write lock at BEGIN): a deferred one
        # that read first and then wrote while another connection was writing got
        # "database is locked" at once, busy_timeout or not (SQLite will not wait when
        # waiting could deadlock); two Create-and-link presses at once hit it.
        return connect_url(url, lock_type="IMMEDIATE", pragmas={
            "busy_timeout": 5000, "foreign_keys": 1, "synchronous": "normal",
        })
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if pooled:
        return connect_url(url.replace("postgresql://", "postgresql+pool://", 1),
                           max_connections=POOL_SIZE, stale_timeout=300, timeout=10)
    return connect_url(url)


def _use_wal(path: str, patience: float = 60.0) -> None:
    """Put the SQLite file in WAL mode once (the mode is stored in the file). Switching
    needs the file to itself, and SQLite answers "database is locked" at once, without
    waiting on busy_timeout, when several processes open a new database together (web,
    worker and scheduler at first start): so this tries again until it is switched."""
    import sqlite3
    deadline = time.monotonic() + patience
    while True:
        connection = sqlite3.connect(path, timeout=5)
        try:
            if connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
                return
            connection.execute("PRAGMA journal_mode=wal")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
        finally:
            connection.close()
        time.sleep(0.05)


# Connections one process may hold open to PostgreSQL at once: gunicorn's sync workers
# need one, a cycle two (its heartbeat thread), the Xero governor's threads up to 12 (a
# test runs 12 at once); well under PostgreSQL's default of 100 for a few processes.
POOL_SIZE = 20


def release_connections() -> None:
    """Close every pooled connection this process holds: before an RQ worker starts
    forking (a child must never share its parent's socket) and before a new app binds
    the database proxy to another database (tests, admin commands)."""
    if isinstance(db.obj, PooledDatabase):
        db.obj.close_all()


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_path=str(config.instance_dir()))
    app.config.from_mapping(config.from_environment())
    if test_config:
        app.config.update(test_config)
    if not app.testing:
        # One log format in every process, before Flask or RQ add handlers of their own.
        from admin.logs import configure_logging
        configure_logging(app)

    # Refuse to start rather than sign sessions and encrypt keys with a guessable key
    # (this installation's own names count as guessable words too).
    security.require_strong_key(app.config["SECRET_KEY"], security.site_words(
        app.config["BASE_URL"], app.config.get("MAIL_FROM", "")))
    security.configure(app.config["SECRET_KEY"])
    release_connections()
    db.initialize(open_database(app.config["DATABASE_URL"], pooled=True))
    if app.config["PROXY_FIX"]:
        app.wsgi_app = security.TrustedProxyFix(
            app.wsgi_app, app.config.get("PROXY_TRUSTED", ["127.0.0.0/8", "::1"]))

    csrf.init_app(app)
    htmx.init_app(app)

    @app.before_request
    def _open_db():
        from blueprints import needs_database
        if needs_database(app, request.endpoint):
            db.connect(reuse_if_open=True)

    @app.teardown_request
    def _close_db(exc):
        if not db.is_closed():
            db.close()

    @app.after_request
    def _security_headers(response):
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if app.config["SESSION_COOKIE_SECURE"]:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response

    from blueprints import query_args, register_blueprints
    query_args.install(app)         # <int:...> ids beyond what a database holds: 404
    register_blueprints(app)
    from models import payments_of      # the record page's Payments section
    app.jinja_env.globals["payments_of"] = payments_of
    install_clock(app)                  # every time shown: display zone + abbreviation
    from version import version         # the footer names the release
    app.jinja_env.globals["ferry_version"] = version()
    register_commands(app)
    return app


def install_clock(app: Flask) -> None:
    """`{{ moment | when }}` (and `when(moment, "second")`) shows a stored UTC time in the
    installation's display zone with its abbreviation, on every page and in every mail;
    `display_zone()` names the zone. Read once per request."""
    from flask import g, has_request_context

    from jobs.display_zone import display_zone
    from sync.clock import show

    def zone_now() -> str:
        if has_request_context():
            if "_display_zone" not in g:
                g._display_zone = display_zone()
            return g._display_zone
        return display_zone()

    def when(moment, form: str = "minute") -> str:
        return show(moment, zone_now(), form)

    app.jinja_env.filters["when"] = when
    app.jinja_env.globals["when"] = when
    app.jinja_env.globals["display_zone"] = zone_now


def _wait_for_schema(app: Flask):
    """Worker and scheduler start with the web process, which migrates: wait for it
    with a line in the log instead of crashing on a table that is not there yet.
    Returns Ferry's logger."""
    from admin.logs import configure_logging
    log = configure_logging(app)
    try:
        migrations.wait_for_schema(db, app.config["SCHEMA_WAIT_SECONDS"], log=log.warning)
    except migrations.SchemaNotReady as exc:
        raise click.ClickException(str(exc))
    return log


def register_commands(app: Flask) -> None:
    from admin import register_admin_commands
    register_admin_commands(app)

    @app.cli.group("db")
    def db_group():
        """Database schema commands."""

    @db_group.command("upgrade")
    def db_upgrade():
        """Apply pending migrations."""
        with db.connection_context():
            ran = migrations.upgrade(db)
        click.echo("Applied: " + ", ".join(ran) if ran else "Database is up to date.")

    @db_group.command("status")
    def db_status():
        """List applied and pending migrations."""
        with db.connection_context():
            for name in migrations.applied(db):
                click.echo(f"applied  {name}")
            for name in migrations.pending(db):
                click.echo(f"pending  {name}")

    @app.cli.command("version")
    def version_command():
        """Print Ferry's version and whether the database schema matches it."""
        from version import version
        click.echo(f"Ferry {version()}")
        with db.connection_context():
            done, waiting = migrations.applied(db), migrations.pending(db)
        if waiting:
            raise click.ClickException(
                f"The database is {len(waiting)} migration(s) behind this version "
                f"(next: {waiting[0]}): run flask --app app db upgrade.")
        click.echo(f"Database schema: up to date ({done[-1]}).")

    @app.cli.command("create-admin")
    @click.option("--email", prompt=True)
    @click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
    @click.option("--role", type=click.Choice(["administrator", "finance", "viewer"]),
                  default=None, help="For a new user (default administrator).")
    def create_admin(email, password, role):
        """Create a user who can sign in (or reset that user's password)."""
        from blueprints.auth import PasswordTooShort, save_user
        try:
            with db.connection_context():
                created = save_user(email, password, role=role)
        except PasswordTooShort as exc:
            raise click.ClickException(str(exc))
        click.echo(("Created " if created else "Updated password of ") + email)

    @app.cli.command("demo-setup")
    @click.option("--wait", is_flag=True,
                  help="Wait for the demo's sandboxes and connect Ferry to them.")
    def demo_setup(wait):
        """Prepare the demo: a known administrator, and (with --wait) connections to the
        ConnectWise and Xero sandboxes with mappings for the synthetic MSP."""
        from blueprints.auth import save_user
        from models import User
        with db.connection_context():
            if User.select().count() == 0:
                save_user(DEMO_EMAIL, DEMO_PASSWORD)
            if wait:
                from jobs.demo import connect_demo
                click.echo(connect_demo(
                    f"http://127.0.0.1:{os.environ.get('FERRY_DEMO_CW_PORT', '8201')}",
                    f"http://127.0.0.1:{os.environ.get('FERRY_DEMO_XERO_PORT', '8202')}",
                    base_url=app.config["BASE_URL"]))
                # The demo's scheduler waits for this before its first cycles.
                (config.instance_dir() / "demo-ready").touch()
        port = os.environ.get("FERRY_DEMO_PORT", "5000")
        click.echo(f"Ferry demo: open http://127.0.0.1:{port}/ and sign in as "
                   f"{DEMO_EMAIL} / {DEMO_PASSWORD}")

    @app.cli.command("sync")
    @click.argument("record_type", type=click.Choice(["invoice", "credit_note", "bill",
                                                      "payment"]))
    def sync_command(record_type):
        """Run one sync cycle of RECORD_TYPE in the foreground and print its counts
        (payment: Xero's payments back to the ConnectWise invoices)."""
        from jobs.cycle import describe, run_cycle
        from jobs.cycle_lock import CycleBusy
        from jobs.cycle_payments import run_payment_cycle
        with db.connection_context():
            try:
                run = (run_payment_cycle(trigger="cli") if record_type == "payment"
                       else run_cycle(record_type, trigger="cli"))
            except CycleBusy:
                raise click.ClickException(f"A {record_type} cycle is already running.")
            click.echo(describe(run))
        if run.status != "done":
            # Scripts and cron read the status: a cycle that stopped or failed is a failure.
            raise click.ClickException(
                f"The {record_type} cycle {run.status}: "
                f"{run.message or 'see the run on the Runs page.'}".strip())

    @app.cli.command("reconcile")
    @click.option("--org", "org_name", required=True, help="The Xero organisation's name.")
    @click.option("--month", required=True, help="The month, YYYY-MM.")
    def reconcile_command(org_name, month):
        """Compare ConnectWise's documents Ferry routes to ORG with what Xero holds for
        MONTH, and print the figures and every difference. Nothing is changed in Xero.
        Exit 0 when they agree, 1 when documents differ, 2 when it could not run."""
        from jobs import reconcile as job
        from sync import reconcile as rec
        with db.connection_context():
            try:
                report = job.start(job.find_org(org_name), month, trigger="cli")
            except (job.CannotRun, ValueError) as exc:
                click.echo(f"The reconciliation could not run: {exc}", err=True)
                sys.exit(2)
            report = job.run_report(report)
        if report.status != "done":
            click.echo(f"The reconciliation could not run: {report.message} "
                       f"(Xero API calls used: {report.xero_calls}.)", err=True)
            sys.exit(2)
        click.echo(rec.text(report.org_name, report.month, report.result,
                            report.xero_calls, report.cw_calls))
        sys.exit(1 if report.differences else 0)

    @app.cli.command("demo-ready")
    @click.option("--timeout", default=120, help="Seconds to wait.")
    def demo_ready(timeout):
        """Wait until `demo-setup --wait` has connected the demo's sandboxes."""
        marker = config.instance_dir() / "demo-ready"
        deadline = time.monotonic() + timeout
        while not marker.exists():
            if time.monotonic() > deadline:
                raise click.ClickException("The demo was not set up in time; see the web log.")
            time.sleep(0.5)

    @app.cli.command("demo-webhooks")
    def demo_webhooks():
        """Point the demo's Xero sandbox at Ferry's webhook URL, once the web app answers."""
        from jobs.demo import point_xero_sandbox_at_ferry
        with db.connection_context():
            click.echo(point_xero_sandbox_at_ferry(
                f"http://127.0.0.1:{os.environ.get('FERRY_DEMO_XERO_PORT', '8202')}",
                app.config["BASE_URL"]))

    @app.cli.command("worker")
    @click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
    def worker(burst):
        """Run an RQ worker (it waits out a Redis outage). It runs no scheduler of its
        own: `flask --app app scheduler` is Ferry's one scheduler."""
        from jobs import worker as rq_worker
        from jobs.queue import QUEUE_NAMES, get_redis
        log = _wait_for_schema(app)
        release_connections()      # each job runs in a fork: it opens its own
        log.info("Worker started (pid %d), taking jobs from the %s queue.", os.getpid(),
                 ", ".join(QUEUE_NAMES))
        # Waits out a Redis that is down (at start or later) instead of exiting; RQ's
        # per-job lines only at FERRY_RQ_LOG_LEVEL=INFO: each cycle logs its own.
        rq_worker.run(get_redis(), list(QUEUE_NAMES), burst=burst)

    @app.cli.command("scheduler")
    @click.option("--interval", default=30, help="Seconds between passes.")
    def scheduler(interval):
        """Run the scheduler: starts the periodic jobs, keeps the schedule whole (every
        FERRY_SCHEDULE_CHECK_SECONDS) and watches for failures."""
        from jobs.queue import get_redis
        from jobs.scheduler import FerryScheduler
        log = _wait_for_schema(app)
        log.info("Scheduler started (pid %d).", os.getpid())
        # Its first pass registers the schedule; Redis down at start is waited out.
        FerryScheduler(get_redis(), interval=interval,
                       check_every=app.config["SCHEDULE_CHECK_SECONDS"]).run()

    from jobs.alerts_cli import register_alert_commands
    register_alert_commands(app)
    from admin.cli_errors import guard_commands   # every command: 1 and a sentence on failure
    guard_commands(app.cli)

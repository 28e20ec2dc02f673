"""`flask --app app check`: is this installation ready for production, in sentences.

Each check answers ok, a note (worth knowing, not wrong) or a problem (with what to do);
any problem makes the command exit 1, so a deploy script can stop on it. Checks that
talk to a service (database, Redis, SMTP, ConnectWise) use short timeouts.
"""
import os
from dataclasses import dataclass

import config
import migrations
from models import db

MARK = {"ok": "ok     ", "note": "note   ", "problem": "PROBLEM"}


@dataclass
class Result:
    level: str        # ok | note | problem
    subject: str
    sentence: str

    def line(self) -> str:
        return f"{MARK[self.level]} {self.subject}: {self.sentence}"


def ok(subject, sentence):
    return Result("ok", subject, sentence)


def note(subject, sentence):
    return Result("note", subject, sentence)


def problem(subject, sentence):
    return Result("problem", subject, sentence)


def run_checks(app) -> list[Result]:
    results = [_safely("Secret key", check_secret_key, app),
               _safely("Base URL", check_base_url, app),
               _safely("Reverse proxy", check_proxy, app)]
    database = _safely("Database", check_database, app)
    results.append(database)
    results.append(_safely("Redis", check_redis, app))
    results.append(_safely("Mail", check_smtp, app))
    if database.level == "ok":
        with app.app_context(), db.connection_context():
            results.append(_safely("Stored secrets", check_stored_secrets))
            results.append(_safely("Xero", check_xero))
            results.append(_safely("ConnectWise", check_connectwise))
        with app.app_context():
            results.extend(_safely("Worker and scheduler", check_processes))
    return results


def _safely(subject: str, check, *args):
    """One check's answer; a check that fails itself is a problem line, never a
    traceback that hides every other line."""
    import security
    try:
        return check(*args)
    except security.SecretUnreadable:
        answer = problem(subject, "a stored secret cannot be decrypted with this "
                         "FERRY_SECRET_KEY: it is not the key it was saved with. Put the old "
                         "key back, or enter the credentials again in Settings.")
    except Exception as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        answer = problem(subject, f"could not be checked ({type(exc).__name__}"
                         f"{': ' + detail if detail else ''}).")
    return [answer] if check is check_processes else answer


def check_secret_key(app) -> Result:
    import security
    key = app.config["SECRET_KEY"]
    subject = "Secret key"
    if security.key_bits(key) < security.MIN_KEY_BITS:
        return problem(subject, "FERRY_SECRET_KEY is too weak to sign sessions and encrypt "
                       "the stored secrets. Generate one with `python3 -c \"import secrets; "
                       "print(secrets.token_urlsafe(48))\"` and put it in /etc/ferry.env "
                       "(stored ConnectWise and Xero credentials must then be entered again).")
    if not os.environ.get("FERRY_SECRET_KEY"):
        return note(subject, "generated into the instance folder (instance/secret_key). Fine "
                    "for one machine; with more hosts set the same FERRY_SECRET_KEY on each, "
                    "and keep a copy apart from the backups.")
    return ok(subject, "strong, and set in the environment.")


def check_base_url(app) -> Result:
    base = app.config["BASE_URL"]
    if base.startswith("https://"):
        return ok("Base URL", f"{base} (https: session cookies are marked Secure).")
    return problem("Base URL", f"FERRY_BASE_URL is {base}. Serve Ferry over https behind a "
                   "reverse proxy (see deploy/) and set FERRY_BASE_URL=https://your-host, "
                   "or sessions and the Xero sign-in travel unencrypted.")


def check_proxy(app) -> Result:
    from jobs.queue import get_redis
    seen = None
    try:
        seen = get_redis().get(config.PROXIED_SEEN_KEY)
    except Exception:  # Redis is checked on its own line
        pass
    if app.config["PROXY_FIX"]:
        return ok("Reverse proxy", "FERRY_PROXY_FIX=1: client addresses are taken from "
                  "X-Forwarded-For. Make sure Ferry's port is reachable only from the proxy "
                  "(the units in deploy/ bind 127.0.0.1).")
    if seen:
        return problem("Reverse proxy", "requests arrive with X-Forwarded-For but "
                       "FERRY_PROXY_FIX is not 1: every visitor looks like the proxy, so sign-in "
                       "throttling counts them all together. Set FERRY_PROXY_FIX=1.")
    return ok("Reverse proxy", "no proxied requests seen; FERRY_PROXY_FIX is off.")


def check_database(app) -> Result:
    url = app.config["DATABASE_URL"]
    kind = "SQLite" if url.startswith("sqlite") else "PostgreSQL"
    try:
        with app.app_context(), db.connection_context():
            db.execute_sql("SELECT 1")
            waiting = migrations.pending(db)
    except Exception as exc:
        return problem("Database", f"{kind} cannot be reached ({type(exc).__name__}: "
                       f"{str(exc).strip().splitlines()[0] if str(exc).strip() else ''}). "
                       "Check DATABASE_URL and that the database server runs.")
    if waiting:
        return problem("Database", f"{kind} is reachable but {len(waiting)} migration(s) are "
                       "pending. Run `flask --app app db upgrade` (the web process does it on "
                       "start).")
    return ok("Database", f"{kind}, reachable, schema up to date.")


def check_redis(app) -> Result:
    from jobs.queue import get_redis
    try:
        get_redis().ping()
    except Exception as exc:
        return problem("Redis", f"cannot be reached ({type(exc).__name__}). Check REDIS_URL "
                       "and that redis-server runs.")
    if not app.config.get("REDIS_URL"):
        return note("Redis", "Ferry's private redis-server (REDIS_URL unset). Fine on one "
                    "machine; set REDIS_URL to scale out to more hosts.")
    return ok("Redis", "reachable.")


def check_smtp(app) -> Result:
    from connectors import smtp
    from jobs.outbox import smtp_settings
    try:
        settings = smtp_settings(app.config)
    except ValueError:
        return problem("Mail", f"FERRY_SMTP_PORT “{app.config.get('SMTP_PORT')}” is not a "
                       "port number: use 587 (STARTTLS) or 465 (with FERRY_SMTP_TLS=1).")
    if settings is None:
        return note("Mail", "no SMTP server set (FERRY_SMTP_HOST): exception e-mails and the "
                    "daily digest stay in the Outbox until one is.")
    try:
        smtp.verify(settings)
    except smtp.SmtpError as exc:
        return problem("Mail", exc.sentence)
    where = f"{settings.host}:{settings.port}"
    return ok("Mail", f"{where} answers" +
              (" and accepted the login." if settings.username else "."))


def check_stored_secrets() -> Result:
    """Every stored secret must decrypt with this key: a changed key shows here first."""
    import security
    from models import Connection, Setting, XeroGrant
    unreadable = 0
    for row in Connection.select(Connection.id).where(Connection.secrets.is_null(False)):
        unreadable += _unreadable(lambda: Connection.get_by_id(row.id).secrets, security)
    for row in XeroGrant.select(XeroGrant.id).where(XeroGrant.token.is_null(False)):
        unreadable += _unreadable(lambda: XeroGrant.get_by_id(row.id).token, security)
    for row in Setting.select(Setting.id).where(Setting.secret.is_null(False)):
        unreadable += _unreadable(lambda: Setting.get_by_id(row.id).secret, security)
    if unreadable:
        return problem("Stored secrets", f"{unreadable} stored secret(s) cannot be decrypted "
                       "with this FERRY_SECRET_KEY: it is not the key they were saved with. "
                       "Put the old key back, or enter the credentials again in Settings.")
    return ok("Stored secrets", "readable with this key.")


def _unreadable(read, security) -> int:
    try:
        read()
    except security.SecretUnreadable:
        return 1
    return 0


def check_xero() -> Result:
    from flask import current_app

    from connectors.xero_oauth import load_app
    from models import Connection
    xero_app = load_app(current_app.config["BASE_URL"])
    if not xero_app.configured:
        return problem("Xero", "no Xero app is configured. Create one (README: Adding a Xero "
                       "app) and enter its client id and secret under Settings → Xero.")
    orgs = list(Connection.select().where(Connection.kind == "xero"))
    if not orgs:
        return problem("Xero", "the Xero app is set but no organisation is connected. Press "
                       "Connect Xero under Settings.")
    stale = [o.name for o in orgs if o.status != "active"]
    if stale:
        return problem("Xero", f"{', '.join(stale)} need(s) reconnecting: press Connect Xero "
                       "under Settings and sign in again.")
    return ok("Xero", f"{len(orgs)} organisation(s) connected: "
              f"{', '.join(o.name for o in orgs)}.")


def check_connectwise() -> Result:
    from models import Connection
    connection = Connection.get_or_none(Connection.kind == "connectwise")
    if connection is None:
        return problem("ConnectWise", "not set up. Enter the site, company id and API keys "
                       "under Settings → ConnectWise and press Test connection.")
    if connection.status != "active" or connection.last_error:
        return problem("ConnectWise", f"the last call or test failed: {connection.last_error} "
                       "Fix it under Settings → ConnectWise and press Test connection.")
    failing = _failing_cycles()
    if failing:
        return problem("ConnectWise", "the connection test passed, but " + "; ".join(failing)
                       + ". See Runs on the dashboard.")
    return ok("ConnectWise", f"{connection.settings.get('site')} "
              f"(company {connection.settings.get('company_id')}), last test passed.")


def _failing_cycles(last: int = 3) -> list[str]:
    """Record types whose last `last` cycles all stopped or failed: a passing test does
    not mean the cycles work."""
    from sync.labels import ONE
    from models import SyncRun
    out = []
    for record_type in sorted({r.record_type for r in SyncRun.select(SyncRun.record_type)
                               .distinct()}):
        runs = list(SyncRun.select(SyncRun.status, SyncRun.message).where(
            (SyncRun.record_type == record_type) & (SyncRun.status != "running"))
            .order_by(SyncRun.id.desc()).limit(last))
        if len(runs) == last and all(r.status in ("failed", "stopped") for r in runs):
            label = ONE.get(record_type, record_type)
            out.append(f"the last {last} {label.lower()} cycles did not finish (the latest: "
                       f"{(runs[0].message or 'no message').strip()})")
    return out


def check_processes() -> list[Result]:
    """The worker, the scheduler and the schedule, as /readyz sees them."""
    from jobs import readiness
    from jobs.queue import get_redis
    connection = get_redis()
    try:
        connection.ping()
    except Exception:             # Redis is checked on its own line
        return []
    results = []
    for subject, check in (("Worker", readiness.worker_check),
                           ("Scheduler", readiness.scheduler_check),
                           ("Schedule", readiness.schedule_check)):
        answer = check(connection)
        if answer.ok:
            results.append(ok(subject, answer.sentence))
        else:
            results.extend(problem(subject, sentence)
                           for sentence in (answer.problems or [answer.sentence]))
    return results

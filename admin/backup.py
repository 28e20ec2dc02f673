"""`flask backup PATH` and `flask restore PATH`: a consistent copy of Ferry's database.

A backup is a folder: the database (SQLite's online backup, so a running Ferry keeps
writing; PostgreSQL through `pg_dump` in its custom format), a manifest (when, which
database, which migrations, a fingerprint of the secret key) and a note in words. The
secret key itself is never in it: with the database alone, the stored ConnectWise keys
and Xero tokens stay unreadable, which is the point of encrypting them. Keep the key
(FERRY_SECRET_KEY, or instance/secret_key) apart from the backups.
"""
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from peewee import SqliteDatabase

import migrations
from models import db

MANIFEST = "manifest.json"
SQLITE_FILE = "ferry.sqlite3"
PG_FILE = "ferry.pgdump"


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why and what to do."""


# PBKDF2 rounds for the key's fingerprint: a backup's manifest could otherwise test a
# guessed key with one hash; this way each guess costs about half a second.
FINGERPRINT_ROUNDS = 600_000


def key_fingerprint(secret_key: str) -> str:
    """Tells two keys apart without helping anyone guess one: a slow, salted hash
    ("pbkdf2-sha256$rounds$salt$hash"), checked by key_matches."""
    import secrets
    salt = secrets.token_hex(16)
    digest = hashlib.pbkdf2_hmac("sha256", secret_key.encode(), salt.encode(),
                                 FINGERPRINT_ROUNDS)
    return f"pbkdf2-sha256${FINGERPRINT_ROUNDS}${salt}${digest.hex()[:32]}"


def key_matches(fingerprint: str | None, secret_key: str) -> bool:
    """Whether `fingerprint` (from a manifest) was made from `secret_key`. Backups made
    before the fingerprint was slowed down carry a plain SHA-256 one: still read."""
    import hmac
    parts = (fingerprint or "").split("$")
    if len(parts) == 4 and parts[0] == "pbkdf2-sha256" and parts[1].isdecimal() \
            and 0 < int(parts[1]) <= 10 * FINGERPRINT_ROUNDS and len(parts[3]) == 32:
        digest = hashlib.pbkdf2_hmac("sha256", secret_key.encode(), parts[2].encode(),
                                     int(parts[1]))
        return hmac.compare_digest(parts[3].encode(), digest.hex()[:32].encode())
    legacy = hashlib.sha256(b"ferry-backup-key-fingerprint\0" + secret_key.encode())
    return hmac.compare_digest((fingerprint or "").encode(), legacy.hexdigest()[:16].encode())


def _kind(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgresql"


def _sqlite_path(url: str) -> Path:
    return Path(url.split("sqlite:///", 1)[1])


def _pg_url(url: str) -> str:
    return "postgresql://" + url[len("postgres://"):] if url.startswith("postgres://") else url


def _key_note() -> str:
    if os.environ.get("FERRY_SECRET_KEY"):
        where = "FERRY_SECRET_KEY in Ferry's environment (for example /etc/ferry.env)"
    else:
        import config
        where = f"the file {config.instance_dir() / 'secret_key'}"
    return (f"The secret key is not in this backup. Ferry reads it from {where}. Keep a copy "
            "of it somewhere else than these backups: without that same key the stored "
            "ConnectWise keys, Xero tokens and SMTP password cannot be read after a restore "
            "and must be entered again.")


def _filled_tables() -> list[str]:
    """The tables holding rows (Ferry's migration ledger aside); needs a connection."""
    return sorted(t for t in db.get_tables() if t != "ferry_migration" and not _shadow(t)
                  and db.execute_sql(f'SELECT 1 FROM "{t}" LIMIT 1').fetchone())


def _no_data(app, url: str, applied: list[str]) -> BackupError:
    """The refusal for a database with nothing in it, saying where Ferry looked; what a
    bare shell made on the way (the instance folder, a key, an empty SQLite file) goes."""
    import config
    from admin.cli_errors import where_database
    what = "no migrations applied" if not applied else "every table empty"
    hint = ("Check DATABASE_URL" if os.environ.get("DATABASE_URL") else
            "DATABASE_URL is not set in this shell, so Ferry looked at its default. Run the "
            "backup with the services' settings, for example runuser -u ferry -- sh -c "
            "'set -a; . /etc/ferry.env; .venv/bin/flask --app app backup FOLDER'")
    if url.startswith("sqlite"):
        made = _sqlite_path(url)
        config.remove_made_here([made, Path(f"{made}-wal"), Path(f"{made}-shm"),
                                 made.parent / "secret_key", made.parent])
    return BackupError(f"Found no Ferry data to back up in {where_database(url)} ({what}). "
                       f"{hint}.")


def write_backup(app, path: str) -> str:
    url = app.config["DATABASE_URL"]
    target = Path(path)
    with db.connection_context():
        applied = migrations.applied(db)
        filled = _filled_tables() if applied else []
    if not filled:
        raise _no_data(app, url, applied)
    if target.exists() and any(target.iterdir()):
        raise BackupError(f"{target} is not empty: name a new folder for each backup.")
    target.mkdir(parents=True, exist_ok=True)
    os.chmod(target, 0o700)
    if _kind(url) == "sqlite":
        data_file = target / SQLITE_FILE
        source = sqlite3.connect(_sqlite_path(url))
        copy = sqlite3.connect(data_file)
        try:
            source.backup(copy)  # consistent even while web and worker write
        finally:
            copy.close()
            source.close()
    else:
        data_file = target / PG_FILE
        _run_pg("pg_dump", ["--format=custom", "--no-owner", "--no-privileges",
                            f"--file={data_file}", "--dbname={url}"], url)
    os.chmod(data_file, 0o600)
    note = _key_note()
    manifest = {
        "made_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "database": _kind(url),
        "file": data_file.name,
        "sha256": _sha256(data_file),
        "migrations": applied,
        "secret_key_fingerprint": key_fingerprint(app.config["SECRET_KEY"]),
        "secret_key": note,
    }
    (target / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    (target / "README.txt").write_text(
        "A backup of Ferry's database. Check it with\n"
        f"  flask --app app backup --verify {target}\n"
        "and restore it with\n"
        f"  flask --app app restore {target}\n"
        "into an installation with an empty database, its services stopped.\n\n"
        + note + "\n\n" + XERO_NOTE + "\n")
    size = data_file.stat().st_size
    return (f"Backup written to {target} ({data_file.name}, {size:,} bytes, "
            f"{len(applied)} migrations).\n{note}")


# What a restore cannot bring back: Xero's sign-in moves on without the backup.
XERO_NOTE = ("Xero replaces Ferry's sign-in (its refresh token) every time Ferry "
             "refreshes it, about every 30 minutes while cycles run, and accepts the "
             "previous one for 30 minutes only. A backup older than that holds a sign-in "
             "Xero no longer takes: after restoring it, connect Xero again under Settings "
             "→ Xero (the mappings and everything else stay).")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_manifest(source: Path) -> tuple[dict, Path]:
    try:
        manifest = json.loads((source / MANIFEST).read_text())
        data_file = source / manifest["file"]
    except (OSError, ValueError, KeyError, TypeError):
        raise BackupError(f"{source} is not a Ferry backup (no readable {MANIFEST}).")
    if not data_file.exists():
        raise BackupError(f"The backup's database file {data_file} is missing.")
    return manifest, data_file


def verify_backup(app, path: str) -> str:
    """Check a backup folder without restoring it: its file is whole (the checksum the
    manifest took), the database inside is readable at the migrations it names, and it
    was made with this installation's secret key. Returns what was checked."""
    source = Path(path)
    manifest, data_file = _read_manifest(source)
    checked = []
    if manifest.get("sha256"):
        if _sha256(data_file) != manifest["sha256"]:
            raise BackupError(f"{data_file} has changed since the backup was made (its "
                              "checksum differs): it is damaged; use another backup.")
        checked.append("checksum matches")
    if manifest.get("database") == "sqlite":
        connection = sqlite3.connect(f"file:{data_file}?mode=ro", uri=True)
        try:
            result = connection.execute("PRAGMA integrity_check").fetchone()[0]
            names = [n for (n,) in connection.execute(
                "SELECT name FROM ferry_migration ORDER BY name")]
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"{data_file} is not a readable SQLite database ({exc}).")
        finally:
            connection.close()
        if result != "ok":
            raise BackupError(f"{data_file} fails SQLite's integrity check ({result}).")
        checked.append("SQLite integrity check ok")
    else:
        listing = _run_pg("pg_restore", ["--list", str(data_file)], None)
        names = list(manifest.get("migrations") or [])
        if "TABLE DATA public ferry_migration" not in listing:
            raise BackupError(f"{data_file} holds no Ferry tables (pg_restore --list).")
        checked.append("pg_restore reads it")
    if names != list(manifest.get("migrations") or []):
        raise BackupError(f"{data_file} holds other migrations than its manifest says: it "
                          "is not the database this backup was made from.")
    if not key_matches(manifest.get("secret_key_fingerprint"), app.config["SECRET_KEY"]):
        raise BackupError(
            "The backup is readable but was made with another secret key than this "
            "installation's: restoring it here needs that key in FERRY_SECRET_KEY.")
    checked.append("made with this secret key")
    return (f"Backup {source} is sound: made {manifest.get('made_at')}, "
            f"{manifest.get('database')}, {len(names)} migrations; " + ", ".join(checked)
            + ".")


def backup_into(app, parent: str, keep: int) -> str:
    """A new dated backup under `parent`, verified, then all but the newest `keep` Ferry
    backups there removed (only folders with a Ferry manifest are ever touched)."""
    if keep < 1:
        raise BackupError("--keep needs at least 1: the backup just made stays.")
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H%M%SZ")
    folder, n = Path(parent) / stamp, 1
    while folder.exists():          # a second backup within the same second
        n += 1
        folder = Path(parent) / f"{stamp}-{n}"
    lines = [write_backup(app, str(folder)), verify_backup(app, str(folder))]
    made = []
    for child in Path(parent).iterdir():
        try:
            when = json.loads((child / MANIFEST).read_text())["made_at"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        made.append((when, child.name, child))
    made.sort(reverse=True)
    for _, _, old in made[keep:]:
        if old != folder:
            shutil.rmtree(old)
            lines.append(f"Removed the older backup {old}.")
    return "\n".join(lines)


def _services_running() -> list[str]:
    """Ferry's workers and scheduler seen alive in Redis, as /readyz sees them (nothing
    when Redis does not answer: nothing can be said then)."""
    from jobs.queue import get_redis
    from jobs.readiness import scheduler_check, worker_check
    try:
        connection = get_redis()
        connection.ping()
    except Exception:
        return []
    alive = []
    workers = worker_check(connection).count
    if workers:
        alive.append(f"{workers} worker{'s' if workers != 1 else ''}")
    if scheduler_check(connection).count:
        alive.append("the scheduler")
    return alive


STOP_FIRST = ("Stop Ferry's services first (systemctl stop ferry-web ferry-worker "
              "ferry-scheduler, or docker compose stop web worker scheduler)")
EMPTY_FIRST = ("Restore into an empty database with the services stopped: on PostgreSQL "
               "drop and create it again (runuser -u postgres -- dropdb ferry; runuser -u "
               "postgres -- createdb -O ferry ferry), on SQLite move the database file "
               "away; then restore, then start the services")


def restore_backup(app, path: str) -> str:
    source = Path(path)
    manifest, data_file = _read_manifest(source)
    url = app.config["DATABASE_URL"]
    if manifest.get("database") != _kind(url):
        raise BackupError(
            f"This backup holds a {manifest.get('database')} database and this installation "
            f"uses {_kind(url)}: set DATABASE_URL to a {manifest.get('database')} database.")
    if not key_matches(manifest.get("secret_key_fingerprint"), app.config["SECRET_KEY"]):
        raise BackupError(
            "This backup was made with another secret key, so its stored ConnectWise keys "
            "and Xero tokens could not be read. Set FERRY_SECRET_KEY to the key of the "
            "installation that made it, then restore again.")
    running = _services_running()
    if running:
        raise BackupError(f"Ferry is running ({', '.join(running)}), and would write into "
                          f"the database while it is replaced. {STOP_FIRST}, then restore.")
    with db.connection_context():
        tables = db.get_tables()
        filled = _filled_tables()
        if filled:
            raise BackupError(
                "This installation's database already holds data (for example in "
                f"{', '.join(filled[:3])}). {EMPTY_FIRST}.")
        if tables and manifest["database"] == "postgresql":
            # Only the empty schema a first start made (the web unit migrates): it goes,
            # so the backup's own tables come in whole. SQLite's copy replaces the file.
            with db.atomic():
                for table in tables:
                    db.execute_sql(f'DROP TABLE IF EXISTS "{table}" CASCADE')
    if manifest["database"] == "sqlite":
        backup = sqlite3.connect(data_file)
        live = sqlite3.connect(_sqlite_path(url))
        try:
            backup.backup(live)
        finally:
            live.close()
            backup.close()
    else:
        _run_pg("pg_restore", ["--no-owner", "--no-privileges", "--exit-on-error",
                               "--dbname={url}", str(data_file)], url)
    from connectors.xero_oauth import RESTORED_FROM_BACKUP
    from models import Setting, XeroGrant
    with db.connection_context():
        upgraded = migrations.upgrade(db)  # a backup from an older Ferry comes up to date
        # Xero's refusal of a sign-in older than the backup then says so (xero_oauth).
        Setting.set_value(RESTORED_FROM_BACKUP, manifest.get("made_at"))
        xero = XeroGrant.select().where(XeroGrant.status == "active").exists()
    extra = f"; then applied {len(upgraded)} newer migration(s)" if upgraded else ""
    return (f"Restored {data_file.name} made {manifest.get('made_at')}{extra}."
            + (f"\n{XERO_NOTE}" if xero else ""))


def _shadow(table: str) -> bool:
    """SQLite's own tables behind a full-text index (audit_text_data, ...): they hold
    rows even when the index is empty; the index itself is what counts."""
    if not isinstance(db.obj, SqliteDatabase):
        return False
    virtual = [name for (name,) in db.execute_sql(
        "SELECT name FROM sqlite_master WHERE sql LIKE 'CREATE VIRTUAL TABLE%'")]
    return any(table.startswith(f"{name}_") for name in virtual)


def _run_pg(tool: str, args: list[str], url: str | None) -> str:
    """Run a PostgreSQL client tool and return what it printed; the password goes by
    PGPASSWORD, never on the command line where `ps` would show it."""
    env = {}
    if url is not None:
        parts = urlsplit(_pg_url(url))
        if parts.password:
            env["PGPASSWORD"] = unquote(parts.password)
            netloc = parts.netloc.rsplit("@", 1)
            parts = parts._replace(netloc=(parts.username or "") + "@" + netloc[-1])
        args = [a.replace("{url}", urlunsplit(parts)) for a in args]
    binary = shutil.which(tool)
    if binary is None:
        raise BackupError(f"{tool} is not installed; it comes with PostgreSQL's client "
                          "tools (apt-get install postgresql-client).")
    done = subprocess.run([binary, *args], capture_output=True, text=True, timeout=3600,
                          env={**os.environ, **env})
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        raise BackupError(f"{tool} failed: {lines[-1] if lines else 'no message'}")
    return done.stdout

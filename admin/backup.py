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


def write_backup(app, path: str) -> str:
    url = app.config["DATABASE_URL"]
    target = Path(path)
    if target.exists() and any(target.iterdir()):
        raise BackupError(f"{target} is not empty: name a new folder for each backup.")
    target.mkdir(parents=True, exist_ok=True)
    os.chmod(target, 0o700)
    with db.connection_context():
        applied = migrations.applied(db)
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
        "migrations": applied,
        "secret_key_fingerprint": key_fingerprint(app.config["SECRET_KEY"]),
        "secret_key": note,
    }
    (target / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    (target / "README.txt").write_text(
        "A backup of Ferry's database. Restore it with\n"
        f"  flask --app app restore {target}\n"
        "into an installation with an empty database.\n\n" + note + "\n")
    size = data_file.stat().st_size
    return (f"Backup written to {target} ({data_file.name}, {size:,} bytes, "
            f"{len(applied)} migrations).\n{note}")


def restore_backup(app, path: str) -> str:
    source = Path(path)
    try:
        manifest = json.loads((source / MANIFEST).read_text())
        data_file = source / manifest["file"]
    except (OSError, ValueError, KeyError):
        raise BackupError(f"{source} is not a Ferry backup (no readable {MANIFEST}).")
    if not data_file.exists():
        raise BackupError(f"The backup's database file {data_file} is missing.")
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
    with db.connection_context():
        tables = db.get_tables()
        filled = [t for t in tables if t != "ferry_migration" and not _shadow(t) and
                  db.execute_sql(f'SELECT 1 FROM "{t}" LIMIT 1').fetchone()]
        if filled:
            raise BackupError(
                "This installation's database already holds data (for example in "
                f"{', '.join(sorted(filled)[:3])}). Restore into a new installation's "
                "database: a new DATABASE_URL, or a new FERRY_INSTANCE_DIR for SQLite.")
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
    with db.connection_context():
        upgraded = migrations.upgrade(db)  # a backup from an older Ferry comes up to date
    extra = f"; then applied {len(upgraded)} newer migration(s)" if upgraded else ""
    return f"Restored {data_file.name} made {manifest.get('made_at')}{extra}."


def _shadow(table: str) -> bool:
    """SQLite's own tables behind a full-text index (audit_text_data, ...): they hold
    rows even when the index is empty; the index itself is what counts."""
    if not isinstance(db.obj, SqliteDatabase):
        return False
    virtual = [name for (name,) in db.execute_sql(
        "SELECT name FROM sqlite_master WHERE sql LIKE 'CREATE VIRTUAL TABLE%'")]
    return any(table.startswith(f"{name}_") for name in virtual)


def _run_pg(tool: str, args: list[str], url: str) -> None:
    """Run a PostgreSQL client tool; the password goes by PGPASSWORD, never on the
    command line where `ps` would show it."""
    parts = urlsplit(_pg_url(url))
    env = {}
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

"""Ferry's configuration: the environment over defaults kept in `instance/`.

Everything a deployment sets lives in environment variables (FERRY_*, DATABASE_URL,
REDIS_URL); anything unset falls back to an embedded default that needs no service:
SQLite in instance/, a private Redis on a unix socket in instance/, a secret key
generated on first run. The SMTP settings are the relay jobs/outbox.py sends through
(unset: every e-mail waits in the Outbox).
"""
import os
import secrets
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
# Set in Redis by the web process when a request came through a proxy, read by `flask
# check` in another process.
PROXIED_SEEN_KEY = "ferry:proxy:forwarded_seen"


# What this process made by falling back on the embedded defaults (the instance folder,
# a generated key, a new SQLite file), oldest first: a command run without the
# services' environment (`flask backup` in a bare shell) takes these away again.
MADE_HERE: list[Path] = []


def instance_dir() -> Path:
    path = Path(os.environ.get("FERRY_INSTANCE_DIR") or ROOT / "instance")
    if not path.exists():
        MADE_HERE.append(path)
    # Only Ferry's user may look inside: it holds the key, the database and Redis's dump.
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def remove_made_here(paths) -> list[Path]:
    """Remove those of `paths` that this process made (newest first; a folder only when
    empty); returns what went."""
    wanted = {Path(p) for p in paths}
    gone = []
    for path in reversed(list(MADE_HERE)):
        if path not in wanted:
            continue
        try:
            if path.is_dir():
                path.rmdir()
            else:
                path.unlink()
        except OSError:
            continue
        MADE_HERE.remove(path)
        gone.append(path)
    return gone


def secret_key() -> str:
    """FERRY_SECRET_KEY, else a key generated once into instance/secret_key."""
    key = os.environ.get("FERRY_SECRET_KEY")
    if key:
        return key
    path = instance_dir() / "secret_key"
    if not path.exists():
        # O_EXCL: when web and worker start together only one writes the key.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            MADE_HERE.append(path)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(48))
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)           # a key file copied in with looser rights
    for _ in range(100):            # the process that created it may still be writing
        key = path.read_text().strip()
        if key:
            break
        time.sleep(0.02)
    return key


def database_url() -> str:
    return os.environ.get("DATABASE_URL") or f"sqlite:///{instance_dir() / 'ferry.db'}"


def from_environment() -> dict:
    """Flask config keys built from the environment."""
    base_url = os.environ.get("FERRY_BASE_URL", "http://127.0.0.1:5000").rstrip("/")
    return {
        "SECRET_KEY": secret_key(),
        "DATABASE_URL": database_url(),
        "REDIS_URL": os.environ.get("REDIS_URL") or None,
        "BASE_URL": base_url,
        # Real time: events accepted a minute per caller address and source.
        "REALTIME_RATE": int(os.environ.get("FERRY_REALTIME_RATE", "600")),
        "SESSION_COOKIE_SECURE": base_url.startswith("https://"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # How long a sign-in lasts from the moment of signing in (blueprints/auth.py
        # checks the time it keeps in the session). The cookie is not renewed on every
        # request: the dashboard polls every 2 seconds, which would keep it alive forever.
        "PERMANENT_SESSION_LIFETIME": int(os.environ.get("FERRY_SESSION_HOURS", "12")) * 3600,
        "SESSION_REFRESH_EACH_REQUEST": False,
        # A form's CSRF token is good for as long as the sign-in it belongs to (signing in
        # again makes a new one): Flask-WTF's default of one hour refused the save of a
        # page left open over lunch, and the sign-in's own end already bounds the token.
        "WTF_CSRF_TIME_LIMIT": None,
        "PROXY_FIX": os.environ.get("FERRY_PROXY_FIX", "0") == "1",
        # /metrics: scrapes send it as a bearer token; unset, only this machine may ask.
        "METRICS_TOKEN": os.environ.get("FERRY_METRICS_TOKEN") or None,
        # `make demo` sets it: the demo's own page and shortened schedules.
        "DEMO": os.environ.get("FERRY_DEMO", "0") == "1",
        # The demo's sync cycles run this often (seconds) instead of the set hours.
        "DEMO_CYCLE_SECONDS": int(os.environ.get("FERRY_DEMO_CYCLE_SECONDS", "180")),
        # How often the scheduler checks that its schedule holds every job, due when it
        # should be, and puts back what is missing (jobs/schedule.py).
        "SCHEDULE_CHECK_SECONDS": int(os.environ.get("FERRY_SCHEDULE_CHECK_SECONDS", "60")),
        # How long a worker or the scheduler waits at start for the web process's
        # migrations before it gives up with a sentence (never a crash loop).
        "SCHEMA_WAIT_SECONDS": int(os.environ.get("FERRY_SCHEMA_WAIT_SECONDS", "600")),
        "SMTP_HOST": os.environ.get("FERRY_SMTP_HOST") or None,
        # FERRY_SMTP_TLS=1: TLS from the first byte (port 465); else STARTTLS on 587.
        "SMTP_TLS": os.environ.get("FERRY_SMTP_TLS", "0") == "1",
        "SMTP_PORT": int(os.environ.get("FERRY_SMTP_PORT") or (
            "465" if os.environ.get("FERRY_SMTP_TLS", "0") == "1" else "587")),
        "SMTP_TIMEOUT": float(os.environ.get("FERRY_SMTP_TIMEOUT", "30")),
        "SMTP_USERNAME": os.environ.get("FERRY_SMTP_USERNAME") or None,
        "SMTP_PASSWORD": os.environ.get("FERRY_SMTP_PASSWORD") or None,
        "SMTP_STARTTLS": os.environ.get("FERRY_SMTP_STARTTLS", "1") == "1",
        "MAIL_FROM": os.environ.get("FERRY_MAIL_FROM", "ferry@localhost"),
        # Proxies whose X-Forwarded-For Ferry believes (with FERRY_PROXY_FIX=1); anyone
        # else reaching the port directly is taken at their own address.
        "PROXY_TRUSTED": [p.strip() for p in os.environ.get(
            "FERRY_PROXY_TRUSTED", "127.0.0.0/8,::1").split(",") if p.strip()],
        # Sign-in throttling per (e-mail, address): this many failures are free, then each
        # further one doubles the wait (2 s, 4 s, 8 s … up to the window). One address
        # failing LOGIN_ADDRESS_LIMIT times in the window waits the window out, whatever
        # e-mails it tries. Nobody elsewhere is locked out.
        "LOGIN_MAX_FAILURES": int(os.environ.get("FERRY_LOGIN_MAX_FAILURES", "5")),
        "LOGIN_WINDOW_MINUTES": int(os.environ.get("FERRY_LOGIN_WINDOW_MINUTES", "15")),
        "LOGIN_ADDRESS_LIMIT": int(os.environ.get("FERRY_LOGIN_ADDRESS_LIMIT", "50")),
    }

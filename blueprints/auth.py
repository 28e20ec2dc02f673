"""Signing in and out, the first-run screen, the account page, and the rule that every
page needs a login.

Sessions are signed cookies that carry the user's session version
(models.SessionVersion): signing out, changing the password and "sign out everywhere
else" bump it, so every earlier copy of the cookie stops working at once.
"""
import hmac
import math
import secrets
import time
from datetime import timedelta
from urllib.parse import urlsplit

from flask import (
    Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for,
)
from peewee import IntegrityError, fn
from werkzeug.security import check_password_hash, generate_password_hash

import config
from blueprints import needs_database, public, roles
from blueprints.roles import role
from blueprints.text_input import storable, storable_form
from models import LoginFailure, SessionVersion, Setting, User, utcnow

bp = Blueprint("auth", __name__)

MIN_PASSWORD_LENGTH = 10
SETUP_CODE_SETTING = "auth.setup_code"
# Failures of the setup code are throttled like sign-ins under this pseudo e-mail.
SETUP_THROTTLE_KEY = "(setup code)"

# Checked against when the e-mail has no account, so a wrong e-mail costs the same time
# as a wrong password (the timing would otherwise tell which e-mails exist).
_DUMMY_HASH = generate_password_hash(secrets.token_urlsafe(16))


class PasswordTooShort(ValueError):
    """A password shorter than MIN_PASSWORD_LENGTH."""


# -- users and their session versions --------------------------------------------------------
def save_user(email: str, password: str, role: str | None = None) -> bool:
    """Create the user (an administrator unless `role` says otherwise), or set a new
    password for an existing one (which ends every session that user has; their role
    stays). True if created."""
    email = email.strip().lower()
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordTooShort(
            f"Choose a password of at least {MIN_PASSWORD_LENGTH} characters.")
    password_hash = generate_password_hash(password)
    user = User.get_or_none(User.email == email)
    if user is None:
        User.create(email=email, password_hash=password_hash,
                    role=role or "administrator")
        return True
    user.password_hash = password_hash
    user.save()
    end_sessions(user.id)
    return False


def session_version(user_id: int) -> int:
    row = SessionVersion.get_or_none(SessionVersion.user == user_id)
    return row.version if row else 0


def end_sessions(user_id: int) -> int:
    """End every session of this user (all browsers); returns the new version."""
    SessionVersion.insert(user=user_id, version=1).on_conflict(
        conflict_target=[SessionVersion.user],
        update={SessionVersion.version: SessionVersion.version + 1}).execute()
    return session_version(user_id)


def start_session(user: User, signed_in_at: float | None = None) -> None:
    session.clear()
    session["user_id"] = user.id
    session["session_version"] = session_version(user.id)
    # The sign-in ends FERRY_SESSION_HOURS after this, however busy the browser is.
    session["signed_in_at"] = int(signed_in_at or time.time())
    session.permanent = True


def _session_user() -> User | None:
    user_id = session.get("user_id")
    if not user_id:
        return None
    lifetime = current_app.permanent_session_lifetime.total_seconds()
    # A cookie without the time (made before sign-ins had one) counts as expired.
    if time.time() - session.get("signed_in_at", 0) > lifetime:
        session.clear()
        hours = round(lifetime / 3600)
        flash(f"You were signed in for {hours} hour{'' if hours == 1 else 's'}, as long "
              "as a sign-in lasts here. Sign in again to go on.")
        return None
    user = User.get_or_none(User.id == user_id)
    if user is None or session.get("session_version") != session_version(user.id):
        session.clear()             # signed out elsewhere, or the password changed
        return None
    return user


_proxy_warned = False


def proxy_misconfigured() -> bool:
    """Requests arrive through a proxy (X-Forwarded-For) that Ferry does not read: every
    sign-in then seems to come from the proxy's address, and the throttling of one
    address would slow everybody down."""
    return (not current_app.config.get("PROXY_FIX")
            and bool(request.headers.get("X-Forwarded-For")))


def require_login_everywhere(app) -> None:
    @app.before_request
    def _load_user_and_require_login():
        global _proxy_warned
        if not needs_database(app, request.endpoint):
            g.user = None           # health checks: public, and the database may be down
            return None
        if not _proxy_warned and proxy_misconfigured():
            _proxy_warned = True
            app.logger.warning(
                "Requests carry X-Forwarded-For but FERRY_PROXY_FIX is not 1: Ferry sees "
                "every visitor at the proxy's address, so failed sign-ins from anyone slow "
                "down everyone. Set FERRY_PROXY_FIX=1 behind your reverse proxy.")
            _remember_proxied_request()
        g.user = _session_user()
        if request.endpoint is None:
            return None
        if g.user is not None:
            return roles.check(app, g.user)     # the one place a role is checked
        view = app.view_functions.get(request.endpoint)
        if request.endpoint == "static" or getattr(view, "ferry_public", False):
            return None
        if request.headers.get("HX-Request"):
            # An HTMX swap cannot follow a redirect into the login page: ask for a full
            # load, and come back to the page the person was on, not to the fragment
            # the swap asked for (a poll of /dashboard/live is no page to land on).
            page = urlsplit(request.headers.get("HX-Current-URL", ""))
            back = (page.path + (f"?{page.query}" if page.query else "")
                    if page.netloc == request.host and page.path.startswith("/") else None)
            response = current_app.response_class(status=401)
            response.headers["HX-Redirect"] = url_for("auth.login", next=back)
            return response
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def _remember_proxied_request() -> None:
    """For `flask check`, which runs in another process: proxied requests were seen."""
    from jobs.queue import get_redis
    try:
        get_redis().set(config.PROXIED_SEEN_KEY, "1", ex=7 * 24 * 3600)
    except Exception:  # Redis down: the log line above still says it
        current_app.logger.info("could not note the proxied request in Redis")


# -- throttling --------------------------------------------------------------------------------
def _wait_seconds(email: str, ip: str, besides: int | None = None) -> int:
    """Seconds this (e-mail, address) must wait before its next try; 0 when it may try.
    `besides`: the attempt asking, which does not count against itself.

    Per pair: LOGIN_MAX_FAILURES failures are free, then the wait doubles with each one
    (2 s, 4 s, … up to the window). Per address: LOGIN_ADDRESS_LIMIT failures in the
    window, whatever the e-mails, and that address waits for the oldest to age out. A
    stranger's failures never slow down the owner signing in from their own address.
    Attempts still being checked count as failures."""
    config = current_app.config
    window = timedelta(minutes=config["LOGIN_WINDOW_MINUTES"])
    now = utcnow()
    since = now - window
    recent = LoginFailure.select().where(LoginFailure.at > since)
    if besides is not None:
        recent = recent.where(LoginFailure.id != besides)
    failures, last = (recent.where((LoginFailure.email == email) & (LoginFailure.ip == ip))
                      .select(fn.COUNT(LoginFailure.id), fn.MAX(LoginFailure.at))
                      .scalar(as_tuple=True))
    wait = 0.0
    free = config["LOGIN_MAX_FAILURES"]
    if failures >= free and last is not None:
        delay = min(2 ** (failures - free + 1), window.total_seconds())
        wait = max(wait, (last + timedelta(seconds=delay) - now).total_seconds())
    limit = config["LOGIN_ADDRESS_LIMIT"]
    oldest_to_expire = (recent.where(LoginFailure.ip == ip)
                        .order_by(LoginFailure.at.desc()).offset(limit - 1).first())
    if oldest_to_expire is not None:
        wait = max(wait, (oldest_to_expire.at + window - now).total_seconds())
    return max(0, math.ceil(wait))


def _claim_attempt(email: str, ip: str) -> tuple[LoginFailure | None, int]:
    """Count this attempt before its password (or setup code) is checked: (the attempt,
    0) when it may be checked, (None, seconds to wait) when not.

    The attempt is written as a failure first (committed), then the failures counted
    besides it: of attempts made at the same moment, each sees every one written before
    its count, so no more than the free tries are ever checked (counting after the check,
    100 parallel guesses all saw none). A refused attempt is taken back; one that turns
    out right is cleared with the pair's failures."""
    # Failures older than the window no longer count: drop them so the table stays small.
    window = timedelta(minutes=current_app.config["LOGIN_WINDOW_MINUTES"])
    LoginFailure.delete().where(LoginFailure.at < utcnow() - window).execute()
    attempt = LoginFailure.create(email=email, ip=ip)
    wait = _wait_seconds(email, ip, besides=attempt.id)
    if wait:
        LoginFailure.delete().where(LoginFailure.id == attempt.id).execute()
        return None, wait
    return attempt, 0


def _wait_sentence(seconds: int) -> str:
    when = (f"{seconds} seconds" if seconds < 120 else f"{math.ceil(seconds / 60)} minutes")
    return (f"Too many failed sign-ins from your address. Wait {when} and try again, or "
            "ask an administrator to reset your password.")


def _client_address() -> str:
    return request.remote_addr or "unknown"


# -- where to go after signing in ------------------------------------------------------------
def _safe_next(target: str | None) -> str:
    """Only a path on this site: no scheme, no host, no control characters, spaces or
    backslashes (browsers drop tabs and newlines and read \\ as /, which turns
    "/\\t/evil.example" into "//evil.example")."""
    fallback = url_for("dashboard.index")
    if not target or not target.startswith("/") or target.startswith("//"):
        return fallback
    if any(ord(c) < 33 or ord(c) == 127 or c == "\\" for c in target):
        return fallback
    try:
        parts = urlsplit(target)
    except ValueError:
        return fallback
    if parts.scheme or parts.netloc:
        return fallback
    return target


# -- sign in and out ---------------------------------------------------------------------------
@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    if User.select().count() == 0:
        return redirect(url_for("auth.setup"))
    error = None
    status = 200
    if request.method == "POST":
        typed = request.form.get("email", "").strip().lower()
        # An e-mail no column can hold (too long, a NUL) has no account: it gets the
        # answer of any wrong e-mail, its failures counted under what can be stored.
        email = storable_form(typed)
        password = request.form.get("password", "")
        ip = _client_address()
        _attempt, wait = _claim_attempt(email, ip)
        if wait:
            error, status = _wait_sentence(wait), 429
        else:
            user = User.get_or_none(User.email == email) if email == typed else None
            # One hash check whether or not the e-mail has an account.
            matches = check_password_hash(user.password_hash if user else _DUMMY_HASH,
                                          password)
            if user is not None and matches:
                # This attempt's row with the pair's earlier failures.
                LoginFailure.delete().where((LoginFailure.email == email) &
                                            (LoginFailure.ip == ip)).execute()
                start_session(user)
                user.last_login_at = utcnow()
                user.save()
                return redirect(_safe_next(request.args.get("next")))
            # The attempt's row stays: it was this failure.
            error = "That email and password do not match an account."
            status = 401
    return render_template("auth/login.html", error=error), status


@bp.route("/logout", methods=["POST"])
@role("viewer")
def logout():
    end_sessions(g.user.id)
    session.clear()
    return redirect(url_for("auth.login"))


# -- first run -----------------------------------------------------------------------------------
def setup_code() -> str:
    """The one-time code the first-run screen asks for, made once and kept (encrypted)
    until the first administrator exists. Only someone who can read the server's log
    has it, so whoever reaches a fresh box first cannot claim it."""
    code = Setting.get_value(SETUP_CODE_SETTING)
    if not code:
        alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"          # no 0/O or 1/I to misread
        fresh = "-".join("".join(secrets.choice(alphabet) for _ in range(4))
                         for _ in range(4))                     # 80 bits
        try:
            Setting.create(key=SETUP_CODE_SETTING, secret=fresh)
        except IntegrityError:
            pass                    # another process made one first: use theirs
        code = Setting.get_value(SETUP_CODE_SETTING)
    return code


def _code_letters(text: str) -> str:
    """The code's letters and digits alone, in capitals: ABCD-EFGH-JKLM-NPQR is typed as
    read, with or without its dashes, in groups with spaces, in small letters."""
    return "".join(ch for ch in text.upper() if ch.isascii() and ch.isalnum())


_setup_code_logged: str | None = None


def _log_setup_code(code: str) -> None:
    """Write the code to the log once per process (and again if it changes), not on
    every visit: anyone reaching /setup could otherwise fill the log with it."""
    global _setup_code_logged
    if code == _setup_code_logged:
        return
    _setup_code_logged = code
    current_app.logger.warning(
        "Ferry has no administrator yet. First-run setup code: %s (enter it on the "
        "/setup page; `flask --app app create-admin` works too).", code)


@bp.route("/setup", methods=["GET", "POST"])
@public
def setup():
    """First run: create the first administrator. Closed once any user exists."""
    if User.select().count() > 0:
        return redirect(url_for("auth.login"))
    code = setup_code()
    _log_setup_code(code)
    error, status = None, 200
    if request.method == "POST":
        email = request.form.get("email", "").strip()
        password = request.form.get("password", "")
        ip = _client_address()
        attempt, wait = _claim_attempt(SETUP_THROTTLE_KEY, ip)
        typed = _code_letters(request.form.get("setup_code", ""))
        if wait:
            error, status = _wait_sentence(wait), 429
        elif not hmac.compare_digest(typed.encode(), _code_letters(code).encode()):
            # The attempt's row stays: it was this failure.
            error, status = ("That setup code is not the one Ferry printed in its log. "
                             "Look in the server's log (for example journalctl -u "
                             "ferry-web) for \"First-run setup code\" and type it "
                             "again."), 403
        else:
            # The right code: this attempt is no failure.
            LoginFailure.delete().where(LoginFailure.id == attempt.id).execute()
            error, status = _first_administrator(email, password)
            if error is None:
                flash("Your administrator account is ready. Sign in to continue.")
                return redirect(url_for("auth.login"))
    return render_template("auth/setup.html", error=error), status


def _first_administrator(email: str, password: str) -> tuple[str | None, int]:
    """Create the first administrator: (None, 200), or (what is wrong, 400)."""
    if "@" not in email or not storable(email):
        return "Enter the email address you will sign in with.", 400
    if password != request.form.get("confirm", ""):
        return "The two passwords are different. Type the same password twice.", 400
    try:
        save_user(email, password)
    except PasswordTooShort as exc:
        return str(exc), 400
    Setting.delete().where(Setting.key == SETUP_CODE_SETTING).execute()
    return None, 200


# -- the account page ----------------------------------------------------------------------------
def _account_page(*, error=None, message=None, status=200):
    return render_template("auth/account.html", error=error, message=message), status


@bp.get("/account")
@role("viewer")
def account():
    return _account_page()


@bp.post("/account/password")
@role("viewer")
def change_password():
    """A new password for the signed-in user; every other session of theirs ends."""
    user = g.user
    if not check_password_hash(user.password_hash, request.form.get("current", "")):
        return _account_page(error="Your current password is not right. Type it again.",
                             status=400)
    new = request.form.get("password", "")
    if new != request.form.get("confirm", ""):
        return _account_page(error="The two new passwords are different. Type the same "
                                   "password twice.", status=400)
    try:
        save_user(user.email, new)
    except PasswordTooShort as exc:
        return _account_page(error=str(exc), status=400)
    # This browser stays signed in, until the end of its sign-in as before.
    start_session(User.get_by_id(user.id), session.get("signed_in_at"))
    flash("Password changed. Every other browser signed in as you has been signed out.")
    return redirect(url_for("auth.account"))


@bp.post("/account/sign-out-everywhere")
@role("viewer")
def sign_out_everywhere():
    """End every session of this user except the one asking (a lost laptop, a shared
    computer)."""
    end_sessions(g.user.id)
    start_session(g.user, session.get("signed_in_at"))
    flash("Every other browser signed in as you has been signed out.")
    return redirect(url_for("auth.account"))

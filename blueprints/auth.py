"""Signing in and out, the first-run screen, and the rule that every page needs a login."""
from datetime import timedelta

from flask import (
    Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for,
)
from werkzeug.security import check_password_hash, generate_password_hash

from blueprints import public
from models import LoginFailure, User, utcnow

bp = Blueprint("auth", __name__)

MIN_PASSWORD_LENGTH = 10


class PasswordTooShort(ValueError):
    """A password shorter than MIN_PASSWORD_LENGTH."""


def save_user(email: str, password: str) -> bool:
    """Create the user, or set a new password for an existing one. True if created."""
    email = email.strip().lower()
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordTooShort(
            f"Choose a password of at least {MIN_PASSWORD_LENGTH} characters.")
    password_hash = generate_password_hash(password)
    user = User.get_or_none(User.email == email)
    if user is None:
        User.create(email=email, password_hash=password_hash)
        return True
    user.password_hash = password_hash
    user.save()
    return False


def require_login_everywhere(app) -> None:
    @app.before_request
    def _load_user_and_require_login():
        user_id = session.get("user_id")
        g.user = User.get_or_none(User.id == user_id) if user_id else None
        if g.user is not None or request.endpoint is None:
            return None
        view = app.view_functions.get(request.endpoint)
        if request.endpoint == "static" or getattr(view, "ferry_public", False):
            return None
        target = url_for("auth.login", next=request.full_path.rstrip("?"))
        if request.headers.get("HX-Request"):
            # An HTMX swap cannot follow a redirect into the login page: ask for a full load.
            response = current_app.response_class(status=401)
            response.headers["HX-Redirect"] = target
            return response
        return redirect(target)


def _throttled(email: str, ip: str) -> bool:
    window = utcnow() - timedelta(minutes=current_app.config["LOGIN_WINDOW_MINUTES"])
    recent = LoginFailure.select().where(
        (LoginFailure.at > window) & ((LoginFailure.email == email) | (LoginFailure.ip == ip))
    ).count()
    return recent >= current_app.config["LOGIN_MAX_FAILURES"]


def _safe_next(target: str | None) -> str:
    # Only local paths: never bounce a fresh login to another site.
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("dashboard.index")


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    if User.select().count() == 0:
        return redirect(url_for("auth.setup"))
    error = None
    status = 200
    if request.method == "POST":
        email = request.form.get("email", "").strip().lower()
        password = request.form.get("password", "")
        ip = request.remote_addr or "unknown"
        if _throttled(email, ip):
            minutes = current_app.config["LOGIN_WINDOW_MINUTES"]
            error = (f"Too many failed sign-ins. Wait {minutes} minutes and try again, "
                     "or ask an administrator to reset your password.")
            status = 429
        else:
            user = User.get_or_none(User.email == email)
            if user and check_password_hash(user.password_hash, password):
                session.clear()
                session["user_id"] = user.id
                session.permanent = True
                user.last_login_at = utcnow()
                user.save()
                return redirect(_safe_next(request.args.get("next")))
            LoginFailure.create(email=email, ip=ip)
            error = "That email and password do not match an account."
            status = 401
    return render_template("auth/login.html", error=error), status


@bp.route("/setup", methods=["GET", "POST"])
@public
def setup():
    """First run: create the first administrator. Closed once any user exists."""
    if User.select().count() > 0:
        return redirect(url_for("auth.login"))
    error = None
    if request.method == "POST":
        email = request.form.get("email", "").strip()
        password = request.form.get("password", "")
        if "@" not in email:
            error = "Enter the email address you will sign in with."
        elif password != request.form.get("confirm", ""):
            error = "The two passwords are different. Type the same password twice."
        else:
            try:
                save_user(email, password)
            except PasswordTooShort as exc:
                error = str(exc)
            else:
                flash("Your administrator account is ready. Sign in to continue.")
                return redirect(url_for("auth.login"))
    return render_template("auth/setup.html", error=error), (400 if error else 200)


@bp.route("/logout", methods=["POST"])
def logout():
    session.clear()
    return redirect(url_for("auth.login"))

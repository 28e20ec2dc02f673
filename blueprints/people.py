"""People: who may use Ferry and in which role (blueprints/roles.py). Administrators
invite someone by e-mail (a link that works once and expires), change a person's role,
send a password reset link, and remove an account. The link's page (/welcome/<token>)
is public: the person chooses a password there and is signed in.

Only the SHA-256 of a link's token is stored; the link itself goes through the outbox
like every other mail (so, with no mail server configured, an administrator copies it
from the Outbox, where only administrators see the text of such mails).
"""
import hashlib
import secrets
from datetime import timedelta

from flask import (
    Blueprint, abort, current_app, flash, g, redirect, render_template, request, url_for,
)

from blueprints import public
from blueprints.roles import DESCRIPTIONS, LABELS, ROLES, role
from blueprints.text_input import storable
from models import AccountLink, User, db, utcnow

bp = Blueprint("people", __name__)

INVITE_LIFETIME = timedelta(days=7)
RESET_LIFETIME = timedelta(hours=24)
LINK_KINDS = ("invite", "reset")            # outbox kinds whose text holds a link


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _link_url(token: str) -> str:
    return current_app.config["BASE_URL"].rstrip("/") + url_for("people.welcome",
                                                                 token=token)


def _administrators() -> int:
    return User.select().where(User.role == "administrator").count()


def _page(error: str | None = None, status: int = 200, **form):
    users = list(User.select().order_by(User.email))
    links = list(AccountLink.select().where(
        AccountLink.used_at.is_null() & (AccountLink.expires_at > utcnow()))
        .order_by(AccountLink.created_at.desc()))
    return render_template("people/index.html", users=users, links=links, roles=ROLES,
                           labels=LABELS, descriptions=DESCRIPTIONS, error=error,
                           form=form), status


@bp.get("/people/")
@role("administrator")
def index():
    return _page()


def _send_link(purpose: str, email: str, link_role: str | None) -> AccountLink:
    """Make a one-time link for `email` and queue the mail that carries it."""
    from jobs.outbox import queue_mail
    token = secrets.token_urlsafe(32)
    lifetime = INVITE_LIFETIME if purpose == "invite" else RESET_LIFETIME
    with db.atomic():
        link = AccountLink.create(purpose=purpose, email=email, role=link_role,
                                  token_hash=_hash(token), created_by=g.user.id,
                                  expires_at=utcnow() + lifetime)
    url = _link_url(token)
    if purpose == "invite":
        subject = "You are invited to Ferry"
        text = (f"{g.user.email} invited you to Ferry, the ConnectWise to Xero sync, as "
                f"{LABELS[link_role].lower()} ({DESCRIPTIONS[link_role]}).\n\n"
                f"Choose your password here:\n{url}\n\n"
                f"The link works once, for {INVITE_LIFETIME.days} days. If you did not "
                "expect it, ignore this mail.\n")
    else:
        subject = "Choose a new password for Ferry"
        text = (f"{g.user.email} sent you a link to choose a new password for Ferry:\n"
                f"{url}\n\nThe link works once, for "
                f"{int(RESET_LIFETIME.total_seconds() // 3600)} hours. Your old password "
                "works until you choose a new one. If you did not ask for it, ignore "
                "this mail.\n")
    queue_mail(purpose, [email], subject, text)
    return link


@bp.post("/people/invite")
@role("administrator")
def invite():
    email = request.form.get("email", "").strip().lower()
    new_role = request.form.get("role", "")
    if "@" not in email or not storable(email) or len(email) > 254:
        return _page("Enter the e-mail address of the person to invite.", 400,
                     email=email, role=new_role)
    if new_role not in ROLES:
        return _page("Choose the role the person will have: viewer, finance or "
                     "administrator.", 400, email=email, role=new_role)
    if User.get_or_none(User.email == email) is not None:
        return _page(f"{email} already has an account. To let them in again, send a "
                     "password reset link from the list below.", 400,
                     email=email, role=new_role)
    _send_link("invite", email, new_role)
    flash(f"Invitation to {email} as {LABELS[new_role].lower()} is in the Outbox; the "
          f"link works once, for {INVITE_LIFETIME.days} days.")
    return redirect(url_for("people.index"), 303)


def _user(user_id: int) -> User:
    user = User.get_or_none(User.id == user_id)
    if user is None:
        abort(404)
    return user


@bp.post("/people/<int:user_id>/role")
@role("administrator")
def change_role(user_id):
    user = _user(user_id)
    new_role = request.form.get("role", "")
    if new_role not in ROLES:
        return _page("Choose a role: viewer, finance or administrator.", 400)
    if (user.role == "administrator" and new_role != "administrator"
            and _administrators() <= 1):
        return _page(f"{user.email} is the only administrator. Make someone else an "
                     "administrator first, so that somebody can still manage Ferry.", 400)
    user.role = new_role
    user.save()
    flash(f"{user.email} is now {LABELS[new_role].lower()}.")
    return redirect(url_for("people.index"), 303)


@bp.post("/people/<int:user_id>/reset")
@role("administrator")
def reset(user_id):
    user = _user(user_id)
    _send_link("reset", user.email, None)
    flash(f"A link to choose a new password is in the Outbox for {user.email}; it works "
          f"once, for {int(RESET_LIFETIME.total_seconds() // 3600)} hours.")
    return redirect(url_for("people.index"), 303)


@bp.post("/people/<int:user_id>/remove")
@role("administrator")
def remove(user_id):
    user = _user(user_id)
    if user.id == g.user.id:
        return _page("You cannot remove your own account. Another administrator can.", 400)
    if user.role == "administrator" and _administrators() <= 1:
        return _page(f"{user.email} is the only administrator and cannot be removed.", 400)
    with db.atomic():
        AccountLink.delete().where(AccountLink.email == user.email).execute()
        user.delete_instance()
    flash(f"{user.email} can no longer sign in; their sessions have ended.")
    return redirect(url_for("people.index"), 303)


@bp.post("/people/links/<int:link_id>/cancel")
@role("administrator")
def cancel_link(link_id):
    link = AccountLink.get_or_none(AccountLink.id == link_id)
    if link is None:
        abort(404)
    link.delete_instance()
    flash(f"The link sent to {link.email} no longer works.")
    return redirect(url_for("people.index"), 303)


# -- the link's page (public) ------------------------------------------------------------
GONE = ("This link has already been used, has expired, or was cancelled. Ask an "
        "administrator of Ferry to send you a new one.")


def _live_link(token: str) -> AccountLink | None:
    if not token or len(token) > 200:
        return None
    return AccountLink.get_or_none(
        (AccountLink.token_hash == _hash(token)) & AccountLink.used_at.is_null()
        & (AccountLink.expires_at > utcnow()))


@bp.route("/welcome/<token>", methods=["GET", "POST"])
@public
def welcome(token):
    from blueprints.auth import MIN_PASSWORD_LENGTH, save_user, start_session
    link = _live_link(token)
    if link is None:
        return render_template("people/welcome.html", gone=GONE), 410
    if link.purpose == "invite" and User.get_or_none(User.email == link.email):
        return render_template("people/welcome.html", gone=(
            f"{link.email} already has an account: sign in instead, or ask an "
            "administrator for a password reset link.")), 410
    error, status = None, 200
    if request.method == "POST":
        password = request.form.get("password", "")
        if password != request.form.get("confirm", ""):
            error, status = "The two passwords are different. Type the same password twice.", 400
        elif len(password) < MIN_PASSWORD_LENGTH:
            error, status = (f"Choose a password of at least {MIN_PASSWORD_LENGTH} "
                             "characters."), 400
        else:
            with db.atomic():
                # Once only, even if the form is sent twice at the same moment.
                claimed = AccountLink.update(used_at=utcnow()).where(
                    (AccountLink.id == link.id) & AccountLink.used_at.is_null()).execute()
                if not claimed:
                    return render_template("people/welcome.html", gone=GONE), 410
                save_user(link.email, password, role=link.role)
            user = User.get(User.email == link.email)
            start_session(user)
            user.last_login_at = utcnow()
            user.save()
            flash(f"Welcome to Ferry. You are signed in as {user.email} "
                  f"({LABELS[user.role].lower()})." if link.purpose == "invite" else
                  "Your new password is set, and you are signed in.")
            return redirect(url_for("dashboard.index"), 303)
    return render_template("people/welcome.html", link=link, error=error,
                           min_length=MIN_PASSWORD_LENGTH, labels=LABELS), status

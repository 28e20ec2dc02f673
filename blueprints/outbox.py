"""Outbox: every e-mail Ferry wrote (sent, pending, failed with the reason), Resend. (The
page an alert's force-sync link opens lives with Runs: blueprints/runs.py.)"""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from jobs.outbox import MAX_ATTEMPTS, NO_SMTP, resend, smtp_settings
from models import OutboxMail
from blueprints.roles import role

bp = Blueprint("outbox", __name__)

PAGE_SIZE = 200
STATUSES = {"pending": "Pending", "sent": "Sent", "failed": "Failed"}
KINDS = {"exceptions": "Exceptions", "digest": "Daily digest", "incident": "Failure alert",
         "resolved": "Resolved", "test": "Test", "invite": "Invitation",
         "reset": "Password reset"}


@bp.route("/outbox/")
@role("viewer")
def index():
    status = request.args.get("status", "")
    query = OutboxMail.select()
    if status == "pending":
        query = query.where(OutboxMail.status.in_(("pending", "sending")))
    elif status in STATUSES:
        query = query.where(OutboxMail.status == status)
    mails = list(query.order_by(OutboxMail.id.desc()).limit(PAGE_SIZE))
    counts = {key: OutboxMail.select().where(OutboxMail.status.in_(
        ("pending", "sending") if key == "pending" else (key,))).count() for key in STATUSES}
    return render_template("outbox/index.html", mails=mails, status=status,
                           statuses=STATUSES, counts=counts, kinds=KINDS,
                           max_attempts=MAX_ATTEMPTS,
                           no_smtp=None if smtp_settings() else NO_SMTP)


@bp.route("/outbox/<int:mail_id>")
@role("viewer")
def detail(mail_id):
    mail = OutboxMail.get_or_none(OutboxMail.id == mail_id)
    if mail is None:
        abort(404)
    # An invitation or reset carries a link that signs its holder in: administrators only.
    from blueprints.people import LINK_KINDS
    from blueprints.roles import can
    hidden = mail.kind in LINK_KINDS and not can("people.index", "GET")
    return render_template("outbox/detail.html", mail=mail, kinds=KINDS, hidden=hidden,
                           no_smtp=None if smtp_settings() else NO_SMTP)


@bp.post("/outbox/<int:mail_id>/resend")
@role("finance")
def resend_mail(mail_id):
    mail = resend(mail_id)
    if mail is None:
        abort(404)
    if smtp_settings():
        flash(f"“{mail.subject}” is queued to be sent again.")
    else:
        flash(f"“{mail.subject}” is queued again, but it stays here until a mail server "
              "is configured (FERRY_SMTP_HOST).")
    return redirect(url_for("outbox.index"), 303)

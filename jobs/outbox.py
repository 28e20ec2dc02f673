"""The outbox: every e-mail is a row before it is an SMTP conversation.

`queue_mail` writes the mail (committed) and asks a worker to send it; `send_due` sends
what is due. A failed attempt stays pending with the reason and a later next attempt
(1, 2, 4 ... minutes, at most an hour apart) until MAX_ATTEMPTS, then it is "failed" and
waits for a person to press Resend (a test e-mail is tried once: the person who pressed
"Send a test e-mail" presses it again). A mail is claimed ("sending") before its SMTP
conversation; a claim older than SENDING_STALE is taken as a sender that died (worker
restart) and the mail goes out again: a mail may in that rare case arrive twice, never
zero times. With no SMTP host configured nothing is attempted and mail waits here.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import current_app
from peewee import IntegrityError

from connectors.smtp import SmtpError, SmtpSettings, build_message, send, sender_domain
from jobs.context import in_job_context
from sync.alerts import one_line
from models import OutboxMail, db, utcnow

log = logging.getLogger("ferry.outbox")

MAX_ATTEMPTS = 12
TRIED_ONCE = ("test",)            # kinds a failure leaves failed at once
SENDING_STALE = timedelta(minutes=10)
FIRST_RETRY_SECONDS = 60
LONGEST_RETRY_SECONDS = 3600
NO_SMTP = ("No mail server is configured (FERRY_SMTP_HOST is not set), so Ferry keeps "
           "every e-mail here. Set FERRY_SMTP_HOST and the other FERRY_SMTP_ settings and "
           "restart Ferry; what is pending is then sent.")


def smtp_settings(config=None) -> SmtpSettings | None:
    """The relay from the app's configuration; None when FERRY_SMTP_HOST is unset."""
    config = config if config is not None else current_app.config
    if not config.get("SMTP_HOST"):
        return None
    implicit = bool(config.get("SMTP_TLS", False))
    return SmtpSettings(
        host=config["SMTP_HOST"], port=int(config.get("SMTP_PORT") or (465 if implicit else 587)),
        username=config.get("SMTP_USERNAME"), password=config.get("SMTP_PASSWORD"),
        starttls=bool(config.get("SMTP_STARTTLS", True)), implicit_tls=implicit,
        timeout=float(config.get("SMTP_TIMEOUT", 30)),
        ssl_context=config.get("SMTP_SSL_CONTEXT"))


def retry_delay(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt: 1, 2, 4 ... minutes, ≤ 1 hour."""
    seconds = FIRST_RETRY_SECONDS * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, LONGEST_RETRY_SECONDS))


def queue_mail(kind: str, recipients: list[str], subject: str, text: str,
               html: str | None = None, *, key: str | None = None,
               notify: bool = True) -> OutboxMail | None:
    """Write a mail to the outbox (committed) and ask a worker to send it. With a `key`
    that is already in the outbox, nothing is written and None is returned."""
    try:
        with db.atomic():
            mail = OutboxMail.create(
                key=key, kind=kind, recipients=list(recipients), subject=one_line(subject),
                text=text, html=html, next_attempt_at=utcnow(),
                status="pending" if recipients else "failed",
                last_error=None if recipients else (
                    "Nobody to send it to: add recipients under Settings → Alerts, or an "
                    "administrator, then press Resend."))
    except IntegrityError:
        return None
    if notify and recipients:
        _wake_sender()
    return mail


def _wake_sender() -> None:
    """Best effort: the scheduled sender picks the mail up anyway within a minute."""
    try:
        from jobs.queue import get_queue
        get_queue().enqueue(send_outbox, job_timeout=600)
    except Exception as exc:          # Redis down: the mail is safe in the outbox
        log.info("outbox: could not queue a send job (%s); the schedule will", exc)


def send_due(now: datetime | None = None, settings: SmtpSettings | None = None,
             sender: str | None = None, limit: int = 100, only: int | None = None) -> dict:
    """Send every pending mail whose time has come (or just mail `only`). Returns
    counts by outcome."""
    now = now or utcnow()
    settings = settings if settings is not None else smtp_settings()
    counts = {"sent": 0, "retry": 0, "failed": 0}
    if settings is None:
        return counts
    sender = sender or current_app.config.get("MAIL_FROM", "ferry@localhost")
    # A sender that died mid-conversation left its claim: the mail goes out again.
    OutboxMail.update(status="pending").where(
        (OutboxMail.status == "sending") & (OutboxMail.claimed_at < now - SENDING_STALE)
    ).execute()
    query = OutboxMail.select(OutboxMail.id).where(
        (OutboxMail.status == "pending") & (OutboxMail.next_attempt_at <= now))
    if only is not None:
        query = query.where(OutboxMail.id == only)
    due = list(query.order_by(OutboxMail.id).limit(limit))
    for row in due:
        claimed = OutboxMail.update(status="sending", claimed_at=now).where(
            (OutboxMail.id == row.id) & (OutboxMail.status == "pending")).execute()
        if not claimed:
            continue                  # another sender has it
        counts[_attempt(OutboxMail.get_by_id(row.id), settings, sender, now)] += 1
    return counts


def message_id(mail: OutboxMail, sender: str) -> str:
    """The same Message-ID at every attempt of one outbox row, so a mail a receiver took
    just before the conversation broke is the same message when it comes again. The
    time it was written keeps two rows of a database started afresh apart."""
    return (f"<ferry.{mail.id}.{mail.created_at:%Y%m%d%H%M%S%f}"
            f"@{sender_domain(sender)}>")


def _attempt(mail: OutboxMail, settings: SmtpSettings, sender: str, now: datetime) -> str:
    try:
        message = build_message(sender, mail.recipients, mail.subject, mail.text,
                                mail.html, date=mail.created_at,
                                message_id=message_id(mail, sender))
    except SmtpError as exc:
        # Never a conversation, and no retry could help: failed now, not left claimed
        # (a claim left "sending" would be taken again on every pass).
        mail.status, mail.claimed_at = "failed", None
        mail.last_error = (exc.sentence + " Ferry will not try it again; what it "
                           "announced is on the Exceptions and Runs pages.")
        mail.save()
        log.warning("outbox: mail %s cannot be sent: %s", mail.id, exc.sentence)
        return "failed"
    mail.attempts += 1
    try:
        refused = send(settings, message)
    except SmtpError as exc:
        mail.last_error = exc.sentence
        if mail.kind in TRIED_ONCE:
            mail.status = "failed"
            mail.last_error += (" A test e-mail is not tried again by itself: send another "
                                "once that is fixed.")
        elif exc.permanent or mail.attempts >= MAX_ATTEMPTS:
            mail.status = "failed"
            mail.last_error += (" Ferry will not retry it by itself" if exc.permanent else
                                f" Ferry gave up after {mail.attempts} tries")
            mail.last_error += ": press Resend once that is fixed."
        else:
            mail.status = "pending"
            mail.next_attempt_at = now + retry_delay(mail.attempts)
        mail.claimed_at = None
        mail.save()
        log.warning("outbox: mail %s not sent (attempt %s): %s", mail.id, mail.attempts,
                    exc.sentence)
        return "failed" if mail.status == "failed" else "retry"
    mail.status, mail.sent_at, mail.claimed_at = "sent", utcnow(), None
    mail.last_error = (("The mail server refused " + ", ".join(refused) + "; the others "
                        "got it.") if refused else None)
    mail.save()
    return "sent"


def resend(mail_id: int) -> OutboxMail | None:
    """Put a sent or failed mail back in the queue, now, with fresh attempts."""
    mail = OutboxMail.get_or_none(OutboxMail.id == mail_id)
    if mail is None or mail.status in ("sending",):
        return mail
    mail.status, mail.attempts, mail.next_attempt_at = "pending", 0, utcnow()
    mail.claimed_at = None
    mail.save()
    _wake_sender()
    return mail


def pending() -> list[OutboxMail]:
    return list(OutboxMail.select().where(OutboxMail.status.in_(("pending", "sending")))
                .order_by(OutboxMail.id))


@in_job_context
def send_outbox() -> dict:
    """The RQ job: queued with each new mail, and every minute by the schedule."""
    return send_due()

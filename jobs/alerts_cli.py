"""`flask --app app digest send` and `flask --app app outbox`."""
import click

from models import db


def register_alert_commands(app) -> None:
    @app.cli.group("digest")
    def digest_group():
        """The daily digest e-mail."""

    @digest_group.command("send")
    def digest_send():
        """Send the digest of the last 24 hours now, whatever the time of day."""
        from jobs.digest import NobodyToSend, send_digest_now
        from jobs.outbox import NO_SMTP, smtp_settings
        with db.connection_context():
            try:
                mail, counts = send_digest_now()
            except NobodyToSend as exc:
                raise click.ClickException(str(exc))
            mail = type(mail).get_by_id(mail.id)
            click.echo(f"Digest written to the outbox (mail {mail.id}) for "
                       f"{', '.join(mail.recipients) or 'nobody'}: {mail.subject}")
            if smtp_settings() is None:
                click.echo(NO_SMTP)
            elif mail.status == "sent":
                click.echo("Sent.")
            else:
                raise click.ClickException(f"Not sent yet: {mail.last_error} It stays in "
                                           "the outbox and is tried again.")

    @app.cli.command("outbox")
    @click.option("--send", is_flag=True, help="Send what is due now, then list.")
    def outbox(send):
        """List the e-mails waiting in the outbox (pending, being sent, failed)."""
        from jobs.outbox import NO_SMTP, send_due, smtp_settings
        from models import OutboxMail
        with db.connection_context():
            counts = None
            if send:
                counts = send_due()
                click.echo("Sent {sent}, to retry {retry}, failed {failed}.".format(**counts))
            if smtp_settings() is None:
                click.echo(NO_SMTP)
            rows = list(OutboxMail.select().where(
                OutboxMail.status.in_(("pending", "sending", "failed")))
                .order_by(OutboxMail.id))
            if not rows:
                click.echo("Nothing is waiting: every e-mail has been sent.")
            for m in rows:
                when = ("" if m.status == "failed" else
                        f", next try {m.next_attempt_at:%Y-%m-%d %H:%M} UTC")
                click.echo(f"{m.id:>6}  {m.status:<8} {m.created_at:%Y-%m-%d %H:%M}  "
                           f"{m.subject}  -> {', '.join(m.recipients)}  "
                           f"({m.attempts} attempt{'s' if m.attempts != 1 else ''}{when})")
                if m.last_error:
                    click.echo(f"        {m.last_error}")
            # --send is asked to send: nothing sent when something was due is a failure.
            if send and smtp_settings() is None and rows:
                raise click.ClickException("Nothing was sent: no mail server is configured "
                                           "(FERRY_SMTP_HOST).")
            if counts and (counts["retry"] or counts["failed"]):
                raise click.ClickException(
                    f"{counts['retry'] + counts['failed']} e-mail(s) could not be sent; "
                    "the reasons are listed above.")

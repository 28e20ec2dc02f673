"""Alerts: per record type, exceptions mailed at once or in the daily digest, and to
whom; the digest's time of day and timezone; after how many failed cycles in a row a
type is reported; and "Send a test e-mail"."""
from __future__ import annotations

from dataclasses import replace

from flask import current_app, g, redirect, render_template, request, url_for

from blueprints.settings import answer, bp, section
from blueprints.query_args import whole_number
from jobs import alerts
from jobs.outbox import NO_SMTP, queue_mail, send_due, smtp_settings
from jobs.display_zone import DISPLAY_ZONE
from models import OutboxMail, Setting, db, utcnow
from sync import alerts as compose
from blueprints.roles import role

# A person waits on the page for the answer, and gunicorn ends a request after 30 s:
# a test that the server does not answer says so after this, whatever FERRY_SMTP_TIMEOUT.
TEST_TIMEOUT_SECONDS = 10


def _saved() -> dict:
    values = {f"mode_{t}": alerts.mode(t) for t in compose.RECORD_TYPES}
    for t in compose.RECORD_TYPES:
        chosen = Setting.get_value(alerts.RECIPIENTS.format(t))
        values[f"recipients_{t}"] = ", ".join(chosen) if chosen else ""
    values["digest_time"] = alerts.digest_time().strftime("%H:%M")
    values["timezone"] = alerts.timezone_name()
    values["failures_in_a_row"] = str(alerts.failures_in_a_row())
    values["test_to"] = g.user.email if g.get("user") else ""
    return values


def _render(values: dict, *, message=None, problems=None, field_problems=None,
            test_result=None, test_ok=None) -> str:
    return render_template(
        "settings/_alerts.html", values=values, message=message, problems=problems,
        field_problems=field_problems or {}, test_result=test_result, test_ok=test_ok,
        record_types=compose.MANY, modes=compose.MODES,
        administrators=alerts.administrators(),
        no_smtp=None if smtp_settings() else NO_SMTP, smtp=_smtp_summary())


def _smtp_summary() -> str | None:
    """The mail server as the environment sets it, in words (never the password)."""
    s = smtp_settings()
    if s is None:
        return None
    security = ("TLS" if s.implicit_tls else "STARTTLS" if s.starttls
                else "no encryption")
    login = f"signing in as {s.username}" if s.username else "without signing in"
    return (f"{s.host}:{s.port} ({security}, {login}), from "
            f"{current_app.config.get('MAIL_FROM')}")


@section(order=60)
def alerts_section():
    return _render(_saved())


def _answer(html: str, status: int = 200):
    return answer(alerts_section, html, status)


@bp.post("/alerts")
@role("administrator")
def save_alerts():
    form = request.form
    values = _saved()
    values.update({k: form.get(k, "").strip() for k in form if k != "csrf_token"})
    problems: dict[str, str] = {}
    chosen: dict[str, list[str]] = {}
    for t in compose.RECORD_TYPES:
        if values.get(f"mode_{t}") not in compose.MODES:
            problems[f"mode_{t}"] = "Choose immediately or in the daily digest."
        good, bad = compose.parse_recipients(values.get(f"recipients_{t}", ""))
        if bad:
            problems[f"recipients_{t}"] = (
                f"“{'”, “'.join(bad)}” {'is not an' if len(bad) == 1 else 'are not'} e-mail "
                f"address{'es' if len(bad) > 1 else ''}: write them like "
                "finance@your-msp.example, separated by commas.")
        chosen[t] = good
    at = compose.parse_time_of_day(values.get("digest_time", ""))
    if at is None:
        problems["digest_time"] = (f"“{values.get('digest_time', '')}” is not a time of day: "
                                   "write it as hours and minutes, like 07:30 or 17:00.")
    if compose.zone(values.get("timezone", "")) is None:
        problems["timezone"] = (f"“{values.get('timezone', '')}” is not a timezone Ferry knows: "
                                "write it like Australia/Adelaide, Pacific/Auckland or UTC.")
    raw_n = values.get("failures_in_a_row", "")
    if not 1 <= (whole_number(raw_n) or 0) <= 50:
        problems["failures_in_a_row"] = (f"“{raw_n}” is not a number from 1 to 50: how many "
                                         "failed cycles in a row of one type send an alert.")
    if problems:
        return _answer(_render(values, field_problems=problems, problems=[
            "Nothing was saved: correct the fields marked below."]), 422)
    with db.atomic():
        for t in compose.RECORD_TYPES:
            Setting.set_value(alerts.MODE.format(t), values[f"mode_{t}"])
            Setting.set_value(alerts.RECIPIENTS.format(t), chosen[t] or None)
        Setting.set_value(alerts.DIGEST_TIME, at.strftime("%H:%M"))
        # The one clock of the installation (jobs/display_zone.py), as in General.
        Setting.set_value(DISPLAY_ZONE, values["timezone"])
        Setting.set_value(alerts.FAILURES_IN_A_ROW, int(raw_n))
    if not request.headers.get("HX-Request"):
        return redirect(url_for("settings.index"))
    return _render(_saved(), message=(
        f"Saved. The daily digest goes at {at:%H:%M} {values['timezone']}."))


@bp.post("/alerts/test")
@role("administrator")
def test_mail():
    values = _saved()
    to = request.form.get("test_to", "").strip()
    values["test_to"] = to
    good, bad = compose.parse_recipients(to)
    if bad or len(good) != 1:
        return _answer(_render(values, field_problems={"test_to": (
            f"“{to}” is not one e-mail address: write one, like finance@your-msp.example.")}),
            422)
    now = utcnow()
    content = {"subject": "Ferry test e-mail", "requested_by": g.user.email,
               "at": alerts.local_time(now),
               "sender_note": "If you can read this, the mail server settings work."}
    text, html = alerts.render_mail("test", content)
    mail = queue_mail("test", good, content["subject"], text, html, notify=False)
    settings = smtp_settings()
    if settings is None:
        return _answer(_render(values, test_ok=False, test_result=(
            "The test e-mail is in the Outbox, but no mail server is configured "
            "(FERRY_SMTP_HOST), so it waits there.")))
    send_due(only=mail.id, settings=replace(
        settings, timeout=min(settings.timeout, TEST_TIMEOUT_SECONDS)))
    mail = OutboxMail.get_by_id(mail.id)
    if mail.status == "sent":
        return _answer(_render(values, test_ok=True, test_result=(
            f"Sent to {good[0]}: the mail server took it. Check that inbox (and its spam "
            "folder).")))
    # The outbox tries a test once (jobs/outbox.py): its sentence says to send another.
    return _answer(_render(values, test_ok=False, test_result=(
        f"Not sent: {mail.last_error} The mail is in the Outbox.")))

"""Settings → Alerts: modes, recipients, digest time and timezone, failures in a row;
a sentence beside each bad field and nothing saved; "Send a test e-mail" through the
real SMTP server, and what it says when the server refuses or none is configured."""
from jobs import alerts
from models import OutboxMail, Setting
from tests.conftest import ADMIN_EMAIL, csrf_token

from .conftest import inside, parts, point_at

GOOD = {"mode_invoice": "immediate", "recipients_invoice": "ar@msp.example; cfo@msp.example",
        "mode_credit_note": "digest", "recipients_credit_note": "",
        "mode_bill": "digest", "recipients_bill": "ap@msp.example",
        "mode_payment": "immediate", "recipients_payment": "",
        "digest_time": "7:30", "timezone": "Australia/Adelaide", "failures_in_a_row": "4"}


def test_the_section_shows_the_defaults(client, auth):
    auth.login()
    page = client.get("/settings/").get_data(as_text=True)
    assert "<h2>Alerts</h2>" in page
    assert page.count('<option value="digest" selected>In the daily digest only</option>') == 4
    assert f"every administrator\n  ({ADMIN_EMAIL})" in page or ADMIN_EMAIL in page
    assert 'name="digest_time" value="07:00"' in page
    assert 'name="failures_in_a_row" value="3"' in page


def test_saving_stores_every_setting(app, client, auth):
    auth.login()
    answer = client.post("/settings/alerts", data={**GOOD, "csrf_token": csrf_token(
        client, "/settings/")})
    assert answer.status_code == 302
    with inside(app):
        assert alerts.mode("invoice") == "immediate" and alerts.mode("bill") == "digest"
        assert alerts.recipients("invoice") == ["ar@msp.example", "cfo@msp.example"]
        assert alerts.recipients("credit_note") == [ADMIN_EMAIL]     # empty: administrators
        assert alerts.digest_time().strftime("%H:%M") == "07:30"
        assert alerts.timezone_name() == "Australia/Adelaide"
        assert alerts.failures_in_a_row() == 4
    htmx = client.post("/settings/alerts", data={**GOOD, "csrf_token": csrf_token(
        client, "/settings/")}, headers={"HX-Request": "true"})
    assert "Saved. The daily digest goes at 07:30 Australia/Adelaide." in \
        htmx.get_data(as_text=True)


def test_bad_values_get_a_sentence_each_and_nothing_is_saved(app, client, auth):
    auth.login()
    bad = {**GOOD, "recipients_bill": "ap@msp.example, accounts payable",
           "digest_time": "25:00", "timezone": "Adelaide", "failures_in_a_row": "0"}
    answer = client.post("/settings/alerts", data={**bad, "csrf_token": csrf_token(
        client, "/settings/")}, headers={"HX-Request": "true"})
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert "Nothing was saved" in html
    assert "“accounts payable” is not an e-mail address" in html
    assert "“25:00” is not a time of day" in html
    assert "“Adelaide” is not a timezone Ferry knows" in html
    assert "“0” is not a number from 1 to 50" in html
    assert 'value="ap@msp.example, accounts payable"' in html       # what was typed stays
    with inside(app):
        assert Setting.get_value(alerts.DIGEST_TIME) is None
        assert alerts.mode("invoice") == "digest"


def test_send_a_test_email_through_the_server(app, smtp, client, auth):
    point_at(app, smtp, SMTP_USERNAME="ferry-mailer", SMTP_PASSWORD="not-shown")
    auth.login()
    page = client.get("/settings/").get_data(as_text=True)
    assert (f"Mail goes through 127.0.0.1:{smtp.port} (no encryption, signing in as "
            "ferry-mailer), from ferry@msp.example") in page
    assert "not-shown" not in page
    app.config["SMTP_USERNAME"] = app.config["SMTP_PASSWORD"] = None
    answer = client.post("/settings/alerts/test", data={
        "test_to": "me@msp.example", "csrf_token": csrf_token(client, "/settings/")},
        headers={"HX-Request": "true"})
    assert "Sent to me@msp.example: the mail server took it." in answer.get_data(as_text=True)
    [message] = smtp.inbox.messages
    assert message["Subject"] == "Ferry test e-mail"
    assert ADMIN_EMAIL in parts(message)["text/plain"]
    smtp.inbox.refuse = "554 5.7.1 relay denied"
    answer = client.post("/settings/alerts/test", data={
        "test_to": "me@msp.example", "csrf_token": csrf_token(client, "/settings/")},
        headers={"HX-Request": "true"})
    html = answer.get_data(as_text=True)
    assert "Not sent: The mail server" in html and "554 5.7.1 relay denied" in html
    assert "The mail is in the Outbox" in html
    with inside(app):
        assert OutboxMail.select().where(OutboxMail.kind == "test").count() == 2


def test_send_a_test_email_with_no_server_configured(app, client, auth):
    app.config["SMTP_HOST"] = None
    auth.login()
    page = client.get("/settings/").get_data(as_text=True)
    assert "No mail server is configured (FERRY_SMTP_HOST is not set)" in page
    answer = client.post("/settings/alerts/test", data={
        "test_to": "me@msp.example", "csrf_token": csrf_token(client, "/settings/")})
    assert "no mail server is configured (FERRY_SMTP_HOST), so it waits there" in \
        answer.get_data(as_text=True)
    with inside(app):
        assert OutboxMail.get().status == "pending"


def test_a_test_email_to_a_server_that_never_answers(app, silent, client, auth):
    """The page answers within the test's own 10 seconds (FERRY_SMTP_TIMEOUT is for the
    outbox; gunicorn ends a request at 30), says why, and the test is not retried."""
    import time
    from datetime import timedelta

    from jobs.outbox import send_due
    from models import utcnow
    app.config.update({"SMTP_HOST": "127.0.0.1", "SMTP_PORT": silent, "SMTP_STARTTLS": False,
                       "SMTP_TLS": False, "SMTP_TIMEOUT": 30,
                       "MAIL_FROM": "ferry@msp.example"})
    auth.login()
    token = csrf_token(client, "/settings/")
    started = time.monotonic()
    answer = client.post("/settings/alerts/test", data={
        "test_to": "me@msp.example", "csrf_token": token}, headers={"HX-Request": "true"})
    took = time.monotonic() - started
    html = answer.get_data(as_text=True)
    assert 9 <= took < 15
    assert (f"Not sent: The mail server 127.0.0.1:{silent} did not answer within 10 "
            "seconds. A test e-mail is not tried again by itself: send another once that "
            "is fixed. The mail is in the Outbox.") in html
    with inside(app):
        row = OutboxMail.get(OutboxMail.kind == "test")
        assert row.status == "failed" and row.attempts == 1
        # An hour later the outbox has left it alone: nothing pending, no new attempt.
        assert send_due(now=utcnow() + timedelta(hours=1)) == {"sent": 0, "retry": 0,
                                                                "failed": 0}
        assert OutboxMail.get_by_id(row.id).attempts == 1

"""A new installation has nobody to send a digest to until its first administrator
exists: no digest is written before then (it used to write one marked failed, the
first thing a new Outbox showed), and the first one after covers the last 24 hours."""
from datetime import timedelta

import pytest

from jobs.alerts import DIGEST_TIME, TIMEZONE
from jobs.digest import digest_tick
from models import OutboxMail, Setting, User, db
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD

from .test_digest import next_digest_time


@pytest.fixture
def new_install(app):
    """The app with no user at all, as the first start leaves it."""
    with app.app_context(), db.connection_context():
        User.delete().execute()
        Setting.set_value(DIGEST_TIME, "07:00")
        Setting.set_value(TIMEZONE, "Australia/Adelaide")
        yield app
        # conftest's app fixture checks the runs at the end; a user back is harmless.


def test_no_digest_is_written_before_anyone_can_receive_it(new_install):
    at = next_digest_time()
    assert digest_tick(now=at + timedelta(minutes=2)) is None
    assert OutboxMail.select().count() == 0

    from blueprints.auth import save_user
    save_user(ADMIN_EMAIL, ADMIN_PASSWORD)
    mail = digest_tick(now=at + timedelta(minutes=7))
    assert mail is not None and mail.status == "pending"
    assert mail.recipients == [ADMIN_EMAIL]
    assert "Covers" in mail.text


def test_digest_send_with_nobody_to_send_to_says_so_and_fails(new_install):
    result = new_install.test_cli_runner().invoke(args=["digest", "send"])
    assert result.exit_code == 1, result.output
    assert "nobody to send" in result.output.lower()
    with new_install.app_context(), db.connection_context():
        assert OutboxMail.select().count() == 0


def test_the_alerts_settings_say_no_digest_goes_without_recipients(client, auth):
    auth.login()
    page = " ".join(client.get("/settings/").get_data(as_text=True).split())
    assert "No digest is written while it has nobody to go to" in page

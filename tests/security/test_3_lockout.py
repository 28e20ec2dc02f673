"""Finding 3: five wrong passwords for the administrator's e-mail, from anywhere, blocked
the right password from everywhere for 15 minutes; behind the proxy without
FERRY_PROXY_FIX five failures on any e-mails locked out everyone; with it and the port
reachable directly, a forged X-Forwarded-For got around the counter."""
import logging
from datetime import timedelta

import pytest

import blueprints.auth
from models import LoginFailure, db
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, csrf_token

ATTACKER = "203.0.113.9"
OWNER = "198.51.100.7"


def attempt(client, password, *, email=ADMIN_EMAIL, address=OWNER, headers=None):
    return client.post("/login", data={
        "email": email, "password": password, "csrf_token": csrf_token(client)},
        environ_base={"REMOTE_ADDR": address}, headers=headers or {})


def test_a_stranger_cannot_lock_the_owner_out(client):
    for _ in range(12):
        assert attempt(client, "guess", address=ATTACKER).status_code in (401, 429)
    assert attempt(client, "guess", address=ATTACKER).status_code == 429
    # The owner, from their own address, signs in at once with the right password.
    assert attempt(client, ADMIN_PASSWORD, address=OWNER).status_code == 302


def test_the_stranger_waits_longer_after_each_failure(client, app):
    for _ in range(5):
        assert attempt(client, "guess", address=ATTACKER).status_code == 401
    refused = attempt(client, ADMIN_PASSWORD, address=ATTACKER)
    assert refused.status_code == 429
    assert "Wait 2 seconds" in refused.get_data(as_text=True)

    def let_time_pass(seconds):
        with app.app_context(), db.connection_context():
            for failure in LoginFailure.select():
                failure.at -= timedelta(seconds=seconds)
                failure.save()

    let_time_pass(3)
    assert attempt(client, "guess", address=ATTACKER).status_code == 401   # the 6th
    assert "Wait 4 seconds" in attempt(client, "guess", address=ATTACKER).get_data(
        as_text=True)
    let_time_pass(5)
    assert attempt(client, "guess", address=ATTACKER).status_code == 401   # the 7th
    assert "Wait 8 seconds" in attempt(client, "guess", address=ATTACKER).get_data(
        as_text=True)


def test_one_address_trying_many_emails_is_capped(client, app):
    app.config["LOGIN_ADDRESS_LIMIT"] = 8
    for n in range(8):
        assert attempt(client, "guess", email=f"user{n}@msp.example",
                       address=ATTACKER).status_code == 401
    capped = attempt(client, "guess", email="someone.else@msp.example", address=ATTACKER)
    assert capped.status_code == 429
    assert "Too many failed sign-ins from your address" in capped.get_data(as_text=True)
    assert attempt(client, ADMIN_PASSWORD, address=OWNER).status_code == 302


def test_proxied_requests_without_the_proxy_setting_are_warned_about(client, auth, caplog,
                                                                     monkeypatch):
    monkeypatch.setattr(blueprints.auth, "_proxy_warned", False)
    auth.login()
    assert "FERRY_PROXY_FIX" not in client.get("/settings/").get_data(as_text=True)
    with caplog.at_level(logging.WARNING):
        page = client.get("/settings/", headers={"X-Forwarded-For": "198.51.100.7"})
    assert "FERRY_PROXY_FIX" in page.get_data(as_text=True)
    assert any("FERRY_PROXY_FIX" in r.getMessage() for r in caplog.records)


@pytest.fixture
def proxied_app(database_url, redis_url):
    """Ferry behind a reverse proxy on this machine, with FERRY_PROXY_FIX=1."""
    from app import create_app
    from blueprints.auth import save_user
    application = create_app({"TESTING": True, "DATABASE_URL": database_url,
                              "PROXY_FIX": True})
    with application.app_context(), db.connection_context():
        save_user(ADMIN_EMAIL, ADMIN_PASSWORD)
    yield application
    if not db.is_closed():
        db.close()
    db.obj.close()


def test_a_forged_forwarded_for_from_outside_the_proxy_is_ignored(proxied_app):
    client = proxied_app.test_client()
    for n in range(5):
        forged = {"X-Forwarded-For": f"192.0.2.{n}"}
        assert attempt(client, "guess", address=ATTACKER, headers=forged).status_code == 401
    # Still counted at the attacker's own address, whatever address it claims.
    assert attempt(client, "guess", address=ATTACKER,
                   headers={"X-Forwarded-For": "192.0.2.99"}).status_code == 429


def test_behind_the_proxy_each_visitor_has_their_own_address(proxied_app):
    client = proxied_app.test_client()
    via_proxy = "127.0.0.1"
    for _ in range(6):
        attempt(client, "guess", address=via_proxy, headers={"X-Forwarded-For": ATTACKER})
    assert attempt(client, "guess", address=via_proxy,
                   headers={"X-Forwarded-For": ATTACKER}).status_code == 429
    assert attempt(client, ADMIN_PASSWORD, address=via_proxy,
                   headers={"X-Forwarded-For": OWNER}).status_code == 302

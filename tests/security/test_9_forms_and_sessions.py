"""Review findings 2, 3 and 6: an expired or missing CSRF token gave Werkzeug's bare
"The CSRF token has expired." page (swapped by HTMX in place of the form) after a page
had been open an hour; FERRY_SESSION_HOURS counted from the last request, so a dashboard
polling every 2 seconds kept a sign-in for ever; every visit to /setup on a fresh box
wrote the setup code to the log again."""
import logging
import time

import itsdangerous.timed
import pytest

import blueprints.auth
from tests.conftest import AuthActions, csrf_token

HOUR = 3600
SENTENCE = "This page was open too long"


def signed_in(app):
    browser = app.test_client()
    assert AuthActions(browser).login().status_code == 302
    return browser


class Clock:
    """Moves forward the time Ferry's sign-in check reads (and with `signatures`, the
    time in Flask-WTF's and Flask's signed tokens and cookies)."""

    def __init__(self, monkeypatch):
        self.offset, self.monkeypatch = 0.0, monkeypatch
        real = time.time
        monkeypatch.setattr(blueprints.auth.time, "time", lambda: real() + self.offset)

    def signatures(self):
        real = time.time
        self.monkeypatch.setattr(itsdangerous.timed.TimestampSigner, "get_timestamp",
                                 lambda signer: int(real() + self.offset))

    def later(self, seconds):
        self.offset += seconds


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch)


# -- 2: a form open too long ----------------------------------------------------------------
def test_a_refused_token_gets_a_ferry_page_with_a_sentence(app):
    browser = signed_in(app)
    response = browser.post("/account/sign-out-everywhere", data={"csrf_token": "stale"},
                            headers={"Referer": "http://localhost/account"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert SENTENCE in page and "reload it" in page
    assert "CSRF token" not in page and "Bad Request" not in page
    assert 'href="/account"' in page                 # back to where the form was
    assert 'aria-label="Main"' in page               # inside Ferry's layout, signed in


def test_htmx_gets_a_fragment_above_the_form_not_in_its_place(app):
    browser = signed_in(app)
    response = browser.post("/settings/general", data={"retention_days": "45"},
                            headers={"HX-Request": "true", "X-CSRFToken": "stale"})
    text = response.get_data(as_text=True)
    assert response.status_code == 400
    assert SENTENCE in text and "<html" not in text and 'role="alert"' in text
    assert response.headers["HX-Reswap"] == "beforebegin"


def test_a_page_left_open_for_hours_still_saves(app, clock):
    browser = signed_in(app)
    token = csrf_token(browser, "/account")
    clock.signatures()
    clock.later(3 * HOUR)            # Flask-WTF's default refused tokens after one hour
    response = browser.post("/account/sign-out-everywhere", data={"csrf_token": token})
    assert response.status_code == 302


# -- 3: a sign-in lasts FERRY_SESSION_HOURS from signing in ---------------------------------
def test_polling_does_not_keep_a_sign_in_alive(app, clock):
    browser = signed_in(app)
    lifetime = app.permanent_session_lifetime.total_seconds()
    while clock.offset < lifetime - 2 * HOUR:
        clock.later(HOUR)
        live = browser.get("/dashboard/live", headers={"HX-Request": "true"})
        assert live.status_code == 200
        assert "Set-Cookie" not in live.headers          # the cookie is not renewed
    # A page that does write to the session (its form's token) an hour before the end.
    assert browser.get("/account").status_code == 200
    clock.later(HOUR + 60)
    assert browser.get("/dashboard/live").status_code == 200
    clock.later(HOUR)                                      # past the sign-in's end
    live = browser.get("/dashboard/live", headers={"HX-Request": "true"})
    assert live.status_code == 401 and live.headers["HX-Redirect"].startswith("/login")
    page = browser.get("/login").get_data(as_text=True)
    assert "as long as a sign-in lasts here. Sign in again" in page
    assert browser.get("/settings/").status_code == 302


def test_a_copied_cookie_ends_with_the_sign_in(app, clock):
    browser = signed_in(app)
    copy = app.test_client()
    copy.set_cookie("session", browser.get_cookie("session").value)
    assert copy.get("/settings/").status_code == 200
    clock.later(app.permanent_session_lifetime.total_seconds() + 1)
    assert copy.get("/settings/").status_code == 302


def test_changing_the_password_does_not_extend_the_sign_in(app, clock):
    from tests.conftest import ADMIN_PASSWORD
    browser = signed_in(app)
    clock.later(app.permanent_session_lifetime.total_seconds() - 60)
    assert browser.post("/account/password", data={
        "csrf_token": csrf_token(browser, "/account"), "current": ADMIN_PASSWORD,
        "password": "another long password", "confirm": "another long password"}
    ).status_code == 302
    clock.later(120)
    assert browser.get("/settings/").status_code == 302


# -- 6: the setup code is logged once -------------------------------------------------------
def test_visiting_setup_again_and_again_logs_the_code_once(database_url, redis_url, caplog):
    from app import create_app
    from models import db
    fresh = create_app({"TESTING": True, "DATABASE_URL": database_url})
    try:
        stranger = fresh.test_client()
        with caplog.at_level(logging.WARNING):
            for _ in range(5):
                assert stranger.get("/setup").status_code == 200
            stranger.post("/setup", data={"csrf_token": csrf_token(stranger, "/setup"),
                                          "setup_code": "GUESS", "email": "x@msp.example",
                                          "password": "long enough pw", "confirm": "long enough pw"})
        assert caplog.text.count("First-run setup code") == 1
    finally:
        if not db.is_closed():
            db.close()
        db.obj.close()

"""Finding 5: a session cookie saved before sign-out still worked for 12 hours, and a
password reset did not end other sessions."""
from blueprints.auth import save_user
from models import db
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, AuthActions, csrf_token

NEW_PASSWORD = "a brand new passphrase"


def signed_in_browser(app):
    browser = app.test_client()
    assert AuthActions(browser).login().status_code == 302
    return browser


def session_cookie(client) -> str:
    return client.get_cookie("session").value


def is_signed_in(client) -> bool:
    return client.get("/settings/").status_code == 200


def test_a_cookie_saved_before_sign_out_no_longer_works(app):
    browser = signed_in_browser(app)
    stolen = session_cookie(browser)
    assert browser.post("/logout", data={"csrf_token": csrf_token(browser, "/account")}
                        ).status_code == 302
    thief = app.test_client()
    thief.set_cookie("session", stolen)
    response = thief.get("/settings/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_changing_the_password_ends_the_other_sessions_at_once(app):
    laptop, phone = signed_in_browser(app), signed_in_browser(app)
    response = laptop.post("/account/password", data={
        "csrf_token": csrf_token(laptop, "/account"), "current": ADMIN_PASSWORD,
        "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302
    assert "Every other browser" in laptop.get("/account").get_data(as_text=True)
    assert is_signed_in(laptop)            # the browser that changed it stays in
    assert not is_signed_in(phone)


def test_a_wrong_current_password_changes_nothing(app):
    laptop, phone = signed_in_browser(app), signed_in_browser(app)
    response = laptop.post("/account/password", data={
        "csrf_token": csrf_token(laptop, "/account"), "current": "not it",
        "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 400
    assert "current password is not right" in response.get_data(as_text=True)
    assert is_signed_in(phone)


def test_a_reset_by_the_administrator_command_ends_every_session(app):
    browser = signed_in_browser(app)
    with app.app_context(), db.connection_context():
        save_user(ADMIN_EMAIL, NEW_PASSWORD)           # what `create-admin` does
    assert not is_signed_in(browser)


def test_sign_out_everywhere_else(app):
    here, lost_laptop = signed_in_browser(app), signed_in_browser(app)
    kept = session_cookie(lost_laptop)
    response = here.post("/account/sign-out-everywhere",
                         data={"csrf_token": csrf_token(here, "/account")})
    assert response.status_code == 302
    assert is_signed_in(here)
    assert not is_signed_in(lost_laptop)
    replay = app.test_client()
    replay.set_cookie("session", kept)
    assert not is_signed_in(replay)

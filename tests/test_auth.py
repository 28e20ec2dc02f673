"""Signing in, the first-run screen, and that every page but a few needs a login."""
import re

import pytest

from blueprints.auth import setup_code
from models import db
from tests.conftest import ADMIN_EMAIL, csrf_token

# The only views a stranger may reach (/metrics answers its token or this machine only:
# tests/production/test_metrics.py).
PUBLIC_ENDPOINTS = {"auth.login", "auth.setup", "health.healthz", "health.readyz", "static",
                    "settings.xero_callback", "metrics.metrics", "webhooks.xero",
                    "webhooks.connectwise",
                    # A one-time invitation or password link (blueprints/people.py).
                    "people.welcome"}


def _concrete(rule) -> str:
    # "1" satisfies every converter Ferry uses (int, string, path).
    return re.sub(r"<[^>]+>", "1", rule.rule)


def test_every_route_but_the_public_ones_requires_login(app, client):
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(_concrete(rule), method=method)
            if method == "GET":
                assert response.status_code == 302, rule.rule
                assert response.headers["Location"].startswith("/login"), rule.rule
            else:
                # A state change without a session is refused: by CSRF or by the login rule.
                assert response.status_code in (302, 400), (method, rule.rule)
            checked += 1
    assert checked >= 8


def test_public_endpoints_are_only_the_expected_ones(app):
    public = {name for name, view in app.view_functions.items()
              if getattr(view, "ferry_public", False)} | {"static"}
    assert public <= PUBLIC_ENDPOINTS


def sign_out(client):
    token = csrf_token(client, "/settings/")
    return client.post("/logout", data={"csrf_token": token})


def test_login_then_pages_then_logout(client, auth):
    response = auth.login()
    assert response.status_code == 302 and response.headers["Location"] == "/"
    # An unconnected Ferry's dashboard opens the guided setup; the pages all answer.
    page = client.get("/", follow_redirects=True).get_data(as_text=True)
    assert ADMIN_EMAIL in page
    for path in ("/records/", "/mappings/", "/audit/", "/exceptions/", "/settings/"):
        assert client.get(path).status_code == 200, path
    sign_out(client)
    assert client.get("/settings/").status_code == 302


def test_wrong_password_is_refused_with_a_sentence(client, auth):
    response = auth.login(password="not the password")
    assert response.status_code == 401
    assert "do not match an account" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_login_is_throttled_after_repeated_failures(client, auth):
    for _ in range(5):
        assert auth.login(password="wrong guess").status_code == 401
    # Even the right password waits out the lock.
    response = auth.login()
    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.get_data(as_text=True)


def test_login_redirects_back_but_never_off_site(client, auth):
    token = csrf_token(client)
    response = client.post("/login?next=/audit/", data={
        "email": ADMIN_EMAIL, "password": "correct horse battery", "csrf_token": token})
    assert response.headers["Location"] == "/audit/"
    sign_out(client)
    token = csrf_token(client)
    response = client.post("/login?next=//evil.example/", data={
        "email": ADMIN_EMAIL, "password": "correct horse battery", "csrf_token": token})
    assert response.headers["Location"] == "/"


def test_post_without_csrf_token_is_rejected(client, auth):
    auth.login()
    response = client.post("/logout")
    assert response.status_code == 400
    assert client.get("/settings/").status_code == 200  # still signed in


def test_htmx_request_may_send_the_token_as_a_header(client, auth):
    auth.login()
    token = csrf_token(client, "/settings/")
    response = client.post("/logout", headers={"X-CSRFToken": token, "HX-Request": "true"})
    assert response.status_code == 302


def test_htmx_request_without_session_asks_for_a_full_page_login(client):
    response = client.get("/dashboard/health", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/login")


def test_security_headers_and_cookie_flags(client, auth):
    response = auth.login()
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    page = client.get("/")
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "default-src 'self'" in csp
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["X-Content-Type-Options"] == "nosniff"


def test_secure_cookie_when_served_over_https(database_url, redis_url):
    from app import create_app
    app = create_app({"TESTING": True, "DATABASE_URL": database_url,
                      "SESSION_COOKIE_SECURE": True})
    assert app.config["SESSION_COOKIE_SECURE"] is True


@pytest.fixture
def empty_app(database_url, redis_url):
    from app import create_app
    return create_app({"TESTING": True, "DATABASE_URL": database_url})


def test_first_run_screen_creates_the_administrator(empty_app):
    client = empty_app.test_client()
    assert client.get("/login").headers["Location"] == "/setup"
    token = csrf_token(client, "/setup")
    with empty_app.app_context(), db.connection_context():
        code = setup_code()         # what the server's log shows
    short = client.post("/setup", data={"email": "boss@msp.example", "password": "short",
                                        "confirm": "short", "csrf_token": token,
                                        "setup_code": code})
    assert short.status_code == 400
    assert "at least 10 characters" in short.get_data(as_text=True)
    done = client.post("/setup", data={"email": "boss@msp.example",
                                       "password": "a long enough secret",
                                       "confirm": "a long enough secret",
                                       "csrf_token": token, "setup_code": code})
    assert done.headers["Location"] == "/login"
    # The screen closes once someone exists.
    assert client.get("/setup").headers["Location"] == "/login"
    token = csrf_token(client, "/login")
    signed_in = client.post("/login", data={"email": "boss@msp.example",
                                            "password": "a long enough secret",
                                            "csrf_token": token})
    assert signed_in.headers["Location"] == "/"


def test_create_admin_command(empty_app):
    runner = empty_app.test_cli_runner()
    result = runner.invoke(args=["create-admin", "--email", "ops@msp.example",
                                 "--password", "another long secret"])
    assert result.exit_code == 0, result.output
    assert "Created ops@msp.example" in result.output
    result = runner.invoke(args=["create-admin", "--email", "ops@msp.example",
                                 "--password", "tiny"])
    assert result.exit_code != 0 and "at least 10 characters" in result.output


@pytest.mark.parametrize("typed", ["{plain}", "{lower}", "{spaced}", " {dashed} "])
def test_setup_code_is_accepted_with_or_without_dashes_spaces_and_capitals(empty_app, typed):
    """The log shows ABCD-EFGH-…; a person types it as they read it: without the dashes,
    in small letters, in groups with spaces."""
    client = empty_app.test_client()
    token = csrf_token(client, "/setup")
    with empty_app.app_context(), db.connection_context():
        code = setup_code()
    plain = code.replace("-", "")
    typed = typed.format(plain=plain, lower=plain.lower(), dashed=code,
                         spaced=" ".join(code.split("-")).lower())
    done = client.post("/setup", data={"email": "boss@msp.example",
                                       "password": "a long enough secret",
                                       "confirm": "a long enough secret",
                                       "csrf_token": token, "setup_code": typed})
    assert done.status_code == 302 and done.headers["Location"] == "/login", \
        done.get_data(as_text=True)[:2000]


def test_a_wrong_setup_code_is_still_refused_however_it_is_written(empty_app):
    client = empty_app.test_client()
    token = csrf_token(client, "/setup")
    with empty_app.app_context(), db.connection_context():
        code = setup_code()
    wrong = code.replace("-", "")[:-1] + ("A" if code[-1] != "A" else "B")
    refused = client.post("/setup", data={"email": "boss@msp.example",
                                          "password": "a long enough secret",
                                          "confirm": "a long enough secret",
                                          "csrf_token": token, "setup_code": wrong})
    assert refused.status_code == 403
    assert "not the one Ferry printed" in refused.get_data(as_text=True)

"""Review finding 1: text no database column can hold (an e-mail longer than 255
characters, a NUL character) gave a 500 on PostgreSQL at the unauthenticated sign-in
and on the records search. Each now gets the page's own sentence, on both databases."""
from models import LoginFailure, User, db
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, csrf_token

LONG_EMAIL = "a" * 250 + "@msp.example"


def sign_in(client, email, password="not the password"):
    return client.post("/login", data={"email": email, "password": password,
                                       "csrf_token": csrf_token(client)})


def test_an_overlong_or_nul_email_gets_the_usual_wrong_email_answer(client, app):
    for email in (LONG_EMAIL, ADMIN_EMAIL + "\x00", "x" * 5000):
        response = sign_in(client, email)
        assert response.status_code == 401, email[:30]
        assert "That email and password do not match an account." in response.get_data(
            as_text=True)
    # Even with the right password: an e-mail with a NUL in it is not the account's.
    assert sign_in(client, ADMIN_EMAIL + "\x00", ADMIN_PASSWORD).status_code == 401
    with app.app_context(), db.connection_context():
        assert LoginFailure.select().count() == 4       # each failure still counted


def test_overlong_emails_are_throttled_like_any_other(client):
    for _ in range(5):
        assert sign_in(client, LONG_EMAIL).status_code == 401
    assert sign_in(client, LONG_EMAIL).status_code == 429
    assert sign_in(client, ADMIN_EMAIL, ADMIN_PASSWORD).status_code == 302


def test_the_first_run_screen_refuses_an_email_no_account_can_have(database_url,
                                                                    redis_url, caplog):
    import logging
    import re

    from app import create_app
    fresh = create_app({"TESTING": True, "DATABASE_URL": database_url})
    try:
        client = fresh.test_client()
        with caplog.at_level(logging.WARNING):
            client.get("/setup")
        code = re.search(r"First-run setup code: ([A-Z0-9-]+)", caplog.text).group(1)
        for email in (LONG_EMAIL, "first@msp.example\x00"):
            response = client.post("/setup", data={
                "csrf_token": csrf_token(client, "/setup"), "setup_code": code,
                "email": email, "password": "the first password",
                "confirm": "the first password"})
            assert response.status_code == 400
            assert "Enter the email address you will sign in with." in response.get_data(
                as_text=True)
        with fresh.app_context(), db.connection_context():
            assert User.select().count() == 0
    finally:
        if not db.is_closed():
            db.close()
        db.obj.close()


def test_a_records_search_with_a_nul_gets_a_sentence(client, auth):
    auth.login()
    for query in ("q=a%00b", "party=Baross%00a", "currency=AU%00D", "q=" + "1" * 300):
        page = client.get("/records/?" + query)
        assert page.status_code == 422, query
        assert "Type the text again" in page.get_data(as_text=True) or \
            "shorter part" in page.get_data(as_text=True)
        fragment = client.get("/records/?" + query, headers={"HX-Request": "true"})
        assert fragment.status_code == 422
        assert "<html" not in fragment.get_data(as_text=True)
        assert 'role="alert"' in fragment.get_data(as_text=True)
    # The other filters still apply and an ordinary search still works.
    assert client.get("/records/?q=100&state=synced").status_code == 200


def test_a_nul_on_the_exceptions_and_mappings_pages_is_a_sentence(client, auth, app):
    """Their filters and forms pass what was typed straight to a query: a NUL was a 500
    on PostgreSQL (second review)."""
    from models import Connection
    with app.app_context(), db.connection_context():
        org = Connection.create(kind="xero", name="Adelaide IT Services Pty Ltd",
                                tenant_id="a")
    auth.login()
    for url in ("/exceptions/?kind=account&value=a%00b", "/exceptions/?kind=%00",
                f"/mappings/org/{org.id}/accounts?q=a%00b",
                f"/mappings/org/{org.id}/taxes?q=a%00b"):
        page = client.get(url)
        assert page.status_code == 422, url
        assert "invisible character (NUL)" in page.get_data(as_text=True)
        fragment = client.get(url, headers={"HX-Request": "true"})
        assert fragment.status_code == 422 and "<html" not in fragment.get_data(as_text=True)
        assert fragment.headers["HX-Reswap"] == "beforebegin"
    posted = client.post(f"/mappings/org/{org.id}/accounts/new",
                         data={"cw_gl_account": "4000\x00", "xero_account_code": "200",
                               "csrf_token": csrf_token(client, "/mappings/")},
                         headers={"HX-Request": "true"})
    assert posted.status_code == 422 and "Type the text again" in posted.get_data(as_text=True)
    assert client.get("/exceptions/?kind=account").status_code == 200


def test_a_poll_after_the_sign_in_ended_returns_to_the_page_not_the_fragment(client):
    """The dashboard polls /dashboard/live; once the sign-in has ended, signing in again
    comes back to the page the person was on."""
    answer = client.get("/dashboard/live", headers={
        "HX-Request": "true", "HX-Current-URL": "http://localhost/audit/?q=1377"})
    assert answer.status_code == 401
    assert answer.headers["HX-Redirect"] == "/login?next=/audit/?q%3D1377"
    elsewhere = client.get("/dashboard/live", headers={
        "HX-Request": "true", "HX-Current-URL": "https://evil.example/x"})
    assert elsewhere.headers["HX-Redirect"] == "/login"

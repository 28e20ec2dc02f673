"""Finding 1: `next` after sign-in could send the user to another site
(`/%09/evil.example` became `//evil.example` once the tab was dropped) or, with a
newline, answer 500."""
from urllib.parse import urlsplit

import pytest

from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, csrf_token

ATTACKS = [
    "/\t/evil.example", "/\n/evil.example", "/\r\n/evil.example", "/\\evil.example",
    "\\\\evil.example", "/\\/evil.example", "//evil.example", "///evil.example",
    "https://evil.example/", "javascript:alert(1)", "/ /evil.example", "/\x00/evil.example",
    "evil.example", "/%09/evil.example\t",
]


def sign_in(client, next_value):
    return client.post("/login", query_string={"next": next_value}, data={
        "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "csrf_token": csrf_token(client)})


@pytest.mark.parametrize("target", ATTACKS)
def test_next_never_leaves_the_site_and_never_fails(client, target):
    response = sign_in(client, target)
    assert response.status_code == 302, target
    location = response.headers["Location"]
    # What a browser would make of it: the same site, the dashboard.
    cleaned = location.replace("\t", "").replace("\n", "").replace("\r", "").replace("\\", "/")
    assert not urlsplit(cleaned).netloc and not urlsplit(cleaned).scheme, location
    assert location == "/", (target, location)


def test_a_page_on_this_site_is_still_where_sign_in_returns(client):
    assert sign_in(client, "/audit/?q=invoice:12").headers["Location"] == "/audit/?q=invoice:12"


def test_the_login_page_itself_never_fails_on_a_strange_next(client):
    for target in ATTACKS:
        assert client.get("/login", query_string={"next": target}).status_code == 200

"""Issue 20, item 4 (finding 3): the sign-in throttle was read before the password was
checked and written after, so 100 parallel POST /login from one address had 67 guesses
checked (limits: 5 per e-mail, 50 per address) and the right one accepted. An attempt is
now counted before its password is checked, so parallel ones see each other."""
import re
import threading

import pytest
import requests

from models import LoginFailure, db
from sandbox.kit import serve_in_thread
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD

PARALLEL = 30


@pytest.fixture
def live(app):
    server = serve_in_thread(app)
    yield server
    server.stop()


def _storm(live, attempts: list[tuple[str, str]]) -> list[int]:
    """Every (e-mail, password) posted at the same moment, each on its own connection,
    all with one browser's cookie and CSRF token. Their statuses, in order."""
    with requests.Session() as browser:
        page = browser.get(live.url + "/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        cookies = browser.cookies.get_dict()
    statuses: list[int] = [0] * len(attempts)
    start = threading.Barrier(len(attempts))

    def one(n, email, password):
        start.wait()
        answer = requests.post(live.url + "/login", cookies=cookies, allow_redirects=False,
                               data={"csrf_token": token, "email": email,
                                     "password": password}, timeout=60)
        statuses[n] = answer.status_code
    threads = [threading.Thread(target=one, args=(n, *pair)) for n, pair in enumerate(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def test_parallel_guesses_at_one_account_are_counted_before_checking(app, live):
    statuses = _storm(live, [(ADMIN_EMAIL, f"guess number {n}") for n in range(PARALLEL)])
    checked = statuses.count(401)
    assert checked <= app.config["LOGIN_MAX_FAILURES"], statuses
    assert statuses.count(429) == PARALLEL - checked, statuses
    # Refused attempts are not failures of their own; checked ones are.
    with app.app_context(), db.connection_context():
        assert LoginFailure.select().count() == checked


def test_parallel_guesses_at_many_accounts_stop_at_the_address_limit(app, live):
    app.config["LOGIN_ADDRESS_LIMIT"] = 8
    statuses = _storm(live, [(f"user{n}@msp.example", "guess") for n in range(PARALLEL)])
    assert statuses.count(401) <= 8, statuses
    assert statuses.count(429) == PARALLEL - statuses.count(401)


def test_the_right_password_among_a_storm_of_guesses_is_checked_at_most_once_each(app, live):
    """The owner's right password is still accepted when it comes alone afterwards from
    another address; within the storm, at most the free tries were checked."""
    attempts = [(ADMIN_EMAIL, f"guess {n}") for n in range(PARALLEL - 1)]
    attempts.append((ADMIN_EMAIL, ADMIN_PASSWORD))
    statuses = _storm(live, attempts)
    assert statuses.count(401) + statuses.count(302) <= app.config["LOGIN_MAX_FAILURES"]

"""Finding 4: the sign-in's timing told which e-mails have accounts (178 ms for a known
e-mail with a wrong password, 9.5 ms for an unknown one): the unknown one skipped the
password hash."""
import statistics
import time

from tests.conftest import ADMIN_EMAIL, csrf_token


def _median_failure_ms(client, email: str, first_octet: int) -> float:
    token = csrf_token(client)
    times = []
    for n in range(5):
        started = time.perf_counter()
        response = client.post("/login", data={
            "email": email, "password": "a wrong guess", "csrf_token": token},
            environ_base={"REMOTE_ADDR": f"10.{first_octet}.0.{n}"})   # no throttling
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 401
    return statistics.median(times)


def test_an_unknown_email_costs_as_long_as_a_wrong_password(client):
    _median_failure_ms(client, ADMIN_EMAIL, 1)          # warm up
    known = _median_failure_ms(client, ADMIN_EMAIL, 2)
    unknown = _median_failure_ms(client, "nobody@msp.example", 3)
    # Before the fix the ratio was about 19; a password hash on both paths makes it ~1.
    assert unknown > known / 2 and known > unknown / 2, (known, unknown)

"""The per-tenant governor: 5 at once, 60 a minute, Retry-After shared, day limit stops."""
import threading
import time

import httpx2
import pytest

from connectors.audit import ListSink
from connectors.transport import RetryPolicy
from connectors.xero import open_client
from connectors.xero_governor import DayLimitReached, Governor
from connectors.xero_oauth import TokenKeeper
from models import Connection
from tests.connectors_xero.conftest import REDIS_PREFIX
from tests.connectors_xero.helpers import FakeTime

TENANT = "tenant-under-test"


def governed_client(xero_app, redis_client, fake=None, **governor_options):
    connection = Connection.select().where(Connection.kind == "xero").first()
    extra = {"clock": fake.clock, "sleep": fake.sleep} if fake else {}
    governor = Governor(redis_client, prefix=REDIS_PREFIX, **extra, **governor_options)
    client = open_client(xero_app, connection, sink=ListSink(), governor=governor,
                         tokens=TokenKeeper(xero_app, redis=redis_client),
                         retry=RetryPolicy(base_delay=0.01),
                         sleep=fake.sleep if fake else None)
    return client, governor


@pytest.mark.parametrize("shared", ["redis", "in-process"])
def test_never_more_than_five_calls_at_once(redis_client, shared):
    client = redis_client if shared == "redis" else None
    # With Redis, separate instances stand for separate processes (they share only Redis).
    governors = [Governor(client, prefix=REDIS_PREFIX + ":five")
                 for _ in range(3 if client is not None else 1)]
    in_flight, peak, guard = [0], [0], threading.Lock()

    def work(governor):
        with governor.call(TENANT):
            with guard:
                in_flight[0] += 1
                peak[0] = max(peak[0], in_flight[0])
            time.sleep(0.05)
            with guard:
                in_flight[0] -= 1

    threads = [threading.Thread(target=work, args=(governors[i % len(governors)],))
               for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert peak[0] == 5
    if client is not None:
        assert client.zcard(f"{REDIS_PREFIX}:five:{TENANT}:slots") == 0


def test_twelve_threads_against_xero_get_no_429(sandbox, xero_app, grant, redis_client):
    sandbox.fault(kind="slow", path="/api.xro/2.0/Organisation", delay=0.1)
    client, _ = governed_client(xero_app, redis_client)
    names = []
    threads = [threading.Thread(target=lambda: names.append(client.organisation()["Name"]))
               for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert len(names) == 12
    statuses = [e["status"] for e in sandbox.journal(path="/api.xro/2.0/Organisation")]
    assert statuses == [200] * 12


def test_the_sixty_first_call_in_a_minute_waits_instead_of_being_refused(
        sandbox, xero_app, grant, redis_client):
    fake = FakeTime(sandbox)
    client, _ = governed_client(xero_app, redis_client, fake)
    for _ in range(65):
        client.currencies()
    statuses = [e["status"] for e in sandbox.journal(path="/api.xro/2.0/Currencies")]
    assert statuses == [200] * 65
    assert 59 < sum(fake.slept) <= 61


def test_a_minute_429_waits_retry_after_for_every_process(
        sandbox, xero_app, grant, redis_client):
    fake = FakeTime()
    sandbox.fault(kind="429-minute", path="/api.xro/2.0/Organisation", nth=1)
    client, governor = governed_client(xero_app, redis_client, fake)
    assert client.organisation()["Name"]
    assert [e["status"] for e in sandbox.journal(path="/api.xro/2.0/Organisation")] == [429, 200]
    assert 60 in fake.slept

    # Another process's governor, told of a 429 for this tenant, holds back as well.
    other_fake = FakeTime()
    other = Governor(redis_client, prefix=REDIS_PREFIX, clock=other_fake.clock,
                     sleep=other_fake.sleep)
    other.observe(TENANT, httpx2.Response(429, headers={
        "Retry-After": "30", "X-Rate-Limit-Problem": "minute"}))
    third = Governor(redis_client, prefix=REDIS_PREFIX, clock=other_fake.clock,
                     sleep=other_fake.sleep)
    with third.call(TENANT):
        pass
    assert sum(other_fake.slept) == pytest.approx(30, abs=0.01)


def test_the_day_limit_stops_the_organisation_and_shows_what_is_left(
        sandbox, xero_app, grant, redis_client):
    client, governor = governed_client(xero_app, redis_client)
    client.organisation()
    answered = sandbox.journal(path="/api.xro/2.0/Organisation")[-1]
    assert governor.remaining_today(client.tenant_id) == int(
        answered["response_headers"]["X-DayLimit-Remaining"])

    sandbox.fault(kind="429-day", path="/api.xro/2.0/*")
    with pytest.raises(DayLimitReached, match="used all of today's API calls"):
        client.accounts()
    with pytest.raises(DayLimitReached):
        client.tax_rates()          # stopped here: Xero is not asked again
    assert sandbox.journal(path="/api.xro/2.0/TaxRates") == []
    assert governor.remaining_today(client.tenant_id) == 0

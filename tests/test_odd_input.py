"""Issue 20, item 4 (1): odd input was a 500. A page number of 10**20 (PostgreSQL's
OFFSET is a bigint), a "to" date of 9999-12-31 (the day after it is no date; the CSV
export had already answered 200), a job id that is not a force-sync's, a 300-character
timezone, a path id of 2**63 or more (SQLite's integers stop below it). Each now gets a
sentence (4xx) or an empty, clamped answer, on both databases. The sweep at the end
sends odd values to every route."""
import re

import pytest

from models import Connection, SyncRecord, db
from tests.conftest import csrf_token

HX = {"HX-Request": "true"}
HUGE = [str(2 ** 63), str(2 ** 64), "1" + "0" * 20, "9" * 40]


def _org(app) -> int:
    with app.app_context(), db.connection_context():
        return Connection.create(kind="xero", name="Adelaide IT Services Pty Ltd",
                                 tenant_id="a").id


@pytest.mark.parametrize("page", HUGE + ["-5", "0", "abc", "²", ""])
def test_a_huge_or_odd_page_number_is_an_empty_page_not_an_error(client, auth, page):
    auth.login()
    for path in ("/records/", "/audit/", "/outbox/", "/exceptions/"):
        for headers in ({}, HX):
            answer = client.get(f"{path}?page={page}", headers=headers)
            assert answer.status_code in (200, 422), (path, page, answer.status_code)


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])
def test_the_first_and_last_day_there_is_are_searchable(client, auth, app, day):
    auth.login()
    for path in ("/audit/", "/records/"):
        for field in ("from", "to"):
            answer = client.get(f"{path}?{field}={day}")
            assert answer.status_code == 200, (path, field, day)
    export = client.get(f"/audit/export.csv?to={day}")
    assert export.status_code == 200
    body = export.get_data(as_text=True)       # the whole stream, not cut off
    assert body.startswith("time (UTC),api,method")
    live = client.get(f"/audit/live?to={day}&after=1", headers=HX)
    assert live.status_code == 200


def test_a_job_that_is_not_a_sync_is_not_found(client, auth, app):
    from jobs.queue import get_redis
    from jobs.schedule import register_schedule
    with app.app_context():
        register_schedule(get_redis())      # ferry-outbox and the cycles' jobs exist
    auth.login()
    for job_id in ("ferry-outbox", "no-such-job", "x" * 300):
        answer = client.get(f"/runs/job/{job_id}")
        assert answer.status_code == 404, job_id
        assert client.get(f"/runs/job/{job_id}", headers=HX).status_code == 404


def test_a_300_character_timezone_gets_the_timezone_sentence(client, auth):
    auth.login()
    token = csrf_token(client, "/settings/")
    for zone in ("A" * 300, "Australia/" + "x" * 300, "../../etc/passwd", "UTC\x00"):
        answer = client.post("/settings/alerts", headers=HX, data={
            "csrf_token": token, "timezone": zone, "digest_time": "07:30",
            "failures_in_a_row": "3"})
        assert answer.status_code == 422, zone[:20]
        assert "is not a timezone Ferry knows" in answer.get_data(as_text=True)


@pytest.mark.parametrize("number", HUGE)
def test_a_path_id_beyond_any_id_is_not_found(client, auth, app, number):
    org = _org(app)
    auth.login()
    for path in (f"/records/{number}", f"/audit/{number}", f"/runs/{number}",
                 f"/outbox/{number}", f"/exceptions/{number}/dismiss",
                 f"/mappings/org/{number}/accounts",
                 f"/mappings/org/{org}/accounts/{number}/edit",
                 f"/mappings/routing/{number}/edit", f"/setup/{number}"):
        # 405 where only a POST has that path: werkzeug names the method first.
        assert client.get(path).status_code in (404, 405), path


# -- the sweep ---------------------------------------------------------------------------
ODD_VALUES = ["", "0", "-1", "²", "abc", "1.5", str(2 ** 63), "1" + "0" * 20,
              "9999-12-31", "0001-01-01", "x" * 300, "a\x00b"]
# Every query-string name a page reads (grep request.args in blueprints/).
QUERY_NAMES = ["page", "after", "from", "to", "org", "run", "status", "edit", "fixed",
               "dismiss", "q", "type", "state", "sort", "min", "max", "new", "kind",
               "record", "paused", "customer", "method", "outcome", "api", "party",
               "currency", "xero_status", "due", "next", "tab", "open", "records"]
SKIP_GET = {"static", "auth.setup", "settings.xero_callback", "health.readyz",
            "metrics.metrics"}


def _path(rule, value: str, org: int) -> str | None:
    """The rule's URL with each int argument set to `value` (None: the rule has
    another kind of argument to fill)."""
    path = rule.rule
    for name in rule.arguments:
        converter = rule._converters[name].__class__.__name__
        if name == "kind":
            path = path.replace(f"<{name}>", "accounts")
        elif name == "job_id":
            path = path.replace(f"<{name}>", value or "x")
        elif "Integer" in converter or "Id" in converter:
            path = re.sub(rf"<[a-z]+:{name}>", str(org) if name == "org_id" else (value or "1"),
                          path)
        else:
            return None
    return path


def _sweep_org(app) -> int:
    with app.app_context(), db.connection_context():
        org = Connection.create(kind="xero", name="Adelaide IT Services Pty Ltd",
                                tenant_id="a")
        SyncRecord.create(record_type="invoice", cw_id=1, cw_number="10041", state="synced",
                          org=org)
        return org.id


def _names_read(app, endpoint: str) -> list[str]:
    """The query-string names the view's module mentions (as "name")."""
    import inspect
    import sys
    source = inspect.getsource(sys.modules[app.view_functions[endpoint].__module__])
    return [n for n in QUERY_NAMES if f'"{n}"' in source]


def test_every_page_answers_odd_query_values_without_a_server_error(client, auth, app):
    org = _sweep_org(app)
    auth.login()
    app.config["PROPAGATE_EXCEPTIONS"] = False      # a 500 is counted, not raised
    from urllib.parse import quote
    failures = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in SKIP_GET:
            continue
        path = _path(rule, "1", org)
        if path is None:
            continue
        names = _names_read(app, rule.endpoint)
        for value in ODD_VALUES:
            urls = [f"{path}?{name}={quote(value)}" for name in names]
            urls.append(f"{path}?" + "&".join(f"{n}={quote(value)}" for n in names))
            for url in urls:
                for headers in ({}, HX) if url is urls[-1] else ({},):
                    answer = client.get(url, headers=headers)
                    answer.get_data()          # a stream fails only once read
                    if answer.status_code >= 500:
                        failures.append(f"{url} {headers} -> {answer.status_code}")
    assert not failures, "\n".join(failures[:40])


def test_every_route_answers_odd_path_ids_without_a_server_error(client, auth, app):
    org = _sweep_org(app)
    auth.login()
    token = csrf_token(client, "/settings/")
    app.config["PROPAGATE_EXCEPTIONS"] = False
    failures = []
    for rule in app.url_map.iter_rules():
        if not rule.arguments or rule.endpoint in SKIP_GET:
            continue
        for value in ODD_VALUES[:9]:
            path = _path(rule, value, org)
            if path is None:
                continue
            for method in sorted(rule.methods & {"GET", "POST"}):
                if method == "GET":
                    answer = client.get(path)
                else:
                    answer = client.post(path, data={"csrf_token": token, "ids": value,
                                                     "org": value, "confirmed": "1"})
                answer.get_data()
                if answer.status_code >= 500:
                    failures.append(f"{method} {path} -> {answer.status_code}")
    assert not failures, "\n".join(failures[:40])


def test_forms_with_odd_numbers_get_an_answer_not_a_server_error(client, auth, app):
    org = _sweep_org(app)
    auth.login()
    token = csrf_token(client, "/settings/")
    app.config["PROPAGATE_EXCEPTIONS"] = False
    failures = []
    for value in ODD_VALUES[:9]:
        for path, data in (
                (f"/mappings/org/{org}/accounts/bulk", {"ids": value, "action": "delete",
                                                        "confirmed": "1"}),
                (f"/mappings/org/{org}/accounts/bulk", {"ids": value, "bulk_value": "200"}),
                ("/mappings/routing/new", {"field": "location", "value": "1", "org": value}),
                ("/mappings/import", {"org": value, "kind": "accounts"}),
                ("/runs/force", {"record": f"invoice:{value}"}),
                ("/runs/force", {"record": f"payment:-{value}"}),
                ("/settings/general", {"retention_days": value}),
                ("/settings/sync", {"interval_invoice": value}),
                ("/settings/alerts", {"failures_in_a_row": value, "timezone": value})):
            for headers in ({}, HX):
                answer = client.post(path, headers=headers,
                                     data={"csrf_token": token, **data})
                answer.get_data()
                if answer.status_code >= 500:
                    failures.append(f"POST {path} {data} {headers} -> {answer.status_code}")
        for query in (f"record=invoice:{value}",):
            answer = client.get(f"/force-sync?{query}")
            if answer.status_code >= 500:
                failures.append(f"GET /force-sync?{query} -> {answer.status_code}")
    assert not failures, "\n".join(failures[:40])

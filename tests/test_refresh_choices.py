"""Issue 20, item 4 (4): "Refresh choices" read every list inside the request: pressed
often it waited on Xero's per-minute limit (15 s, then gunicorn killed the worker) and
wrote while the worker's cycles wrote (SQLite: "database is locked"). The button now
queues one RQ job; the page says it is reading and polls; a press while one runs, or
moments after one ended, says so and when to press again."""
from jobs import choices
from jobs.queue import get_queue, get_redis
from models import AuditEntry, ChoiceList, db
from tests.conftest import csrf_token
from tests.test_mappings_page import _orgs

HX = {"HX-Request": "true"}


def _queued_ids(app):
    with app.app_context():
        return get_queue().job_ids


def test_a_press_queues_one_job_and_calls_no_api_in_the_request(app, client, auth):
    org, _ = _orgs(app)
    auth.login()
    token = csrf_token(client, f"/mappings/org/{org}/accounts")
    with app.app_context(), db.connection_context():
        before = ChoiceList.select().count(), AuditEntry.select().count()
    answers = [client.post("/mappings/refresh", data={
        "csrf_token": token, "next": f"/mappings/org/{org}/accounts"}) for _ in range(10)]
    assert [a.status_code for a in answers] == [302] * 10
    assert _queued_ids(app) == [choices.REFRESH_JOB_ID]        # one job, not ten
    with app.app_context(), db.connection_context():
        assert (ChoiceList.select().count(), AuditEntry.select().count()) == before
    page = client.get(f"/mappings/org/{org}/accounts").get_data(as_text=True)
    assert "Ferry is reading the choices again" in page
    assert "already reading the choices again" in page
    assert 'hx-get="/mappings/refresh/status"' in page
    still = client.get("/mappings/refresh/status", headers=HX)
    assert still.status_code == 200 and "Reading the choices again" in still.get_data(
        as_text=True)


def test_when_the_job_is_done_the_page_reloads_and_says_what_was_read(app, client, auth):
    org, _ = _orgs(app)
    auth.login()
    token = csrf_token(client, f"/mappings/org/{org}/accounts")
    client.post("/mappings/refresh", data={"csrf_token": token})
    with app.app_context(), db.connection_context():
        job = get_queue().fetch_job(choices.REFRESH_JOB_ID)
        # What the worker runs (here without the fork): ConnectWise is not connected.
        problems = choices._refresh_all_and_note()
        job.delete()
    assert problems
    done = client.get("/mappings/refresh/status", headers=HX)
    assert done.status_code == 286 and done.headers["HX-Refresh"] == "true"
    page = client.get(f"/mappings/org/{org}/accounts").get_data(as_text=True)
    assert "Choices read again from ConnectWise and Xero." in page
    assert 'hx-get="/mappings/refresh/status"' not in page
    # Moments later another press says when to press again, and queues nothing.
    again = client.post("/mappings/refresh", data={"csrf_token": token},
                        follow_redirects=True).get_data(as_text=True)
    assert "press Refresh choices again in" in again
    assert _queued_ids(app) == []


def test_redis_down_gets_a_sentence(app, client, auth, monkeypatch):
    _orgs(app)
    auth.login()
    token = csrf_token(client, "/mappings/")
    from jobs import queue

    def down(*a, **k):
        raise queue.RedisUnavailable("down")
    monkeypatch.setattr("blueprints.mappings.tables.get_redis", down)
    answer = client.post("/mappings/refresh", data={"csrf_token": token},
                         follow_redirects=True)
    assert answer.status_code == 200
    assert "queue (Redis) is not answering" in answer.get_data(as_text=True)
    with app.app_context():
        assert get_redis() is not None

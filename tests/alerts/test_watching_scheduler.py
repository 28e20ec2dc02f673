"""The scheduler process watches too: with no worker alive, its own pass reports the
worker gone and sends the mail itself (no worker would ever send it), but not in its
first minute, when a worker started with it has not reported yet."""
import jobs.context
from jobs.queue import get_redis
from jobs.scheduler import FerryScheduler
from jobs.worker import STALE_SECONDS
from models import AlertIncident, OutboxMail

from .conftest import inside


def test_the_scheduler_reports_a_missing_worker_and_sends_it(app, smtp, database_url,
                                                             monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("FERRY_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("FERRY_SMTP_PORT", str(smtp.port))
    monkeypatch.setenv("FERRY_SMTP_STARTTLS", "0")
    monkeypatch.setattr(jobs.context, "_app", None)      # the process builds its own app
    scheduler = FerryScheduler(get_redis(), interval=60)
    scheduler.beat()                                      # as run() does
    scheduler.enqueue_jobs()
    # Just started: a worker started alongside has had no time to report. No alarm.
    assert smtp.inbox.messages == []
    with inside(app):
        assert AlertIncident.select().count() == 0
    scheduler._last_watch -= STALE_SECONDS                # as if a minute went by
    scheduler.enqueue_jobs()
    assert [m["Subject"].strip() for m in smtp.inbox.messages] == [
        "Ferry needs attention: Ferry's worker has not been seen"]
    scheduler.enqueue_jobs()                              # within 5 minutes: no second pass
    assert len(smtp.inbox.messages) == 1
    with inside(app):
        assert [i.key for i in AlertIncident.select()] == ["worker"]
        assert OutboxMail.get().status == "sent"
    scheduler.register_death()

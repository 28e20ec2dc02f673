"""What /metrics says, computed when Prometheus asks: from the database (cycles, records,
exceptions, the outbox) and Redis (API calls and 429s, Xero's calls left, the queue), so
every gunicorn worker answers the same whatever process did the work.

API calls are counted as the audit trail writes them (`count_calls`, called by
jobs/audit.py's sink for every call any process makes): Redis keeps the running totals,
which only go up (a Redis that loses its data starts them again, which Prometheus reads
as a counter reset). The audit table itself is trimmed nightly, so counting its rows
would go down.
"""
from __future__ import annotations

import logging
from collections import Counter

from peewee import fn
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from models import Connection, OutboxMail, SyncRecord, SyncRun

log = logging.getLogger("ferry.metrics")

CALLS_KEY = "ferry:metrics:api_calls"           # hash: api -> calls
THROTTLED_KEY = "ferry:metrics:api_throttled"   # hash: api -> 429 answers
# Every record type a cycle runs for: each shows (as 0) before its first cycle.
TYPES = ("invoice", "credit_note", "bill", "payment")


def count_calls(rows: list[dict]) -> None:
    """Add a batch of audit rows (each with its `api` and `status`) to the totals. Best
    effort: a Redis that does not answer loses the count, never the call or its row."""
    calls = Counter(row["api"] for row in rows)
    throttled = Counter(row["api"] for row in rows if row.get("status") == 429)
    try:
        from jobs.queue import get_redis
        pipe = get_redis().pipeline(transaction=False)
        for api, n in calls.items():
            pipe.hincrby(CALLS_KEY, api, n)
        for api, n in throttled.items():
            pipe.hincrby(THROTTLED_KEY, api, n)
        pipe.execute()
    except Exception as exc:
        log.debug("API call counts not kept (%s)", exc)


def _epoch(moment) -> float:
    from datetime import timezone
    return moment.replace(tzinfo=timezone.utc).timestamp()


class FerryCollector:
    """A prometheus_client collector read afresh on every scrape (needs an open
    database connection)."""

    def collect(self):
        yield from self._database()
        yield from self._redis()

    def _database(self):
        cycles = CounterMetricFamily("ferry_cycles", "Sync cycles finished, by record type "
                                     "and result.", labels=["type", "result"])
        running = GaugeMetricFamily("ferry_cycles_running", "Sync cycles running now.",
                                    labels=["type"])
        written = CounterMetricFamily("ferry_records_written", "Records written by the "
                                      "cycles (to Xero; payments: applied in ConnectWise).",
                                      labels=["type"])
        raised = CounterMetricFamily("ferry_records_exceptions", "Records the cycles left "
                                     "in exception, counted per cycle.", labels=["type"])
        rows = (SyncRun.select(SyncRun.record_type, SyncRun.status, fn.COUNT(SyncRun.id),
                               fn.SUM(SyncRun.written), fn.SUM(SyncRun.exceptions))
                .group_by(SyncRun.record_type, SyncRun.status).tuples())
        sums_written = Counter(dict.fromkeys(TYPES, 0))
        sums_raised = Counter(dict.fromkeys(TYPES, 0))
        for kind, status, count, wrote, excepted in rows:
            if status == "running":
                running.add_metric([kind], count)
            else:
                cycles.add_metric([kind, status], count)
            sums_written[kind] += int(wrote or 0)
            sums_raised[kind] += int(excepted or 0)
        for kind in sums_written:
            written.add_metric([kind], sums_written[kind])
            raised.add_metric([kind], sums_raised[kind])
        yield from (cycles, running, written, raised)

        open_now = GaugeMetricFamily("ferry_open_exceptions", "Records in exception now.",
                                     labels=["type"])
        counts = dict.fromkeys(TYPES, 0)
        counts.update(SyncRecord.select(SyncRecord.record_type, fn.COUNT(SyncRecord.id))
                      .where(SyncRecord.state == "exception")
                      .group_by(SyncRecord.record_type).tuples())
        for kind, count in counts.items():
            open_now.add_metric([kind], count)
        yield open_now

        last = GaugeMetricFamily("ferry_last_success_timestamp_seconds", "When the last "
                                 "cycle of each type that finished done ended (Unix time).",
                                 labels=["type"])
        for kind, finished in (SyncRun.select(SyncRun.record_type, fn.MAX(SyncRun.finished_at))
                               .where(SyncRun.status == "done")
                               .group_by(SyncRun.record_type).tuples()):
            if finished is not None:
                if isinstance(finished, str):         # SQLite's MAX() gives the text back
                    from datetime import datetime
                    finished = datetime.fromisoformat(finished)
                last.add_metric([kind], _epoch(finished))
        yield last

        outbox = dict(OutboxMail.select(OutboxMail.status, fn.COUNT(OutboxMail.id))
                      .group_by(OutboxMail.status).tuples())
        yield GaugeMetricFamily("ferry_outbox_pending", "E-mails waiting in the outbox "
                                "(pending or being sent).",
                                value=outbox.get("pending", 0) + outbox.get("sending", 0))
        yield GaugeMetricFamily("ferry_outbox_failed", "E-mails the outbox gave up on.",
                                value=outbox.get("failed", 0))

    def _redis(self):
        from connectors.xero_governor import Governor
        from jobs.queue import QUEUE_NAMES, get_queue, get_redis
        try:
            redis = get_redis()
            redis.ping()
        except Exception:
            yield GaugeMetricFamily("ferry_redis_up", "Whether Redis answered.", value=0)
            return
        yield GaugeMetricFamily("ferry_redis_up", "Whether Redis answered.", value=1)
        calls = CounterMetricFamily("ferry_api_calls", "Calls made to each API (every "
                                    "attempt, as the audit log records them).",
                                    labels=["api"])
        throttled = CounterMetricFamily("ferry_api_throttled", "Answers 429 (too many "
                                        "requests) from each API.", labels=["api"])
        for family, key in ((calls, CALLS_KEY), (throttled, THROTTLED_KEY)):
            totals = {k.decode(): int(v) for k, v in redis.hgetall(key).items()}
            for api in sorted(set(totals) | {"connectwise", "xero"}):
                family.add_metric([api], totals.get(api, 0))
            yield family

        left = GaugeMetricFamily("ferry_xero_calls_left_today", "The calls Xero last said "
                                 "the organisation has left today.", labels=["org"])
        governor = Governor(redis)
        for org in (Connection.select().where((Connection.kind == "xero") &
                                              Connection.tenant_id.is_null(False))
                    .order_by(Connection.name)):
            remaining = governor.remaining_today(org.tenant_id)
            if remaining is not None:
                left.add_metric([org.name], remaining)
        yield left

        depth = GaugeMetricFamily("ferry_queue_depth", "Jobs waiting in the RQ queue.",
                                  labels=["queue"])
        for name in QUEUE_NAMES:
            depth.add_metric([name], get_queue(name).count)
        yield depth


def exposition() -> bytes:
    """The Prometheus text of Ferry's metrics now, plus the version it runs."""
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.core import InfoMetricFamily

    from version import version

    class Info:
        def collect(self):
            yield InfoMetricFamily("ferry_build", "The Ferry release running.",
                                   value={"version": version()})

    registry = CollectorRegistry(auto_describe=False)
    registry.register(FerryCollector())
    registry.register(Info())
    return generate_latest(registry)

"""The daily digest: the day's cycles per record type and organisation, the open
exceptions oldest first, the Xero calls used per organisation and the records metered
this month, mailed at the set time of day in the set timezone.

`digest_tick()` runs every few minutes (the schedule); once the local clock has passed
the digest time it queues that day's digest, once (its outbox key is the date), covering
the time since the previous one up to the moment it is built. `send_digest_now()` is
`flask --app app digest send`: the last 24 hours, whatever the time of day.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from peewee import fn

from jobs import alerts
from jobs.context import in_job_context
from jobs.outbox import queue_mail, send_due
from models import (
    AuditEntry, Connection, MeteredVersion, OutboxMail, RecordEvent, Setting, SyncRecord,
    SyncRun, utcnow,
)
from sync import alerts as compose

OPEN_LISTED = 200
COVERED_UNTIL = "alerts.digest_covered_until"    # where the last scheduled digest ended
WRITTEN_KINDS = {"created": "written", "updated": "updated"}


def digest_types() -> list[str]:
    """Every record type: a type alerted immediately still belongs in the day's summary
    (its open exceptions too: the digest lists them all, oldest first)."""
    return list(compose.RECORD_TYPES)


def digest_recipients(types: list[str]) -> list[str]:
    seen: list[str] = []
    for kind in types:
        for address in alerts.recipients(kind):
            if address.lower() not in (s.lower() for s in seen):
                seen.append(address)
    return seen


def gather(start: datetime, end: datetime, types: list[str]) -> dict:
    """The facts of the digest window [start, end), for sync.alerts.digest_mail."""
    days = {kind: compose.TypeDay(kind) for kind in types}
    for run in SyncRun.select().where((SyncRun.started_at >= start) &
                                      (SyncRun.started_at < end) &
                                      SyncRun.record_type.in_(types)):
        day = days[run.record_type]
        day.cycles += 1
        day.unfinished += run.status in ("failed", "stopped")
        if run.record_type == "payment":
            day.applied += run.written
    orgs = {c.id: c.name for c in Connection.select().where(Connection.kind == "xero")}
    lines: dict[tuple[str, str], compose.CycleLine] = {}
    events = list(RecordEvent.select(RecordEvent, SyncRecord).join(SyncRecord).where(
        (RecordEvent.at >= start) & (RecordEvent.at < end) &
        SyncRecord.record_type.in_(types) &
        RecordEvent.kind.in_(("created", "updated", "exception"))))
    # A record written in the window after an earlier exception: that exception resolved.
    ids = sorted({e.record_id for e in events if e.kind in WRITTEN_KINDS})
    first_exception = {}
    if ids:
        for e in RecordEvent.select(RecordEvent.record, RecordEvent.at).where(
                RecordEvent.record.in_(ids) & (RecordEvent.kind == "exception")):
            first_exception[e.record_id] = min(e.at, first_exception.get(e.record_id, e.at))
    resolved_seen = set()
    for e in events:
        record = e.record
        org = orgs.get(record.org_id, "not routed")
        line = lines.setdefault((record.record_type, org), compose.CycleLine(org))
        if e.kind in WRITTEN_KINDS:
            setattr(line, WRITTEN_KINDS[e.kind], getattr(line, WRITTEN_KINDS[e.kind]) + 1)
            if first_exception.get(record.id, e.at) < e.at and record.id not in resolved_seen:
                resolved_seen.add(record.id)
                line.resolved += 1
        else:
            line.raised += 1
    for (kind, _org), line in lines.items():
        days[kind].orgs.append(line)

    open_query = SyncRecord.select().where((SyncRecord.state == "exception") &
                                           SyncRecord.record_type.in_(types))
    total_open = open_query.count()
    records = list(open_query)
    items = alerts.exception_items(records)
    since = _exception_since([r.id for r in records])
    for item in items:
        item.since = since.get(item.record_id, item.since)
    items.sort(key=lambda i: (i.since or datetime.min, i.record_id))

    budget = []
    remaining = _remaining_today()
    for org_id, name in sorted(orgs.items(), key=lambda kv: kv[1]):
        used = AuditEntry.select().where((AuditEntry.api == "xero") &
                                         (AuditEntry.connection_id == org_id) &
                                         (AuditEntry.at >= start) &
                                         (AuditEntry.at < end)).count()
        budget.append({"org": name, "used": used, "remaining": remaining.get(org_id)})
    month = end.strftime("%Y-%m")             # metered months are UTC months
    metered = [{"label": compose.MANY.get(row.record_type, row.record_type), "count": row.n}
               for row in MeteredVersion.select(
                   MeteredVersion.record_type,
                   fn.COUNT(MeteredVersion.id).alias("n")).where(MeteredVersion.month == month)
               .group_by(MeteredVersion.record_type).order_by(MeteredVersion.record_type)]
    from jobs.reconcile import DRIFT_DAYS, drift
    return {"types": list(days.values()), "open_items": items[:OPEN_LISTED],
            "more_open": max(total_open - OPEN_LISTED, 0), "budget": budget,
            "metered": metered, "month": month,
            # The newest reconciliation of each org and month, run lately, that differs.
            "drift": drift(since=end - timedelta(days=DRIFT_DAYS))}


def _exception_since(record_ids: list[int]) -> dict[int, datetime]:
    """When each record's current exception began: its first exception event after its
    last successful write."""
    since: dict[int, datetime] = {}
    if not record_ids:
        return since
    for e in (RecordEvent.select(RecordEvent.record, RecordEvent.kind, RecordEvent.at)
              .where(RecordEvent.record.in_(record_ids) &
                     RecordEvent.kind.in_(("created", "updated", "exception")))
              .order_by(RecordEvent.at, RecordEvent.id)):
        if e.kind == "exception":
            since.setdefault(e.record_id, e.at)
        else:
            since.pop(e.record_id, None)
    return since


def _remaining_today() -> dict[int, int]:
    """What Xero last said each org has left of its day's calls (when Redis knows)."""
    from connectors.xero_governor import Governor
    from jobs.queue import get_redis
    try:
        governor = Governor(get_redis())
        return {c.id: governor.remaining_today(c.tenant_id)
                for c in Connection.select().where((Connection.kind == "xero") &
                                                   Connection.tenant_id.is_null(False))}
    except Exception:
        return {}


def build(start: datetime, end: datetime, types: list[str]) -> dict:
    """The digest of [start, end), dated on the local day of `end`."""
    tz_name = alerts.timezone_name()
    day = compose.in_zone(end, compose.zone(tz_name)).date()
    facts = gather(start, end, types)
    return compose.digest_mail(day, tz_name, facts["types"], facts["open_items"],
                               facts["budget"], facts["metered"], facts["month"],
                               current_app.config["BASE_URL"], start=start, end=end,
                               more_open=facts["more_open"], drift=facts["drift"])


NOBODY = ("Nobody to send the digest to: Ferry has no administrator yet and no "
          "recipients are set under Settings → Alerts. Create the administrator (the "
          "/setup page, or flask --app app create-admin) and try again.")


class NobodyToSend(Exception):
    """No administrator and no recipients: a digest would only be a failed mail."""


def digest_tick(now: datetime | None = None) -> OutboxMail | None:
    """Queue today's digest once the digest time has passed (once a day). With nobody
    to send it to (a new installation before its first administrator) none is written,
    and the window is not moved: the first digest after covers the last 24 hours."""
    now = now or utcnow()
    types = digest_types()
    day = compose.digest_due(now, alerts.digest_time(), compose.zone(alerts.timezone_name()))
    if day is None:
        return None
    recipients = digest_recipients(types)
    if not recipients:
        return None
    key = f"digest:{day.isoformat()}"
    if OutboxMail.select().where(OutboxMail.key == key).exists():
        return None
    start, end = compose.digest_window(now, _covered_until())
    content = build(start, end, types)
    text, html = alerts.render_mail("digest", content)
    mail = queue_mail("digest", recipients, content["subject"], text, html, key=key)
    if mail is not None:
        Setting.set_value(COVERED_UNTIL, end.isoformat())
    return mail


def _covered_until() -> datetime | None:
    try:
        return datetime.fromisoformat(Setting.get_value(COVERED_UNTIL) or "")
    except ValueError:
        return None


def send_digest_now(now: datetime | None = None) -> tuple[OutboxMail, dict]:
    """The last 24 hours' digest, queued and sent at once (whatever the time of day).
    It leaves the scheduled digests' window alone: the next one still covers the time
    since the previous scheduled one."""
    now = now or utcnow()
    types = digest_types()
    recipients = digest_recipients(types)
    if not recipients:
        raise NobodyToSend(NOBODY)
    content = build(now - timedelta(hours=24), now, types)
    text, html = alerts.render_mail("digest", content)
    mail = queue_mail("digest", recipients, content["subject"], text, html, notify=False)
    return mail, send_due(only=mail.id)


@in_job_context
def digest_job():
    """The scheduled job (every few minutes): queue the digest when its time has come."""
    mail = digest_tick()
    return mail.id if mail else None

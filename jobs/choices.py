"""The choice lists of the mapping screens, read from the APIs and kept (models.ChoiceList)
until someone presses "Refresh choices": ConnectWise GL accounts, tax codes, locations,
departments, members, products and company types; per Xero org its accounts, tax rates,
tracking categories with their options, and items.

Each list is [{"value", "label", "active"}]. A list the API would not give (no access,
an endpoint the site does not offer, the API down) is kept with its error so the screen
falls back to typing the value and says why; `None` from `get` means never read.
Endpoints read (the sandboxes offer all but the product catalogue, company types and
Xero items, which then fall back to typing): CW `finance/glAccounts`, `finance/taxCodes`,
`system/locations`, `system/departments`, `system/members` (the schema's models);
`procurement/catalog` (CatalogItem: identifier, description, inactiveFlag) and
`company/companies/types` (CompanyType: name), as public CW clients call them
(e.g. the PowerShell CWM module's Get-CWMCompanyType, the PHP CW SDK's path map); Xero
`/Items` (the spec's getItems: Code, Name).
Xero's accounts, tax rates and tracking categories go through jobs/reference_cache.py
(one cache per org for the screens and the cycle); "refresh choices" and every mapping
change invalidate it.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from typing import Callable

from flask import current_app

from models import ChoiceList, Connection, utcnow

log = logging.getLogger("ferry.choices")

CW_KINDS = {
    "gl_accounts": "GL accounts", "tax_codes": "tax codes", "locations": "locations",
    "departments": "departments", "members": "members", "products": "products",
    "company_types": "company types",
}
XERO_KINDS = {"accounts": "accounts", "tax_rates": "tax rates",
              "tracking": "tracking categories", "items": "items"}


def get(source: str, kind: str, org_id: int | None = None) -> ChoiceList | None:
    return ChoiceList.get_or_none((ChoiceList.source == source) &
                                  (ChoiceList.org_id == str(org_id or "")) &
                                  (ChoiceList.kind == kind))


def items(source: str, kind: str, org_id: int | None = None) -> list[dict] | None:
    """The list's items, or None when it was never read or could not be."""
    row = get(source, kind, org_id)
    if row is None or row.error:
        return None
    return row.items


def values(source: str, kind: str, org_id: int | None = None,
           active_only: bool = True) -> frozenset[str] | None:
    listed = items(source, kind, org_id)
    if listed is None:
        return None
    return frozenset(i["value"] for i in listed if i.get("active", True) or not active_only)


def _save(source: str, kind: str, org_id, listed: list[dict] | None, error: str | None):
    row = get(source, kind, org_id) or ChoiceList(source=source, org_id=str(org_id or ""),
                                                  kind=kind)
    if listed is not None or row.id is None:
        row.items = listed if listed is not None else []
    row.error, row.fetched_at = error, utcnow()
    row.save()


# -- ConnectWise -----------------------------------------------------------------------
def _cw_readers(cw) -> dict[str, Callable[[], list[dict]]]:
    def named(path, value, label, active=lambda r: not r.get("inactiveFlag")):
        return lambda: [{"value": str(value(r)), "label": label(r), "active": active(r)}
                        for r in cw.iter_list(path)]
    return {
        "gl_accounts": named("finance/glAccounts", lambda r: r.get("segment1") or r.get("id"),
                             lambda r: f"{r.get('segment1')} {(r.get('mappedRecord') or {}).get('name') or ''}".strip()),
        "tax_codes": named("finance/taxCodes", lambda r: r["identifier"],
                           lambda r: f"{r['identifier']} ({r.get('description') or ''})"),
        "locations": named("system/locations", lambda r: r["id"], lambda r: r["name"]),
        "departments": named("system/departments", lambda r: r["id"], lambda r: r["name"]),
        "members": named("system/members", lambda r: r["identifier"],
                         lambda r: f"{r.get('firstName', '')} {r.get('lastName', '')} "
                                   f"({r['identifier']})".strip()),
        "products": named("procurement/catalog", lambda r: r["identifier"],
                          lambda r: f"{r['identifier']} {r.get('description') or ''}".strip()),
        "company_types": named("company/companies/types", lambda r: r["name"],
                               lambda r: r["name"]),
    }


class NotConnected(Exception):
    """ConnectWise (or the Xero org) is not connected; the message says so."""


@contextmanager
def connectwise(sink):
    """A ConnectWise client for the active connection, its calls audited by `sink`."""
    from connectors.connectwise import ConnectWise, CWSettings
    connection = Connection.get_or_none((Connection.kind == "connectwise") &
                                        (Connection.status == "active"))
    s = (connection.settings or {}) if connection is not None else {}
    if connection is None or not all(s.get(k) for k in ("site", "company_id",
                                                        "public_key", "client_id")):
        raise NotConnected("ConnectWise is not connected; connect it in Settings.")
    cw = ConnectWise(CWSettings(s["site"], s["company_id"], s["public_key"],
                                (connection.secrets or {}).get("private_key", ""),
                                s["client_id"]), sink=sink,
                     context={"connection_id": connection.id})
    try:
        yield cw
    finally:
        cw.close()


def refresh_connectwise() -> dict[str, str | None]:
    """Read every CW list again; returns kind -> error sentence (None when read)."""
    from jobs.audit import DatabaseAuditSink
    outcome = {}
    with DatabaseAuditSink() as sink:
        try:
            with connectwise(sink) as cw:
                for kind, read in _cw_readers(cw).items():
                    outcome[kind] = _read_one("connectwise", kind, None, read,
                                              f"ConnectWise's {CW_KINDS[kind]}")
        except NotConnected as exc:
            return {k: str(exc) for k in CW_KINDS}
    return outcome


def _read_one(source, kind, org_id, read, what) -> str | None:
    try:
        listed = sorted(read(), key=lambda i: (not i["active"], i["label"].casefold()))
    except Exception as exc:  # one list failing must not lose the others
        error = f"{what} could not be read ({_why(exc)}); type the value instead."
        log.info("choices %s/%s: %s", source, kind, exc)
        _save(source, kind, org_id, None, error)
        return what
    _save(source, kind, org_id, listed, None)
    return None


def _why(exc: Exception) -> str:
    status = getattr(exc, "status", None) or getattr(exc, "status_code", None)
    text = str(exc) or type(exc).__name__
    return f"HTTP {status}: {text}" if status else text


# -- Xero --------------------------------------------------------------------------------
def _xero_lists(client, org_id: int) -> dict[str, Callable[[], list[dict]]]:
    """Accounts, tax rates and tracking categories through the per-org reference cache
    the cycle also reads (jobs/reference_cache.py); items straight from Xero."""
    from jobs import reference_cache

    def cached(kind):
        return reference_cache.get(client, org_id, kind) or []

    def accounts():
        return [{"value": a["Code"], "label": f"{a['Code']} {a.get('Name', '')}".strip(),
                 "active": a.get("Status", "ACTIVE") == "ACTIVE"}
                for a in cached("accounts") if a.get("Code")]

    def tax_rates():
        return [{"value": t["TaxType"], "label": f"{t.get('Name', t['TaxType'])} "
                 f"({t['TaxType']}, {_rate(t.get('EffectiveRate'))}%)",
                 "active": t.get("Status", "ACTIVE") == "ACTIVE"}
                for t in cached("tax_rates")]

    def tracking():
        out = []
        for c in cached("tracking_categories"):
            active = c.get("Status", "ACTIVE") == "ACTIVE"
            out.append({"value": c["Name"], "label": c["Name"], "active": active,
                        "options": [{"value": o["Name"], "label": o["Name"],
                                     "active": o.get("Status", "ACTIVE") == "ACTIVE"}
                                    for o in c.get("Options") or []]})
        return out

    def items_():
        return [{"value": i["Code"], "label": f"{i['Code']} {i.get('Name', '')}".strip(),
                 "active": True}
                for i in (client.call("GET", "/Items") or {}).get("Items", [])]
    return {"accounts": accounts, "tax_rates": tax_rates, "tracking": tracking,
            "items": items_}


def _rate(value) -> str:
    try:
        return f"{Decimal(str(value)).normalize():f}"
    except (InvalidOperation, ValueError):
        return "?"


@contextmanager
def xero_client(org: Connection, sink):
    from connectors.xero import open_client
    from connectors.xero_governor import Governor
    from connectors.xero_oauth import TokenKeeper, load_app
    from jobs.queue import get_redis
    app = load_app(current_app.config["BASE_URL"])
    redis = get_redis()
    client = open_client(app, org, sink=sink, tokens=TokenKeeper(app, redis=redis, sink=sink),
                         governor=Governor(redis))
    try:
        yield client
    finally:
        client.transport.close()


def refresh_xero(org: Connection) -> dict[str, str | None]:
    from jobs.audit import DatabaseAuditSink
    _invalidate_reference(org.id)
    outcome = {}
    with DatabaseAuditSink() as sink:
        try:
            with xero_client(org, sink) as client:
                for kind, read in _xero_lists(client, org.id).items():
                    outcome[kind] = _read_one("xero", kind, org.id, read,
                                              f"Xero's {XERO_KINDS[kind]} of {org.name}")
        except Exception as exc:  # no client at all: not connected, no token
            error = f"Xero org {org.name} could not be read ({_why(exc)})."
            for kind in XERO_KINDS:
                _save("xero", kind, org.id, None, error)
                outcome[kind] = error
    return outcome


def refresh_all() -> list[str]:
    """Every list again; what could not be read ("ConnectWise's products"...)."""
    problems = [e for e in refresh_connectwise().values() if e]
    for org in Connection.select().where(Connection.kind == "xero"):
        problems += [e for e in refresh_xero(org).values() if e]
    return sorted(set(problems))


def ensure_read(org: Connection | None = None) -> None:
    """Read the lists never read yet (the first visit to the screens)."""
    if get("connectwise", "gl_accounts") is None:
        refresh_connectwise()
    if org is not None and get("xero", "accounts", org.id) is None:
        refresh_xero(org)


def _invalidate_reference(org_id: int | None) -> None:
    """Xero's reference data changed or a mapping did: drop the per-org cache the
    cycle and other screens use (jobs/reference_cache.py); it also tells the next cycle
    to try the exceptions again."""
    from jobs import reference_cache
    try:
        reference_cache.invalidate(org_id)
    except Exception as exc:  # a cache that cannot be dropped must not block a save
        log.warning("reference cache of org %s not invalidated: %s", org_id, exc)


invalidate_reference = _invalidate_reference


# -- "Refresh choices" from the web: a job, never inside a request -------------------------
# A request that read every list itself waited on Xero's per-minute limit (15 s and more
# when the button was pressed often, until gunicorn killed the worker) and wrote the
# lists while the worker's cycles wrote too. The worker reads them; the page polls.
REFRESH_JOB_ID = "ferry-refresh-choices"
REFRESH_RESULT = "ferry:choices:refreshed"      # when the last refresh ended, its problems
REFRESH_PAUSE_SECONDS = 30                      # between two refreshes (Xero's minute quota)


class RefreshBusy(Exception):
    """A refresh is queued or running, or one ended moments ago; the message says when
    to press again."""


def _refresh_job(redis):
    from rq.exceptions import NoSuchJobError
    from rq.job import Job
    try:
        return Job.fetch(REFRESH_JOB_ID, connection=redis)
    except NoSuchJobError:
        return None


def refreshing(redis) -> bool:
    """Whether a refresh job is queued or running."""
    from rq.job import JobStatus
    job = _refresh_job(redis)
    return job is not None and job.get_status() in (
        JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED)


def queue_refresh(redis, now: float | None = None):
    """Queue the refresh job, or raise RefreshBusy with a sentence."""
    import json
    import time
    from jobs.queue import get_queue
    if refreshing(redis):
        raise RefreshBusy("Ferry is already reading the choices again; this page shows "
                          "them when it is done.")
    last = redis.get(REFRESH_RESULT)
    if last:
        ago = (now or time.time()) - json.loads(last)["at"]
        if ago < REFRESH_PAUSE_SECONDS:
            wait = int(REFRESH_PAUSE_SECONDS - ago) + 1
            raise RefreshBusy(f"The choices were read again {int(ago)} seconds ago; press "
                              f"Refresh choices again in {wait} seconds if something is "
                              "still missing (each refresh uses part of Xero's limit of "
                              "60 calls a minute).")
    job = _refresh_job(redis)
    if job is not None:
        job.delete()
    return get_queue().enqueue(refresh_all_job, job_id=REFRESH_JOB_ID, job_timeout=600,
                               result_ttl=600, failure_ttl=3600)


def last_refresh(redis) -> dict | None:
    """{"at": epoch seconds, "problems": [...]} of the last refresh that ended."""
    import json
    raw = redis.get(REFRESH_RESULT)
    return json.loads(raw) if raw else None


def _refresh_all_and_note() -> list[str]:
    import json
    import time
    from jobs.queue import get_redis
    try:
        problems = refresh_all()
    except Exception as exc:
        problems = [f"the lists could not be read ({_why(exc)})"]
        raise
    finally:
        get_redis().set(REFRESH_RESULT, json.dumps({"at": time.time(),
                                                    "problems": problems}), ex=86400)
    return problems


def refresh_all_job() -> list[str]:
    """The RQ job behind "Refresh choices"."""
    from jobs.context import in_job_context
    return in_job_context(_refresh_all_and_note)()

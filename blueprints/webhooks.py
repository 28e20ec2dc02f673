"""The two doors real time opens: ConnectWise callbacks and Xero webhooks.

Both are public (no session, no CSRF: the callers are ConnectWise and Xero), answer at
once (the work is queued: jobs/realtime.py), accept only a POST of JSON up to
BODY_LIMIT bytes, are rate limited per caller address, and leave an audit entry for
every event that passes the rate limit, refused ones included.

- `POST /hooks/xero`: signed by Xero with `x-xero-signature`, the base64 HMAC-SHA256 of
  the raw body under the webhook key. A wrong or missing signature gets 401 and nothing
  is queued, which is also how Xero's "intent to receive" check tells a receiver that
  checks from one that does not.
- `POST /hooks/connectwise/<secret>`: the URL Ferry registered in ConnectWise carries a
  secret of its own, compared in constant time; a wrong one gets 403.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import datetime, timezone

from flask import Blueprint, current_app, request

from blueprints import public

bp = Blueprint("webhooks", __name__, url_prefix="/hooks")

BODY_LIMIT = 256 * 1024          # bytes; a CW callback carries the record, Xero's events less
RATE_KEY = "ferry:realtime:rate:{}:{}:{}"


class Refused(Exception):
    def __init__(self, status: int, sentence: str, headers: dict | None = None):
        super().__init__(sentence)
        self.status, self.sentence, self.headers = status, sentence, headers or {}


def _rate_limit(source: str) -> None:
    """At most FERRY_REALTIME_RATE events a minute per caller address and source."""
    from jobs.queue import get_redis
    limit = int(current_app.config.get("REALTIME_RATE", 600))
    minute = int(time.time() // 60)
    key = RATE_KEY.format(source, request.remote_addr or "?", minute)
    try:
        redis = get_redis()
        count = redis.incr(key)
        if count == 1:
            redis.expire(key, 120)
    except Exception:
        return                      # Redis down: the queueing step says so
    if count > limit:
        raise Refused(429, "Too many events from this address this minute.",
                      {"Retry-After": str(60 - int(time.time()) % 60)})


def _body() -> bytes:
    if request.method != "POST":
        raise Refused(405, "Only POST is accepted here.")
    length = request.content_length
    if length is not None and length > BODY_LIMIT:
        raise Refused(413, f"The body is larger than {BODY_LIMIT} bytes.")
    raw = request.stream.read(BODY_LIMIT + 1)
    if len(raw) > BODY_LIMIT:
        raise Refused(413, f"The body is larger than {BODY_LIMIT} bytes.")
    ctype = (request.mimetype or "").lower()
    if ctype != "application/json":
        raise Refused(415, "Only application/json is accepted here.")
    return raw


def _json(raw: bytes):
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise Refused(400, "The body is not JSON.") from None


def _audit(api: str, started: float, at: datetime, raw: bytes | None, status: int,
           sentence: str, record_ref: str | None = None,
           connection_id: int | None = None) -> None:
    """One audit entry for an event received (what came in, what Ferry answered and did)."""
    from connectors.audit import redact_body, redact_headers
    from jobs.audit import _cap, stored_refs
    from models import AuditEntry
    headers = redact_headers([(k, v) for k, v in request.headers.items()
                              if k.lower() != "x-xero-signature"])
    if "x-xero-signature" in {k.lower() for k in request.headers.keys()}:
        headers["x-xero-signature"] = "***"
    url = request.base_url
    if api == "connectwise":
        url = url.rsplit("/", 1)[0] + "/***"        # the secret never reaches the log
    ref, refs = stored_refs(record_ref)
    try:
        AuditEntry.create(
            at=at, api=api, connection_id=connection_id, method="POST (received)",
            url=url, status=status, duration_ms=(time.monotonic() - started) * 1000,
            request_headers=headers,
            request_body=_cap(redact_body(raw, "application/json")) if raw else None,
            response_headers={}, response_body=sentence, error=None, run_id=None,
            record_ref=ref, record_refs=refs)
    except Exception:
        current_app.logger.exception("The audit entry of a received %s event could not "
                                     "be written", api)


def _answer(status: int, headers: dict | None = None):
    response = current_app.response_class(b"", status=status)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


# -- Xero ----------------------------------------------------------------------------------
def xero_signature(key: str, raw: bytes) -> str:
    return base64.b64encode(hmac.new(key.encode("utf-8"), raw, hashlib.sha256).digest()
                            ).decode("ascii")


@bp.route("/xero", methods=["POST"])
@public
def xero():
    from jobs import realtime
    started, at = time.monotonic(), datetime.now(timezone.utc).replace(tzinfo=None)
    raw = None
    try:
        _rate_limit("xero")
        raw = _body()
        key = realtime.Setting.get_value(realtime.XERO_KEY)
        given = request.headers.get("x-xero-signature", "")
        if not key:
            raise Refused(401, "Refused: no Xero webhook key is stored (Settings → Real "
                               "time), so no signature can be checked.")
        if not given or not hmac.compare_digest(
                xero_signature(key, raw).encode("ascii"), given.strip().encode("ascii",
                                                                              "replace")):
            raise Refused(401, "Refused: the x-xero-signature does not match the body "
                               "signed with the stored webhook key. Nothing was queued.")
        data = _json(raw)
        events = data.get("events") if isinstance(data, dict) else None
        if not isinstance(events, list):
            raise Refused(400, "Refused: the body has no list of events.")
        sentence, ref, org_id = _xero_events(events)
        status = 200
    except Refused as exc:
        _audit("xero", started, at, raw, exc.status, exc.sentence)
        return _answer(exc.status, exc.headers)
    except _QueueDown as exc:
        _audit("xero", started, at, raw, 503, str(exc))
        return _answer(503)
    _audit("xero", started, at, raw, status, sentence, ref, org_id)
    return _answer(status)


class _QueueDown(Exception):
    pass


def _queue(kind: str, ids) -> bool:
    from jobs import realtime
    try:
        return realtime.note_records(kind, ids)
    except Exception as exc:
        raise _QueueDown("Received, but the queue (Redis) is not answering: nothing was "
                         "queued; the next scheduled cycle picks this record up.") from exc


def _xero_events(events: list) -> tuple[str, str | None, int | None]:
    from jobs import realtime
    if not events:
        return "Intent to receive: signature checked, nothing to do.", None, None
    realtime.note_event("xero")
    invoices, notes, org_id = {}, [], None
    for event in events:
        if not isinstance(event, dict):
            continue
        category = str(event.get("eventCategory") or "")
        resource = str(event.get("resourceId") or "").lower()
        org = realtime.org_for_tenant(str(event.get("tenantId") or "").lower()) or \
            realtime.org_for_tenant(str(event.get("tenantId") or ""))
        if org is None:
            notes.append(f"{category} {resource}: not an organisation Ferry is connected to")
            continue
        org_id = org.id
        if not realtime.is_on(org):
            notes.append(f"{category} {resource}: real time is off for {org.name}")
            continue
        if category != "INVOICE":
            notes.append(f"{category} {resource} in {org.name}: nothing for Ferry to do")
            continue
        invoices.setdefault(org.tenant_id, set()).add(resource)
    cw_ids = set()
    for tenant, xero_ids in invoices.items():
        found = realtime.cw_invoice_ids_for_xero(tenant, sorted(xero_ids))
        cw_ids.update(found.values())
        for missing in sorted(xero_ids - set(found)):
            notes.append(f"INVOICE {missing}: not an invoice Ferry wrote or matched; the "
                         "scheduled payment cycle looks at it")
    if cw_ids:
        queued = _queue("payment", sorted(cw_ids))
        notes.insert(0, f"Payment look-up {'queued' if queued else 'joined the one queued'}"
                        f" for CW invoice{'s' if len(cw_ids) > 1 else ''} "
                        f"{', '.join(str(i) for i in sorted(cw_ids))}")
    ref = None
    if cw_ids:
        from jobs.audit import calls_ref
        ref = calls_ref("invoice", sorted(cw_ids))
    return f"{len(events)} event(s). " + "; ".join(notes) + ".", ref, org_id


# -- ConnectWise ----------------------------------------------------------------------------
CW_KINDS = {"invoice": "sales", "purchaseorder": "bill"}


@bp.route("/connectwise/<secret>", methods=["POST"])
@public
def connectwise(secret):
    from jobs import realtime
    started, at = time.monotonic(), datetime.now(timezone.utc).replace(tzinfo=None)
    raw, ref, connection_id = None, None, None
    try:
        _rate_limit("connectwise")
        raw = _body()
        if not realtime.secret_matches(secret):
            raise Refused(403, "Refused: the secret in the address is not the one Ferry "
                               "registered. Nothing was queued.")
        data = _json(raw)
        if not isinstance(data, dict):
            raise Refused(400, "Refused: the body is not a ConnectWise callback.")
        kind_name = str(data.get("Type") or "").replace(" ", "").lower()
        action = str(data.get("Action") or "").lower()
        try:
            record_id = int(data.get("ID"))
        except (TypeError, ValueError):
            raise Refused(400, "Refused: the callback names no record ID.") from None
        connection = realtime.cw_connection()
        connection_id = connection.id if connection else None
        realtime.note_event("connectwise")
        kind = CW_KINDS.get(kind_name)
        label = {"sales": "invoice", "bill": "purchase order"}.get(kind, kind_name)
        if kind == "sales":
            ref = f"invoice:{record_id}"
        if not realtime.is_on(connection):
            sentence = (f"{data.get('Type')} {record_id} {action}: real time is off for "
                        "ConnectWise; nothing queued.")
        elif kind is None:
            sentence = f"{data.get('Type')} {record_id} {action}: nothing for Ferry to do."
        elif action == "deleted":
            sentence = (f"{label.capitalize()} {record_id} deleted in ConnectWise: the "
                        "scheduled cycle deals with it.")
        else:
            queued = _queue(kind, [record_id])
            sentence = (f"{label.capitalize()} {record_id} {action or 'changed'}: cycle "
                        f"{'queued' if queued else 'already queued, joined it'}.")
    except Refused as exc:
        _audit("connectwise", started, at, raw, exc.status, exc.sentence)
        return _answer(exc.status, exc.headers)
    except _QueueDown as exc:
        _audit("connectwise", started, at, raw, 503, str(exc), ref, connection_id)
        return _answer(503)
    _audit("connectwise", started, at, raw, 200, sentence, ref, connection_id)
    return _answer(200)

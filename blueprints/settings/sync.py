"""The sync engine's settings: how often each record type runs, the organisation a
record goes to when no routing rule picks one, posting batches in ConnectWise, and per
Xero organisation how documents are written. Saving re-registers the schedule, so a new
interval takes effect without restarting anything."""
from __future__ import annotations

import re
from datetime import datetime

import redis
from flask import flash, redirect, render_template, request, url_for

from blueprints.settings import answer, bp, section
from blueprints.query_args import whole_number
from jobs.cycle import INTERVAL_HOURS, POST_BATCHES, RECORD_TYPES, interval_hours
from jobs.cycle_mappings import DEFAULT_ORG_SETTING, UNTAXED_KEYS
from jobs.queue import RedisUnavailable, get_redis
from jobs.schedule import next_runs, register_schedule
from models import Connection, OrgRecordSetting, Setting, db
from blueprints.roles import role

LABELS = {"invoice": "invoices", "credit_note": "credit notes", "bill": "bills"}
# Intervals: the document cycles and the payment back-sync (Xero to ConnectWise).
INTERVAL_LABELS = {**LABELS, "payment": "payments from Xero to ConnectWise"}
STATUSES = {"DRAFT": "draft", "AUTHORISED": "authorised"}
AMOUNTS = {"Exclusive": "tax exclusive", "Inclusive": "tax inclusive"}
ACCOUNT_CODE = re.compile(r"^[A-Za-z0-9._-]{1,10}$")
TAX_TYPE = re.compile(r"^[A-Z0-9]{1,50}$")
QUEUE_ERRORS = (RedisUnavailable, redis.RedisError, OSError)
UNTAXED_LABELS = {"sales": "untaxed sales lines", "purchases": "untaxed purchase lines"}


def _orgs() -> list[Connection]:
    return list(Connection.select().where(Connection.kind == "xero")
                .order_by(Connection.name))


def _saved() -> dict:
    """The form's values as they are stored now."""
    orgs = _orgs()
    rows = {(r.org_id, r.record_type): r for r in OrgRecordSetting.select().where(
        OrgRecordSetting.org.in_([o.id for o in orgs]))} if orgs else {}
    values = {f"interval_{t}": str(interval_hours(t)) for t in INTERVAL_LABELS}
    values["default_org"] = str(Setting.get_value(DEFAULT_ORG_SETTING) or "")
    values["post_batches"] = bool(Setting.get_value(POST_BATCHES, False))
    for org in orgs:
        extra = org.settings or {}
        for t in RECORD_TYPES:
            row = rows.get((org.id, t))
            values[f"org{org.id}_status_{t}"] = row.status if row else "DRAFT"
            values[f"org{org.id}_amounts_{t}"] = row.line_amount_types if row else "Exclusive"
        values[f"org{org.id}_rounding_account"] = extra.get("rounding_account") or ""
        for side, key in UNTAXED_KEYS.items():
            values[f"org{org.id}_{key}"] = extra.get(key) or ""
    return values


def _next_runs() -> dict[str, datetime]:
    try:
        runs = next_runs(get_redis())
    except QUEUE_ERRORS:  # Redis down: the page still shows and saves the settings
        return {}
    return {t: runs.get(f"ferry-cycle-{t.replace('_', '-')}") for t in INTERVAL_LABELS}


def _render(values: dict, *, message=None, problems=None) -> str:
    """`problems`: field name -> the sentence shown beside that field."""
    return render_template("settings/_sync.html", values=values, orgs=_orgs(),
                           record_types=LABELS, interval_types=INTERVAL_LABELS,
                           statuses=STATUSES, amounts=AMOUNTS,
                           untaxed=UNTAXED_KEYS, untaxed_labels=UNTAXED_LABELS,
                           next_runs=_next_runs(), message=message,
                           field_problems=problems or {})


@section(order=30)
def sync_section():
    return _render(_saved())


def _read(form) -> tuple[dict, dict[str, str]]:
    """The posted values (as typed) and, per field that cannot be saved, a sentence."""
    orgs = _orgs()
    values: dict = {}
    problems: dict[str, str] = {}
    for t, label in INTERVAL_LABELS.items():
        # A form from before the payment interval existed keeps the saved one.
        sent = form.get(f"interval_{t}", None if t == "payment" else "")
        raw = values[f"interval_{t}"] = (str(interval_hours(t)) if sent is None
                                         else sent.strip())
        if not 1 <= (whole_number(raw) or 0) <= 24:
            problems[f"interval_{t}"] = (
                f"Run {label} every 1 to 24 hours; “{raw}” is outside that range."
                if whole_number(raw) is not None else
                f"Run {label} every 1 to 24 hours; “{raw}” is not a whole number of hours.")
    values["default_org"] = form.get("default_org", "").strip()
    if values["default_org"] and values["default_org"] not in {str(o.id) for o in orgs}:
        problems["default_org"] = ("The default organisation is no longer connected; "
                                   "choose one of the organisations listed, or none.")
    values["post_batches"] = form.get("post_batches") == "on"
    for org in orgs:
        for t, label in LABELS.items():
            for field, choices in (("status", STATUSES), ("amounts", AMOUNTS)):
                name = f"org{org.id}_{field}_{t}"
                values[name] = form.get(name, "")
                if values[name] not in choices:
                    problems[name] = (f"Choose how {label} are written to {org.name} "
                                      f"({' or '.join(choices.values())}).")
        name = f"org{org.id}_rounding_account"
        code = values[name] = form.get(name, "").strip()
        if code and not ACCOUNT_CODE.match(code):
            problems[name] = (f"The rounding account for {org.name} is a Xero account code "
                              f"of up to 10 letters or digits, such as 860; “{code}” is "
                              "not one.")
        for side, key in UNTAXED_KEYS.items():
            name = f"org{org.id}_{key}"
            tax_type = values[name] = form.get(name, "").strip().upper()
            if tax_type and not TAX_TYPE.match(tax_type):
                problems[name] = (f"The tax type for {UNTAXED_LABELS[side]} in {org.name} "
                                  "is a Xero tax type such as EXEMPTOUTPUT or TAX001; "
                                  f"“{tax_type}” is not one.")
    return values, problems


def _store(values: dict) -> None:
    with db.atomic():
        for t in INTERVAL_LABELS:
            Setting.set_value(INTERVAL_HOURS.format(t), int(values[f"interval_{t}"]))
        Setting.set_value(DEFAULT_ORG_SETTING, int(values["default_org"])
                          if values["default_org"] else None)
        Setting.set_value(POST_BATCHES, values["post_batches"])
        for org in _orgs():
            for t in RECORD_TYPES:
                row = OrgRecordSetting.get_or_none(org=org, record_type=t) or \
                    OrgRecordSetting(org=org, record_type=t)
                row.status = values[f"org{org.id}_status_{t}"]
                row.line_amount_types = values[f"org{org.id}_amounts_{t}"]
                row.save()
            extra = dict(org.settings or {})
            for key in ("rounding_account", *UNTAXED_KEYS.values()):
                extra[key] = values[f"org{org.id}_{key}"] or None
            org.settings = extra
            org.save()


@bp.post("/sync")
@role("administrator")
def save_sync():
    values, problems = _read(request.form)
    if problems:
        return answer(sync_section, _render(values, problems=problems), 422)
    _store(values)
    try:
        register_schedule(get_redis())
        message = ("Saved. A changed interval counts from now; the others keep their "
                   "next run.")
    except QUEUE_ERRORS:  # Redis down: the scheduler registers them when it next starts
        message = ("Saved. Ferry's queue (Redis) is not answering, so the new intervals "
                   "take effect when the scheduler next starts.")
    if not request.headers.get("HX-Request"):
        flash(message)
        return redirect(url_for("settings.index"))
    return _render(_saved(), message=message)

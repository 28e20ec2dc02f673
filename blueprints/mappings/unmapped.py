"""Unmapped: every ConnectWise value that holds records back (no account, tax, tracking,
routing or contact for it), with how many records and how much money wait on it, most
first, each linked to the row that fixes it. Built from what the open exceptions are
keyed on (models.RecordProblem), so the counts are exact."""
from __future__ import annotations

from decimal import Decimal

from flask import render_template, url_for
from peewee import fn

from blueprints.mappings import bp
from jobs import choices
from models import Connection, RecordProblem, SyncRecord
from blueprints.roles import role

KIND_LABELS = {"account": "GL account", "tax type": "tax code", "tax rate": "Xero tax rate",
               "tracking option": "location or department (tracking)",
               "routing": "routing (location)", "contact": "company (contact clash)",
               "setting": "setting", "currency": "currency", "data": "ConnectWise data"}
TABLE_OF = {"account": "accounts", "tax type": "taxes", "tax rate": "taxes",
            "tracking option": "tracking"}


def fix_link(kind: str, cw_value: str, org_id: int | None) -> str | None:
    """Where the mapping row that fixes this value is, opened on that value."""
    if kind == "tracking option" and org_id:
        # Keyed by the CW name (what the sentence shows); the row wants the CW id.
        place = next((i for k in ("locations", "departments")
                      for i in (choices.items("connectwise", k) or ())
                      if i["label"] == cw_value), None)
        return url_for("mappings.table", org_id=org_id, kind="tracking",
                       new=place["value"] if place else "")
    if kind == "tax rate" and org_id:    # a Xero tax type the org no longer has
        return url_for("mappings.table", org_id=org_id, kind="taxes", q=cw_value)
    if kind in TABLE_OF and org_id:
        return url_for("mappings.table", org_id=org_id, kind=TABLE_OF[kind], q=cw_value,
                       new=cw_value)
    if kind == "routing":
        return url_for("mappings.index", new=cw_value, _anchor="add-rule")
    if kind == "contact" and org_id:
        return url_for("mappings.contacts", org_id=org_id, company=cw_value)
    if kind == "setting":
        return url_for("settings.index", _anchor="sync-settings")
    return None


def unmapped_rows(limit: int = 500) -> list[dict]:
    count = fn.COUNT(SyncRecord.id.distinct())
    query = (RecordProblem
             .select(RecordProblem.org, RecordProblem.kind, RecordProblem.cw_value,
                     fn.MAX(RecordProblem.label).alias("label"), count.alias("records"),
                     fn.SUM(RecordProblem.amount).alias("total"),
                     fn.MIN(SyncRecord.updated_at).alias("since"))
             .join(SyncRecord, on=(RecordProblem.record == SyncRecord.id))
             .where(SyncRecord.state == "exception")
             .group_by(RecordProblem.org, RecordProblem.kind, RecordProblem.cw_value)
             .order_by(count.desc(), fn.SUM(RecordProblem.amount).desc())
             .limit(limit))
    orgs = {o.id: o.name for o in Connection.select()}
    totals = _totals_by_currency()
    rows = []
    for r in query.dicts():
        org_id = r["org"]
        rows.append({**r, "org_name": orgs.get(org_id, "not routed"),
                     "totals": totals.get((org_id, r["kind"], r["cw_value"]), []),
                     "kind_label": KIND_LABELS.get(r["kind"], r["kind"]),
                     "total": Decimal(str(r["total"])).quantize(Decimal("0.01"))
                     if r["total"] is not None else None,
                     "fix": fix_link(r["kind"], r["cw_value"], org_id)})
    return rows


def _totals_by_currency() -> dict[tuple, list[tuple[Decimal, str]]]:
    """Money held back per value and currency: AUD and USD invoices are never one sum."""
    query = (RecordProblem
             .select(RecordProblem.org, RecordProblem.kind, RecordProblem.cw_value,
                     SyncRecord.currency, fn.SUM(RecordProblem.amount).alias("total"))
             .join(SyncRecord, on=(RecordProblem.record == SyncRecord.id))
             .where((SyncRecord.state == "exception") & RecordProblem.amount.is_null(False))
             .group_by(RecordProblem.org, RecordProblem.kind, RecordProblem.cw_value,
                       SyncRecord.currency)
             .order_by(SyncRecord.currency))
    totals: dict[tuple, list[tuple[Decimal, str]]] = {}
    for r in query.dicts():
        totals.setdefault((r["org"], r["kind"], r["cw_value"]), []).append(
            (Decimal(str(r["total"])).quantize(Decimal("0.01")), r["currency"] or ""))
    return totals


@bp.route("/unmapped")
@role("viewer")
def unmapped():
    return render_template("mappings/unmapped.html", rows=unmapped_rows(),
                           orgs=list(Connection.select().where(Connection.kind == "xero")
                                     .order_by(Connection.name)))



"""Unmapped: every ConnectWise value that holds records back (no account, tax, tracking,
routing or contact for it), with how many records and how much money wait on it, most
first, each linked to the row that fixes it. Built from what the open exceptions are
keyed on (models.RecordProblem), so the counts are exact."""
from __future__ import annotations

from decimal import Decimal

from flask import render_template
from peewee import fn

from blueprints.mappings import bp
from jobs.fix_links import KIND_LABELS, fix_link
from models import Connection, RecordProblem, SyncRecord
from blueprints.roles import role

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



"""The mapping tables as the CSV import and export and the command line see them: rows
as dicts under each kind's CSV header, the codes the APIs offer for checking, and
applying a previewed file in one transaction.
"""
from __future__ import annotations

from jobs import choices
from models import (
    AccountMapping, Connection, ItemMapping, RoutingRule, TaxMapping, TrackingMapping, db,
)
from sync import mapping_csv
from sync.mapping_csv import Known, Preview

PER_ORG = ("accounts", "taxes", "tracking", "items")


def xero_orgs() -> list[Connection]:
    return list(Connection.select().where(Connection.kind == "xero")
                .order_by(Connection.name))


def org_by_name(name: str) -> Connection | None:
    return Connection.get_or_none((Connection.kind == "xero") & (Connection.name == name))


def rows(kind: str, org: Connection | None) -> list[dict]:
    """The kind's rows (for one org, routing excepted) in their CSV columns."""
    if kind == "routing":
        query = (RoutingRule.select(RoutingRule, Connection).join(Connection)
                 .order_by(RoutingRule.position, RoutingRule.id))
        return [{"position": str(r.position), "field": r.field, "value": r.value,
                 "record_type": r.record_type or "", "org": r.org.name} for r in query]
    if kind == "accounts":
        return [{"cw_gl_account": r.cw_account, "xero_account_code": r.xero_code}
                for r in AccountMapping.select().where(AccountMapping.org == org)
                .order_by(AccountMapping.cw_account)]
    if kind == "taxes":
        return [{"side": r.side, "cw_tax_code": r.cw_tax_code,
                 "xero_tax_type": r.xero_tax_type}
                for r in TaxMapping.select().where(TaxMapping.org == org)
                .order_by(TaxMapping.side, TaxMapping.cw_tax_code)]
    if kind == "tracking":
        return [{"category": r.category, "source": r.source, "cw_id": str(r.cw_id),
                 "option": r.option}
                for r in TrackingMapping.select().where(TrackingMapping.org == org)
                .order_by(TrackingMapping.category, TrackingMapping.cw_id)]
    if kind == "items":
        return [{"cw_item": r.cw_item, "xero_item_code": r.xero_item_code}
                for r in ItemMapping.select().where(ItemMapping.org == org)
                .order_by(ItemMapping.cw_item)]
    raise ValueError(kind)


def current(kind: str, org: Connection | None) -> dict[tuple, dict]:
    spec = mapping_csv.KINDS[kind]
    return {tuple(r[c] for c in spec.key): r for r in rows(kind, org)}


def known(kind: str, org: Connection | None) -> Known:
    """What the cached choice lists say exists (a list never read is not checked)."""
    org_id = org.id if org else None
    columns: dict = {}
    categories: dict[str, str] = {}
    if kind == "routing":
        locations = choices.values("connectwise", "locations")
        departments = choices.values("connectwise", "departments")
        if locations is not None and departments is not None:
            columns["value"] = locations | departments
    elif kind == "accounts":
        columns = {"cw_gl_account": choices.values("connectwise", "gl_accounts", None, False),
                   "xero_account_code": choices.values("xero", "accounts", org_id)}
    elif kind == "taxes":
        columns = {"cw_tax_code": choices.values("connectwise", "tax_codes", None, False),
                   "xero_tax_type": choices.values("xero", "tax_rates", org_id)}
    elif kind == "tracking":
        listed = choices.items("xero", "tracking", org_id)
        if listed is not None:
            columns["category"] = frozenset(c["value"] for c in listed if c["active"])
            columns["option"] = frozenset(o["value"] for c in listed if c["active"]
                                          for o in c["options"] if o["active"])
        for r in TrackingMapping.select().where(TrackingMapping.org == org):
            categories[r.category] = r.source
    elif kind == "items":
        columns = {"cw_item": choices.values("connectwise", "products", None, False),
                   "xero_item_code": choices.values("xero", "items", org_id)}
    return Known(columns=columns, orgs=frozenset(o.name for o in xero_orgs()),
                 org_name=org.name if org else "", tracking_categories=categories)


def preview(kind: str, data: bytes, org: Connection | None):
    return mapping_csv.preview(kind, data, current(kind, org), known(kind, org))


def apply(result: Preview, org: Connection | None) -> int:
    """Write the previewed file's added and changed rows in one transaction; returns how
    many. Refuses (ValueError) a preview with a rejected row: nothing is written."""
    if not result.acceptable:
        raise ValueError("A file with rejected rows is never applied.")
    kind = result.kind.name
    changes = result.changes
    with db.atomic():
        for row in changes:
            _upsert(kind, row.values, org)
    if kind != "routing" and org is not None:
        choices.invalidate_reference(org.id)
    return len(changes)


def _upsert(kind: str, v: dict, org: Connection | None) -> None:
    if kind == "routing":
        target = org_by_name(v["org"])
        rule = RoutingRule.get_or_none(
            (RoutingRule.field == v["field"]) & (RoutingRule.value == v["value"]) &
            (RoutingRule.record_type.is_null() if not v["record_type"]
             else RoutingRule.record_type == v["record_type"]))
        rule = rule or RoutingRule(field=v["field"], value=v["value"],
                                   record_type=v["record_type"] or None)
        rule.position, rule.org = int(v["position"]), target
        rule.save()
    elif kind == "accounts":
        AccountMapping.insert(org=org, cw_account=v["cw_gl_account"],
                              xero_code=v["xero_account_code"]).on_conflict(
            conflict_target=[AccountMapping.org, AccountMapping.cw_account],
            update={AccountMapping.xero_code: v["xero_account_code"]}).execute()
    elif kind == "taxes":
        TaxMapping.insert(org=org, side=v["side"], cw_tax_code=v["cw_tax_code"],
                          xero_tax_type=v["xero_tax_type"]).on_conflict(
            conflict_target=[TaxMapping.org, TaxMapping.side, TaxMapping.cw_tax_code],
            update={TaxMapping.xero_tax_type: v["xero_tax_type"]}).execute()
    elif kind == "tracking":
        TrackingMapping.insert(org=org, category=v["category"], source=v["source"],
                               cw_id=int(v["cw_id"]), option=v["option"]).on_conflict(
            conflict_target=[TrackingMapping.org, TrackingMapping.category,
                             TrackingMapping.cw_id],
            update={TrackingMapping.option: v["option"],
                    TrackingMapping.source: v["source"]}).execute()
    elif kind == "items":
        ItemMapping.insert(org=org, cw_item=v["cw_item"],
                           xero_item_code=v["xero_item_code"]).on_conflict(
            conflict_target=[ItemMapping.org, ItemMapping.cw_item],
            update={ItemMapping.xero_item_code: v["xero_item_code"]}).execute()

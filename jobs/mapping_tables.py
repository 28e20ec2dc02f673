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


# How a choice list is named in a sentence, and what a person types when it cannot be
# read (the API's own error stays in the audit log).
LISTS = {
    ("connectwise", "gl_accounts"): ("ConnectWise's GL account list", "the GL account number"),
    ("connectwise", "tax_codes"): ("ConnectWise's tax code list", "the tax code"),
    ("connectwise", "locations"): ("ConnectWise's location list", "the location's id"),
    ("connectwise", "departments"): ("ConnectWise's department list",
                                     "the department's id"),
    ("connectwise", "products"): ("ConnectWise's product list", "the product's identifier"),
    ("xero", "accounts"): ("Xero's account list", "the account code"),
    ("xero", "tax_rates"): ("Xero's tax rate list", "the tax type"),
    ("xero", "tracking"): ("Xero's tracking categories", "the category and option"),
    ("xero", "items"): ("Xero's item list", "the item code"),
}


def list_name(source: str, kind: str, org: Connection | None = None) -> str:
    name = LISTS.get((source, kind), (f"The {kind.replace('_', ' ')} list", ""))[0]
    return f"{name} of {org.name}" if source == "xero" and org is not None else name


def unread_sentence(source: str, kind: str, org: Connection | None = None) -> str:
    """The table's sentence for a list it cannot offer: typed by hand instead."""
    thing = LISTS.get((source, kind), ("", "the value"))[1]
    return (f"{list_name(source, kind, org)} could not be read, so type {thing} "
            "instead; Refresh choices tries again (the audit log says what went wrong).")


def known(kind: str, org: Connection | None) -> Known:
    """What the cached choice lists say exists. A list that was never read or could not
    be is not checked against, and the preview says so (accepting blindly would write
    typos; refusing every row would block an import whenever an API is down)."""
    org_id = org.id if org else None
    columns: dict = {}
    within: dict = {}
    categories: dict[str, str] = {}
    unchecked: list[str] = []

    def listed(source, list_kind, what, active_only=True):
        found = choices.values(source, list_kind, org_id if source == "xero" else None,
                               active_only)
        if found is None:
            row = choices.get(source, list_kind, org_id if source == "xero" else None)
            unchecked.append(
                f"{list_name(source, list_kind, org)} "
                + ("has not been read yet" if row is None else "could not be read")
                + f", so {what} were not checked against it: check them yourself, or "
                "press Refresh choices on the mapping pages and upload the file again.")
        return found

    def places(what):
        # ConnectWise ids by source; an inactive location still names older records.
        found = {"location": listed("connectwise", "locations", f"{what} of locations",
                                    False),
                 "department": listed("connectwise", "departments",
                                      f"{what} of departments", False)}
        return {k: v for k, v in found.items() if v is not None}

    if kind == "routing":
        within["value"] = ("field", places("the values"))
    elif kind == "accounts":
        columns = {"cw_gl_account": listed("connectwise", "gl_accounts",
                                           "the cw_gl_account values", False),
                   "xero_account_code": listed("xero", "accounts",
                                               "the xero_account_code values")}
    elif kind == "taxes":
        columns = {"cw_tax_code": listed("connectwise", "tax_codes",
                                         "the cw_tax_code values", False),
                   "xero_tax_type": listed("xero", "tax_rates", "the xero_tax_type values")}
    elif kind == "tracking":
        tracking = choices.items("xero", "tracking", org_id)
        if tracking is None:
            listed("xero", "tracking", "the category and option values")
        else:
            active = [c for c in tracking if c["active"]]
            columns["category"] = frozenset(c["value"] for c in active)
            # An option is checked against its own category, not every category's.
            within["option"] = ("category", {
                c["value"]: frozenset(o["value"] for o in c["options"] if o["active"])
                for c in active})
        within["cw_id"] = ("source", places("the cw_id values"))
        for r in TrackingMapping.select().where(TrackingMapping.org == org):
            categories[r.category] = r.source
    elif kind == "items":
        columns = {"cw_item": listed("connectwise", "products", "the cw_item values", False),
                   "xero_item_code": listed("xero", "items", "the xero_item_code values")}
    return Known(columns=columns, orgs=frozenset(o.name for o in xero_orgs()),
                 org_name=org.name if org else "", tracking_categories=categories,
                 within=within, unchecked=tuple(unchecked))


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

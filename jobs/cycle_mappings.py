"""The mapping tables and routing rules as the pure sync/ code wants them, read from
the database, plus the two facts only Xero knows (tax rates, base currency)."""
from __future__ import annotations

from decimal import Decimal

from models import (
    AccountMapping, Connection, ItemMapping, OrgRecordSetting, RoutingRule, Setting,
    TaxMapping, TrackingMapping,
)
from sync import routing
from sync.tables import OrgMappings, RecordSettings, TaxTypes, TrackingMap

DEFAULT_ORG_SETTING = "sync.default_org"
UNTAXED_KEYS = {"sales": "untaxed_sales", "purchases": "untaxed_purchases"}


def routing_rules(record_type: str) -> list[routing.RoutingRule]:
    """Rules as sync.routing reads them; the org is named by its connection id."""
    fields = {"location": "location_id", "department": "department_id", "member": "member",
              "tag": "integrator_tag", "company_type": "company_type"}
    rules = []
    query = RoutingRule.select().join(Connection).where(
        (Connection.status == "active") &
        (RoutingRule.record_type.is_null() | (RoutingRule.record_type == record_type)))
    for row in query:
        value = int(row.value) if fields[row.field].endswith("_id") else row.value
        rules.append(routing.RoutingRule(row.position, str(row.org_id),
                                         **{fields[row.field]: value}))
    return rules


def default_org() -> str | None:
    value = Setting.get_value(DEFAULT_ORG_SETTING)
    return str(value) if value else None


def org_mappings(org: Connection, tax_rates: dict[str, Decimal],
                 base_currency: str | None,
                 currencies: frozenset[str] | None = None) -> OrgMappings:
    taxes = {"sales": {}, "purchases": {}}
    for row in TaxMapping.select().where(TaxMapping.org == org):
        taxes[row.side][row.cw_tax_code] = row.xero_tax_type
    tracking: dict[str, TrackingMap] = {}
    for row in TrackingMapping.select().where(TrackingMapping.org == org).order_by(
            TrackingMapping.id):
        current = tracking.get(row.category) or TrackingMap(row.category, row.source, {})
        tracking[row.category] = TrackingMap(row.category, row.source,
                                             {**current.options, row.cw_id: row.option})
    extra = org.settings or {}
    return OrgMappings(
        org_name=org.name,
        accounts={r.cw_account: r.xero_code
                  for r in AccountMapping.select().where(AccountMapping.org == org)},
        sales_tax=TaxTypes(taxes["sales"], extra.get(UNTAXED_KEYS["sales"])),
        purchase_tax=TaxTypes(taxes["purchases"], extra.get(UNTAXED_KEYS["purchases"])),
        tax_rates=tax_rates,
        tracking=tuple(tracking.values())[:2],
        items={r.cw_item: r.xero_item_code
               for r in ItemMapping.select().where(ItemMapping.org == org)},
        settings={r.record_type: RecordSettings(r.status, r.line_amount_types)
                  for r in OrgRecordSetting.select().where(OrgRecordSetting.org == org)},
        rounding_account=extra.get("rounding_account"),
        base_currency=base_currency, currencies=currencies)


def xero_reference(client) -> tuple[dict[str, Decimal], str | None]:
    """Tax rates (type -> percent) and the base currency, read once per org per cycle."""
    rates = {r["TaxType"]: Decimal(str(r.get("EffectiveRate", 0)))
             for r in client.tax_rates() if r.get("Status", "ACTIVE") == "ACTIVE"}
    return rates, client.organisation().get("BaseCurrency")

"""Mappings: which Xero organisation gets a record (routing rules), and per organisation
the ConnectWise → Xero account, tax, tracking and item maps the sync engine uses."""
from flask import Blueprint, render_template

from models import (
    AccountMapping, Connection, ItemMapping, OrgRecordSetting, RoutingRule, TaxMapping,
    TrackingMapping,
)

bp = Blueprint("mappings", __name__, url_prefix="/mappings")


@bp.route("/")
def index():
    orgs = list(Connection.select().where(Connection.kind == "xero")
                .order_by(Connection.name))
    rules = list(RoutingRule.select(RoutingRule, Connection).join(Connection)
                 .order_by(RoutingRule.position, RoutingRule.id))
    per_org = []
    for org in orgs:
        per_org.append({
            "org": org,
            "accounts": list(AccountMapping.select().where(AccountMapping.org == org)
                             .order_by(AccountMapping.cw_account)),
            "taxes": list(TaxMapping.select().where(TaxMapping.org == org)
                          .order_by(TaxMapping.side, TaxMapping.cw_tax_code)),
            "tracking": list(TrackingMapping.select().where(TrackingMapping.org == org)
                             .order_by(TrackingMapping.category, TrackingMapping.cw_id)),
            "item_maps": list(ItemMapping.select().where(ItemMapping.org == org)
                          .order_by(ItemMapping.cw_item)),
            "settings": list(OrgRecordSetting.select().where(OrgRecordSetting.org == org)
                             .order_by(OrgRecordSetting.record_type)),
        })
    return render_template("mappings/index.html", orgs=orgs, rules=rules, per_org=per_org)

"""Which zone the installation shows its times in (sync/clock.py shows them): the one a
person chose in Settings; else the one chosen earlier for the alerts' digest; else the
first Xero organisation's own time zone (Organisation.Timezone, a Windows id read through
sync/xero_zones.py); else UTC. Stored times stay naive UTC."""
from __future__ import annotations

from models import Connection, Setting, XeroReference
from sync.clock import DEFAULT_ZONE, is_zone
from sync.xero_zones import iana_zone

DISPLAY_ZONE = "display.timezone"
LEGACY_ALERTS_ZONE = "alerts.timezone"


def chosen_zone() -> str | None:
    """The zone a person set (in Settings, or earlier for the digest), if any."""
    for key in (DISPLAY_ZONE, LEGACY_ALERTS_ZONE):
        name = Setting.get_value(key)
        if name and is_zone(name):
            return name
    return None


def first_org_zone() -> tuple[str | None, str | None]:
    """(IANA zone, organisation name) of the first Xero organisation connected, from its
    /Organisation as Ferry last read it; (None, name) when not read yet or unknown."""
    org = (Connection.select().where(Connection.kind == "xero").order_by(Connection.id)
           .first())
    if org is None:
        return None, None
    raw = (org.settings or {}).get("timezone")
    if not raw:
        row = XeroReference.get_or_none((XeroReference.org == org.id) &
                                        (XeroReference.kind == "organisation"))
        if row is not None:
            from connectors.jsontext import decode_json_text
            data = decode_json_text(row.data)
            raw = data.get("Timezone") if isinstance(data, dict) else None
    return iana_zone(raw), org.name


def display_zone() -> str:
    return chosen_zone() or first_org_zone()[0] or DEFAULT_ZONE

"""Where a person fixes what holds a record back: the mapping row (opened on the value),
the routing rule, the contact clash or the setting. The Exceptions and Unmapped pages
link to it and the alert mails too, so it lives here, below both (a job renders mails
without a request: jobs/alerts.py lends url_for an adapter)."""
from __future__ import annotations

from flask import url_for

from jobs import choices

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

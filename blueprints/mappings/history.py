"""Who changed which mapping when: every change made in the browser (a row added,
changed or deleted, a routing rule, how records are written, a contact linked, a CSV
imported) is a line in models.MappingChange, shown at /mappings/history."""
from flask import g, render_template, request

from blueprints.mappings import bp
from blueprints.roles import role
from models import MappingChange

AREAS = {"routing": "Routing", "accounts": "Accounts", "taxes": "Tax", "tracking":
         "Tracking", "items": "Items", "writing": "How records are written",
         "contacts": "Contacts", "import": "CSV import"}
SHOWN = 300


def record(area: str, action: str, detail: str, org=None) -> None:
    """One line of history, by the signed-in person (None from the command line)."""
    user = g.get("user")
    MappingChange.create(user_email=user.email if user else None,
                         org_name=org.name if org is not None else None,
                         area=area, action=action, detail=detail[:2000])


def row_words(tbl, values: dict) -> str:
    """A mapping row in words from its stored values: "4900 → 260"."""
    keys = " ".join(str(values[c.name]) for c in tbl.columns if c.key)
    return f"{keys} → {values[tbl.target]}"


@bp.get("/history")
@role("viewer")
def history():
    area = request.args.get("area", "")
    query = MappingChange.select()
    if area in AREAS:
        query = query.where(MappingChange.area == area)
    changes = list(query.order_by(MappingChange.at.desc(), MappingChange.id.desc())
                   .limit(SHOWN))
    return render_template("mappings/history.html", changes=changes, areas=AREAS,
                           area=area, shown=SHOWN)

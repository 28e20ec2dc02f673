"""Ferry's own options: how long the audit log is kept, the time zone every page and
mail shows times in; and a warning when the reverse proxy setting looks wrong."""
from flask import redirect, render_template, request, url_for

from blueprints.auth import proxy_misconfigured
from blueprints.settings import answer, bp, section
from blueprints.query_args import whole_number
from jobs.audit import RETENTION_SETTING, retention_days
from blueprints.roles import role
from jobs.display_zone import DISPLAY_ZONE, display_zone, first_org_zone
from models import Setting, utcnow
from sync.clock import is_zone, zone_names


def _render(values: dict, *, message=None, problems=None) -> str:
    org_zone, org_name = first_org_zone()
    return render_template("settings/_general.html", values=values, message=message,
                           problems=problems, zones=zone_names(), org_zone=org_zone,
                           org_name=org_name, now=utcnow())


def _values() -> dict:
    return {"retention_days": retention_days(),
            "timezone": Setting.get_value(DISPLAY_ZONE) or ""}


@section(order=1)
def proxy_warning_section():
    """A warning at the top when requests look proxied but FERRY_PROXY_FIX is off (the
    log says it too): every sign-in then seems to come from the proxy."""
    return render_template("auth/_proxy_warning.html") if proxy_misconfigured() else ""


@section(order=90)
def general_section():
    return _render(_values())


def _answer(html: str, status: int = 200):
    return answer(general_section, html, status)


@bp.post("/general")
@role("administrator")
def save_general():
    raw = request.form.get("retention_days", "").strip()
    chosen = request.form.get("timezone", "").strip()
    values = {"retention_days": raw, "timezone": chosen}
    problems = []
    if not 1 <= (whole_number(raw) or 0) <= 365:
        problems.append(f"Keep the audit log between 1 and 365 days; “{raw}” is not a number "
                        "of days in that range.")
    if chosen and not is_zone(chosen):
        problems.append(f"“{chosen}” is not a time zone Ferry knows: choose one from the "
                        "list, like Australia/Adelaide, Pacific/Auckland or UTC.")
    if problems:
        return _answer(_render(values, problems=problems), 422)
    Setting.set_value(RETENTION_SETTING, int(raw))
    Setting.set_value(DISPLAY_ZONE, chosen or None)
    if not request.headers.get("HX-Request"):
        return redirect(url_for("settings.index"))
    return _render(_values(), message=(
        f"Saved. Audit entries older than {int(raw)} days are removed each night; times "
        f"are shown in {display_zone()}."))

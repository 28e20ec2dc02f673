"""Ferry's own options: how long the audit log is kept; and a warning when the reverse
proxy setting looks wrong."""
from flask import redirect, render_template, request, url_for

from blueprints.auth import proxy_misconfigured
from blueprints.settings import answer, bp, section
from blueprints.query_args import whole_number
from jobs.audit import RETENTION_SETTING, retention_days
from models import Setting
from blueprints.roles import role


def _render(values: dict, *, message=None, problems=None) -> str:
    return render_template("settings/_general.html", values=values, message=message,
                           problems=problems)


@section(order=1)
def proxy_warning_section():
    """A warning at the top when requests look proxied but FERRY_PROXY_FIX is off (the
    log says it too): every sign-in then seems to come from the proxy."""
    return render_template("auth/_proxy_warning.html") if proxy_misconfigured() else ""


@section(order=90)
def general_section():
    return _render({"retention_days": retention_days()})


def _answer(html: str, status: int = 200):
    return answer(general_section, html, status)


@bp.post("/general")
@role("administrator")
def save_general():
    raw = request.form.get("retention_days", "").strip()
    values = {"retention_days": raw}
    if not 1 <= (whole_number(raw) or 0) <= 365:
        return _answer(_render(values, problems=[
            f"Keep the audit log between 1 and 365 days; “{raw}” is not a number of days "
            "in that range."]), 422)
    Setting.set_value(RETENTION_SETTING, int(raw))
    if not request.headers.get("HX-Request"):
        return redirect(url_for("settings.index"))
    return _render({"retention_days": int(raw)},
                   message=f"Saved. Audit entries older than {int(raw)} days are removed "
                           "each night.")

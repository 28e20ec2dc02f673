"""Settings → Real time: per connection on or off. For ConnectWise, Ferry registers its
callbacks itself (and deletes them when turned off) and shows them; for Xero, the page
says what to paste into the Xero app's webhook settings and keeps the webhook key
(encrypted). The engine side is jobs/realtime.py; the doors are blueprints/webhooks.py."""
from __future__ import annotations

from flask import current_app, render_template, request

from blueprints.settings import answer, bp, section
from jobs import realtime
from models import Connection, Setting
from blueprints.roles import role

KEY_MIN, KEY_MAX = 20, 200


def _render(*, message=None, problem=None) -> str:
    base = current_app.config["BASE_URL"]
    cw = realtime.cw_connection()
    orgs = list(Connection.select().where(Connection.kind == "xero").order_by(Connection.name))
    return render_template(
        "settings/_realtime.html", cw=cw, cw_on=realtime.is_on(cw), orgs=orgs,
        org_on={o.id: realtime.is_on(o) for o in orgs},
        callbacks=realtime.registered_callbacks(),
        callbacks_current=realtime.callbacks_current(base) if cw else True,
        xero_url=realtime.xero_hook_url(base),
        key_stored=bool(Setting.get_value(realtime.XERO_KEY)),
        https=base.startswith("https://"), message=message, problem=problem,
        last_cw=realtime.last_event("connectwise"), last_xero=realtime.last_event("xero"))


@section(order=35)
def realtime_section():
    return _render()


@bp.route("/realtime", methods=["POST"])
@role("administrator")
def save_realtime():
    form = request.form
    key = (form.get("xero_key") or "").strip()
    if key and (not KEY_MIN <= len(key) <= KEY_MAX or any(c.isspace() for c in key)):
        return answer(realtime_section, _render(problem=(
            "The Xero webhook key does not look like one: copy the whole key from the "
            "Webhooks page of your app at developer.xero.com (no spaces). Nothing was "
            "saved.")), 422)
    cw = realtime.cw_connection()
    if cw is not None:
        realtime.set_on(cw, bool(form.get("cw_on")))
    for org in Connection.select().where(Connection.kind == "xero"):
        realtime.set_on(org, bool(form.get(f"org{org.id}_on")))
    if key:
        Setting.set_value(realtime.XERO_KEY, key, secret=True)
    elif form.get("forget_key"):
        Setting.delete().where(Setting.key == realtime.XERO_KEY).execute()
    message = "Real time settings saved."
    problem = None
    if cw is not None or realtime.registered_callbacks():
        try:
            hooks = realtime.sync_callbacks(current_app.config["BASE_URL"])
            message += (f" ConnectWise callbacks registered: {len(hooks)}." if hooks else
                        " No ConnectWise callbacks are registered.")
        except Exception as exc:            # the connector's sentence, or what broke
            problem = ("ConnectWise did not accept the callbacks: "
                       f"{getattr(exc, 'args', [''])[0] or type(exc).__name__}. The "
                       "schedule keeps syncing; try again once ConnectWise answers.")
    return answer(realtime_section, _render(message=message, problem=problem))

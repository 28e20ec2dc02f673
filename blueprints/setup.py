"""Guided setup: five steps from nothing to a first cycle watched live. The dashboard
opens it on first run (nothing connected, no cycle yet); it can be re-opened from the
dashboard at any time. Each step reuses the real forms (the settings sections post to
their own endpoints and swap in place), so what is saved here is saved in Settings.

1 administrator (made on the first-run screen), 2 ConnectWise and Test connection,
3 Connect Xero and choose organisations, 4 mappings (what is still unmapped, and the
Unmapped view at /mappings/unmapped), 5 the first cycle, watched live.
"""
from __future__ import annotations

from flask import Blueprint, abort, g, redirect, render_template, session, url_for
from markupsafe import Markup

from models import Connection, SyncRecord, SyncRun, User
from blueprints.roles import role

bp = Blueprint("setup", __name__, url_prefix="/setup")

STEPS = {1: "Administrator", 2: "ConnectWise", 3: "Xero", 4: "Mappings",
         5: "First sync"}
UNMAPPED_URL = "/mappings/unmapped"       # the mappings area's Unmapped view


def progress() -> dict[int, bool]:
    """Which steps are done, read from what is stored (nothing kept for the wizard)."""
    from blueprints.dashboard import connection_problem
    cw = Connection.get_or_none((Connection.kind == "connectwise") &
                                (Connection.status == "active"))
    xero = Connection.select().where((Connection.kind == "xero") &
                                     (Connection.status == "active")).exists()
    return {1: User.select().exists(),
            2: cw is not None and connection_problem(cw)[0] is None,
            3: xero,
            4: xero and missing_mappings()["records"] == 0
            and SyncRun.select().exists(),
            5: SyncRun.select().where(SyncRun.status == "done").exists()}


def missing_mappings() -> dict:
    """How many distinct values (accounts, tax codes, tracking options, contacts...)
    still lack a mapping, and how many records wait for them."""
    waiting = SyncRecord.select().where(SyncRecord.state == "exception").count()
    try:
        from models import RecordProblem
    except ImportError:                    # the mappings area without problem keys
        return {"values": None, "records": waiting}
    keys = (RecordProblem.select(RecordProblem.kind, RecordProblem.cw_value,
                                 RecordProblem.org)
            .join(SyncRecord).where(SyncRecord.state == "exception").distinct().count())
    return {"values": keys, "records": waiting}


def first_open_step() -> int:
    done = progress()
    return next((n for n in STEPS if not done[n]), 5)


@bp.route("/")
@role("administrator")
def index():
    return redirect(url_for("setup.step", number=first_open_step()))


@bp.route("/<int:number>")
@role("administrator")
def step(number: int):
    if number not in STEPS:
        abort(404)
    session["setup_step"] = number         # Settings offers the way back here
    done = progress()
    context = {"number": number, "steps": STEPS, "done": done, "user": g.user}
    if number == 2:
        from blueprints.settings.connectwise import connectwise_section
        context["section"] = Markup(connectwise_section())
    elif number == 3:
        from blueprints.settings.xero import xero_section
        context["section"] = Markup(xero_section())
        context["orgs"] = list(Connection.select().where(Connection.kind == "xero")
                               .order_by(Connection.name))
    elif number == 4:
        context["missing"] = missing_mappings()
        context["unmapped_url"] = UNMAPPED_URL
    elif number == 5:
        from blueprints.dashboard import live_state
        from blueprints.labels import DOCUMENT_TYPES, MANY
        context["live"] = live_state()
        context["sync_types"] = {t: MANY[t] for t in DOCUMENT_TYPES}
    return render_template(f"setup/step{number}.html", **context)


@bp.post("/finish")
@role("administrator")
def finish():
    session.pop("setup_step", None)
    return redirect(url_for("dashboard.index"))

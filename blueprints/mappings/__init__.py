"""Mappings: which Xero organisation gets a record (routing rules), and per organisation
the ConnectWise → Xero account, tax, tracking and item maps the sync engine uses, edited
in the browser (inline, in bulk, or as CSV), with the values that still hold records back
(Unmapped) and contact clashes to resolve.

Every view works as a plain link or form post; an HTMX request gets the partial alone.
Sub-modules add their routes to `bp`; `flask --app app mappings export|import` lives in
cli.py (a blueprint CLI group, so app.py needs no edit).
"""
import importlib

from flask import Blueprint, render_template, request

from blueprints.dashboard import refuse_nul

bp = Blueprint("mappings", __name__, url_prefix="/mappings")
bp.before_request(refuse_nul)      # its filters and forms go straight to queries


def is_htmx() -> bool:
    return bool(request.headers.get("HX-Request"))


def page_or_partial(partial: str, page: str, status: int = 200, **context):
    if is_htmx():
        return render_template(partial, **context), status
    return render_template(page, **context), status


for _name in ("routing", "tables", "unmapped", "contacts", "imports", "cli",
              "history"):
    importlib.import_module(f"{__name__}.{_name}")

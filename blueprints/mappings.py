"""Mappings: Routing rules and the account, tax and tracking maps per Xero organisation."""
from flask import Blueprint, render_template

bp = Blueprint("mappings", __name__, url_prefix="/mappings")


@bp.route("/")
def index():
    return render_template("mappings/index.html")

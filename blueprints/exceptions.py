"""Exceptions: Records Ferry could not write, and why."""
from flask import Blueprint, render_template

bp = Blueprint("exceptions", __name__, url_prefix="/exceptions")


@bp.route("/")
def index():
    return render_template("exceptions/index.html")

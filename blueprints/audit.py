"""Audit log: Every request Ferry sent to ConnectWise and Xero, and the answer."""
from flask import Blueprint, render_template

bp = Blueprint("audit", __name__, url_prefix="/audit")


@bp.route("/")
def index():
    return render_template("audit/index.html")

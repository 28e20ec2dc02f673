"""Records: Every ConnectWise record Ferry has read, with its state in Xero."""
from flask import Blueprint, render_template

bp = Blueprint("records", __name__, url_prefix="/records")


@bp.route("/")
def index():
    return render_template("records/index.html")

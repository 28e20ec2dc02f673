"""Guided setup (placeholder, filled below)."""
from flask import Blueprint

bp = Blueprint("setup", __name__, url_prefix="/setup")


@bp.route("/")
def index():
    return "setup"

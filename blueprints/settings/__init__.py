"""Settings: the connections to ConnectWise and Xero, and Ferry's own options.

Each connection kind lives in a sub-module of this package that adds its routes to `bp`
and contributes a section to the settings page with `@section(order)`: a function that
returns that section's HTML. Sub-modules are imported automatically.
"""
import importlib
import pkgutil

from flask import Blueprint, render_template, request
from markupsafe import Markup

from models import Connection
from blueprints.roles import role

bp = Blueprint("settings", __name__, url_prefix="/settings")

_sections: list[tuple[int, callable]] = []


def section(order: int):
    """Register a function returning one section of the settings page, in `order`."""
    def register(render):
        _sections.append((order, render))
        _sections.sort(key=lambda item: item[0])
        return render
    return register


def _page(replaced=None, html: str = ""):
    connections = Connection.select().order_by(Connection.kind, Connection.name)
    rendered = [Markup(html) if render is replaced else Markup(render())
                for _, render in _sections]
    return render_template("settings/index.html", connections=connections,
                           sections=rendered)


def answer(section_render, html: str, status: int = 200):
    """The answer to a form posted from one section: HTMX gets the section alone; a
    plain form post gets the whole settings page with this section (and its messages)
    in place."""
    if request.headers.get("HX-Request"):
        return html, status
    return _page(section_render, html), status


@bp.route("/")
@role("viewer")
def index():
    return _page()


for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

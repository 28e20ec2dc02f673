"""Who may do what: every view declares the least role that may use it, and one check
before every request (blueprints/auth.py) compares the signed-in person's role with it.

Roles, each including the ones below it:

  viewer         reads every page and exports CSV (an auditor, the owner)
  finance        also edits mappings, fixes exceptions, forces re-syncs, resends mail
  administrator  also connections, settings, people (invitations, roles, resets)

A view says `@role("finance")`, or per method `@role(GET="viewer", POST="finance")`;
`public` views need no sign-in at all. A view that declares nothing is treated as
administrator-only (closed, not open), and tests/security/test_roles.py fails until it
declares its role. Templates ask `can("endpoint")` to hide what a role cannot use; the
server's check is what counts.
"""
from flask import current_app, g, render_template, request

ROLES = ("viewer", "finance", "administrator")
LABELS = {"viewer": "Viewer", "finance": "Finance", "administrator": "Administrator"}
DESCRIPTIONS = {
    "viewer": "reads every page and exports CSV",
    "finance": "also edits mappings, fixes exceptions, forces re-syncs, resends mail",
    "administrator": "also connections, settings and people",
}
UNDECLARED = "administrator"
FORBIDDEN = ("Your role ({role}) cannot do this: it needs {needed}. Ask an "
             "administrator if you need it.")


def role(minimum: str | None = None, **by_method: str):
    """Declare the least role that may use this view (for every method, or per method:
    `role(GET="viewer", POST="finance")`; a method not named falls back to `minimum`,
    or to administrator)."""
    for name in [minimum, *by_method.values()]:
        if name is not None and name not in ROLES:
            raise ValueError(f"unknown role {name!r}")

    def mark(view):
        view.ferry_roles = {"*": minimum, **{m.upper(): r for m, r in by_method.items()}}
        return view
    return mark


def declared(app, endpoint: str) -> bool:
    view = app.view_functions.get(endpoint)
    return (endpoint == "static" or hasattr(view, "ferry_roles")
            or getattr(view, "ferry_public", False))


def needed(app, endpoint: str, method: str) -> str | None:
    """The least role for `method` on `endpoint`; None when it is public (Flask's own
    static files are: every page needs its stylesheet)."""
    view = app.view_functions.get(endpoint)
    if endpoint == "static" or getattr(view, "ferry_public", False):
        return None
    roles = getattr(view, "ferry_roles", None) or {}
    method = "GET" if method in ("HEAD", "OPTIONS") else method.upper()
    return roles.get(method) or roles.get("*") or UNDECLARED


def allows(user_role: str | None, least: str | None) -> bool:
    if least is None:
        return True
    if user_role not in ROLES:
        return False
    return ROLES.index(user_role) >= ROLES.index(least)


def check(app, user) -> object | None:
    """None when `user` may make this request; otherwise the 403 answer."""
    if request.endpoint not in app.view_functions:
        return None
    least = needed(app, request.endpoint, request.method)
    if allows(user.role, least):
        return None
    sentence = FORBIDDEN.format(role=LABELS.get(user.role, user.role),
                                needed=f"{LABELS[least].lower()} or above"
                                if least != "administrator" else "an administrator")
    if request.headers.get("HX-Request"):
        return render_template("errors/_forbidden.html", sentence=sentence), 403
    return render_template("errors/403.html", sentence=sentence), 403


def can(endpoint: str, method: str = "POST") -> bool:
    """In templates: may the signed-in person use `endpoint` (to hide what they cannot)."""
    user = g.get("user")
    if user is None or endpoint not in current_app.view_functions:
        return False
    return allows(user.role, needed(current_app, endpoint, method))


def install(app) -> None:
    app.jinja_env.globals.update(can=can, role_labels=LABELS)

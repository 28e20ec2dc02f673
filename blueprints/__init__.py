"""One blueprint per area of the app. `public` marks the few views that need no login."""


def public(view):
    """Let this view be reached without signing in (login, health check, OAuth callback)."""
    view.ferry_public = True
    return view


def without_database(view):
    """A public view run without opening the database first and without loading the
    signed-in user (health checks: a database that is down must not turn them into an
    error page)."""
    view.ferry_without_database = True
    return public(view)


def needs_database(app, endpoint: str | None) -> bool:
    view = app.view_functions.get(endpoint) if endpoint else None
    return not getattr(view, "ferry_without_database", False)


def register_blueprints(app) -> None:
    from blueprints import (
        audit, auth, dashboard, exceptions, health, mappings, metrics, outbox, people,
        records, reports, runs, settings, setup, webhooks,
    )
    for module in (auth, health, metrics, dashboard, records, mappings, audit, exceptions,
                   settings, runs, setup, outbox, reports, people, webhooks):
        app.register_blueprint(module.bp)
    # ConnectWise and Xero post here: they hold no session, and prove themselves by a
    # secret in the address or a signature of the body instead (blueprints/webhooks.py).
    app.extensions["csrf"].exempt(webhooks.bp)
    if app.config.get("DEMO"):
        from blueprints import demo
        app.register_blueprint(demo.bp)
    auth.require_login_everywhere(app)
    from blueprints import roles
    roles.install(app)
    from blueprints import body_limits      # first of all: before the CSRF check reads a form
    body_limits.install(app)

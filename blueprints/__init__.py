"""One blueprint per area of the app. `public` marks the few views that need no login."""


def public(view):
    """Let this view be reached without signing in (login, health check, OAuth callback)."""
    view.ferry_public = True
    return view


def register_blueprints(app) -> None:
    from blueprints import (
        audit, auth, dashboard, exceptions, health, mappings, metrics, outbox, records, runs,
        settings, setup,
    )
    for module in (auth, health, metrics, dashboard, records, mappings, audit, exceptions,
                   settings, runs, setup, outbox):
        app.register_blueprint(module.bp)
    if app.config.get("DEMO"):
        from blueprints import demo
        app.register_blueprint(demo.bp)
    auth.require_login_everywhere(app)

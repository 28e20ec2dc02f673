"""The role matrix: every route of the app, walked from app.url_map, as administrator,
finance, viewer and a stranger, is allowed or refused (403) exactly as POLICY below
declares. A route added without a line here, or without a role declared on its view
(blueprints/roles.py), fails this test."""
import re

import pytest

from models import User, db

PUBLIC = "public"
V, F, A = "viewer", "finance", "administrator"

# endpoint: the least role for every method, or {method: least role}.
POLICY = {
    "static": PUBLIC,
    "auth.login": PUBLIC, "auth.setup": PUBLIC, "health.healthz": PUBLIC,
    "health.readyz": PUBLIC, "metrics.metrics": PUBLIC, "settings.xero_callback": PUBLIC,
    "webhooks.connectwise": PUBLIC, "webhooks.xero": PUBLIC, "people.welcome": PUBLIC,
    "auth.account": V, "auth.change_password": V, "auth.logout": V,
    "auth.sign_out_everywhere": V,
    "dashboard.index": V, "dashboard.live": V, "dashboard.health": V,
    "records.index": V, "records.detail": V,
    "runs.index": V, "runs.detail": V, "runs.job": V,
    "runs.confirm_force": F, "runs.force": F,
    "audit.index": V, "audit.live": V, "audit.detail": V, "audit.export": V,
    "exceptions.index": V, "exceptions.toolbar": V,
    "exceptions.dismiss_form": F, "exceptions.dismiss": F,
    "reports.index": V, "reports.report": V, "reports.report_csv": V,
    "reports.reconciliation": {"GET": V, "POST": F},
    "outbox.index": V, "outbox.detail": V, "outbox.resend_mail": F,
    "mappings.index": V, "mappings.table": V, "mappings.view_row": V,
    "mappings.contacts": V, "mappings.unmapped": V, "mappings.export": V,
    "mappings.refresh_status": V, "mappings.history": V,
    "mappings.edit_row": F, "mappings.edit_rule": F, "mappings.import_page": V,
    "mappings.add_row": F, "mappings.add_rule": F, "mappings.apply_import": F,
    "mappings.bulk": F, "mappings.create_contact": F, "mappings.delete_row": F,
    "mappings.delete_rule": F, "mappings.link_contact": F, "mappings.move_rule": F,
    "mappings.refresh": F, "mappings.save_default": F, "mappings.save_row": F,
    "mappings.save_rule": F, "mappings.save_writing": F, "mappings.upload": F,
    "settings.index": V,
    "settings.choose_xero_orgs": A, "settings.connect_xero": A,
    "settings.disconnect_xero": A, "settings.save_alerts": A,
    "settings.save_connectwise": A, "settings.save_general": A,
    "settings.save_realtime": A, "settings.save_sync": A, "settings.save_xero_app": A,
    "settings.save_xero_orgs": A, "settings.test_connectwise": A,
    "settings.test_mail": A, "settings.test_xero": A,
    "setup.index": A, "setup.step": A, "setup.finish": A,
    "people.index": A, "people.invite": A, "people.change_role": A, "people.reset": A,
    "people.remove": A, "people.cancel_link": A,
    "demo.index": V, "demo.pay": F,
}
ROLES = (V, F, A)


def least(endpoint: str, method: str) -> str:
    rule = POLICY[endpoint]
    return rule if isinstance(rule, str) else rule[method]


def _path(rule) -> str:
    # Ids no database holds (the view, once allowed, answers 404); "x" for strings.
    def value(match):
        return "987654" if match.group(1).startswith("int") else "x"
    return re.sub(r"<(?:([^:>]+):)?[^>]+>",
                  lambda m: value(m) if m.group(1) else "x", rule.rule)


def _routes(app):
    for rule in app.url_map.iter_rules():
        # A file that is there: the stylesheet every page (and the sign-in page) needs.
        path = "/static/css/ferry.css" if rule.endpoint == "static" else _path(rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule.endpoint, method, path


@pytest.fixture
def matrix_app(app):
    from blueprints import demo
    app.register_blueprint(demo.bp)         # the demo's pages too (FERRY_DEMO=1)
    app.config["WTF_CSRF_ENABLED"] = False  # tests/security/test_csrf_walk.py covers it
    with app.app_context(), db.connection_context():
        for name in ROLES:
            if name != A:
                User.create(email=f"{name}-role@msp.example", password_hash="x", role=name)
    return app


def _sign_in(client, email: str) -> None:
    from blueprints.auth import session_version
    import time
    with db.connection_context():
        user = User.get(User.email == email)
        version = session_version(user.id)
    with client.session_transaction() as session:
        session.update(user_id=user.id, session_version=version,
                       signed_in_at=int(time.time()))


def _open(client, path, method, **kwargs):
    answer = client.open(path, method=method, **kwargs)
    answer.get_data()       # a streamed CSV runs to its end inside its request
    answer.close()
    return answer


def test_every_route_declares_its_role(matrix_app):
    from blueprints.roles import declared
    endpoints = {rule.endpoint for rule in matrix_app.url_map.iter_rules()}
    missing = sorted(endpoints - set(POLICY))
    assert not missing, f"routes without a line in POLICY: {missing}"
    undeclared = sorted(e for e in endpoints if not declared(matrix_app, e))
    assert not undeclared, f"views without @role or @public: {undeclared}"
    assert not set(POLICY) - endpoints, "POLICY names routes that no longer exist"


def test_role_matrix(matrix_app):
    from tests.conftest import ADMIN_EMAIL
    emails = {A: ADMIN_EMAIL, F: "finance-role@msp.example", V: "viewer-role@msp.example"}
    routes = list(_routes(matrix_app))
    assert len(routes) > 80
    wrong = []
    for endpoint, method, path in routes:
        need = least(endpoint, method)
        # A stranger: public routes answer; every other one sends to the sign-in page.
        client = matrix_app.test_client()
        answer = _open(client, path, method)
        if need == PUBLIC:
            # (The sign-in form's own 401 for a wrong password is its answer, not a refusal.)
            if answer.status_code == 403 or "/login?next" in (answer.location or ""):
                wrong.append((endpoint, method, "anonymous", answer.status_code))
        else:
            htmx = _open(client, path, method, headers={"HX-Request": "true"})
            if not (answer.status_code == 302 and "/login?next" in answer.location
                    and htmx.status_code == 401):
                wrong.append((endpoint, method, "anonymous", answer.status_code))
        for name in ROLES:
            client = matrix_app.test_client()
            _sign_in(client, emails[name])
            answer = _open(client, path, method)
            allowed = need == PUBLIC or ROLES.index(name) >= ROLES.index(need)
            # (/readyz answers 503 while nothing is connected: its own answer.)
            failed = answer.status_code >= 500 and need != PUBLIC
            if allowed and (answer.status_code == 403 or failed
                            or "/login?next" in (answer.location or "")):
                wrong.append((endpoint, method, name, answer.status_code, "refused"))
            if not allowed and answer.status_code != 403:
                wrong.append((endpoint, method, name, answer.status_code, "let through"))
    assert not wrong, wrong


def test_refusal_says_why_and_changes_nothing(matrix_app):
    client = matrix_app.test_client()
    _sign_in(client, "viewer-role@msp.example")
    answer = client.post("/settings/general", data={"retention_days": "1"})
    assert answer.status_code == 403
    text = answer.get_data(as_text=True)
    assert "Your role (Viewer) cannot do this: it needs an administrator." in text
    htmx = client.post("/mappings/routing/new", headers={"HX-Request": "true"})
    assert htmx.status_code == 403 and "<html" not in htmx.get_data(as_text=True)
    assert "finance or above" in htmx.get_data(as_text=True)


def test_pages_say_the_role_and_hide_what_it_cannot_use(matrix_app):
    client = matrix_app.test_client()
    _sign_in(client, "finance-role@msp.example")
    html = client.get("/settings/").get_data(as_text=True)
    assert 'data-role="finance"' in html and ">Finance</span>" in html
    assert "an administrator changes them" in html and 'class="admin-forms"' in html
    assert 'href="/people/"' not in html           # no People in the navigation
    css = client.get("/static/css/ferry.css").get_data(as_text=True)
    assert 'body[data-role="viewer"] form[method="post"]:not(.any-role)' in css

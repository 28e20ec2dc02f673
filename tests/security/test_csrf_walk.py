"""Every state-changing route refuses a request without a valid CSRF token: a plain
form post, an HTMX request (which sends the token as the X-CSRFToken header) and a
forged token alike. The routes are found by walking the app's url_map, so a route added
later is covered without editing this test."""
import re

from tests.conftest import csrf_token

STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}


def _concrete(rule) -> str:
    # "1" satisfies every converter Ferry uses (int, string, path).
    return re.sub(r"<[^>]+>", "1", rule.rule)


# ConnectWise and Xero post here without a session: a secret in the address or the body's
# signature is what they prove (tests/realtime/test_endpoints.py), so no CSRF token.
SIGNED_INSTEAD = ("webhooks.",)


def state_changing_routes(app):
    return sorted((method, _concrete(rule)) for rule in app.url_map.iter_rules()
                  for method in rule.methods & STATE_CHANGING
                  if not rule.endpoint.startswith(SIGNED_INSTEAD))


def test_every_state_changing_route_needs_the_token(app, client, auth):
    auth.login()
    routes = state_changing_routes(app)
    assert len(routes) >= 10, routes
    for method, path in routes:
        attempts = {
            "form post": {},
            "htmx": {"headers": {"HX-Request": "true"}},
            "forged token": {"headers": {"HX-Request": "true", "X-CSRFToken": "forged"},
                             "data": {"csrf_token": "forged"}},
        }
        for name, kwargs in attempts.items():
            response = client.open(path, method=method, **kwargs)
            assert response.status_code == 400, (name, method, path, response.status_code)
    # Still signed in: not even /logout went through.
    assert client.get("/settings/").status_code == 200


def test_the_real_token_is_accepted(client, auth):
    auth.login()
    token = csrf_token(client, "/settings/")
    response = client.post("/account/sign-out-everywhere",
                           headers={"HX-Request": "true", "X-CSRFToken": token})
    assert response.status_code == 302

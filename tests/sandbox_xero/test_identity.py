"""The OAuth flow Ferry drives, end to end over HTTP, and the token rules it must live with."""
from urllib.parse import parse_qs, urlsplit

from sandbox.xero import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

from .conftest import REDIRECT_URI, Api, authorize_params, login
from .contract import check_connections

AUTH = (DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)


def _code_from(answer):
    assert answer.status_code == 302, answer.text
    return parse_qs(urlsplit(answer.headers["Location"]).query)


def test_consent_page_lists_both_orgs_and_submitting_it_connects_them(xero):
    params, verifier = authorize_params()
    page = xero.http.get("/identity/connect/authorize", params=params)
    assert page.status_code == 200
    assert "Adelaide IT Services Pty Ltd" in page.text and "Sydney IT Services Pty Ltd" in page.text
    assert page.text.count('checked') == 2
    form = dict(params, decision="allow")
    form["tenant"] = [o.tenant_id for o in xero.xero.store.orgs.values()]
    query = _code_from(xero.http.post("/identity/connect/authorize", data=form))
    assert query["state"] == [params["state"]]
    token = xero.http.post("/connect/token", auth=AUTH, data={
        "grant_type": "authorization_code", "code": query["code"][0],
        "redirect_uri": REDIRECT_URI, "code_verifier": verifier}).json()
    assert token["token_type"] == "Bearer" and token["expires_in"] == 1800
    assert token["refresh_token"]
    connections = xero.http.get("/connections", headers={
        "Authorization": f"Bearer {token['access_token']}"})
    check_connections(connections.json())
    assert sorted(c["tenantName"] for c in connections.json()) == [
        "Adelaide IT Services Pty Ltd", "Sydney IT Services Pty Ltd"]
    assert {c["tenantType"] for c in connections.json()} == {"ORGANISATION"}


def test_wrong_pkce_verifier_and_reused_code_are_invalid_grant(xero):
    params, verifier = authorize_params(auto_consent="1")
    code = _code_from(xero.http.get("/identity/connect/authorize", params=params))["code"][0]
    bad = xero.http.post("/connect/token", auth=AUTH, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier + "x"})
    assert (bad.status_code, bad.json()) == (400, {"error": "invalid_grant"})
    again = xero.http.post("/connect/token", auth=AUTH, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier})
    assert again.json() == {"error": "invalid_grant"}


def test_authorize_refuses_unknown_client_bad_scope_and_denial_redirects(xero):
    params, _ = authorize_params(client_id="NOPE")
    assert xero.http.get("/identity/connect/authorize", params=params).status_code == 400
    params, _ = authorize_params(scope="accounting.everything")
    assert "invalid_scope" in xero.http.get("/identity/connect/authorize", params=params).text
    params, _ = authorize_params(response_type="token")
    assert _code_from(xero.http.get("/identity/connect/authorize", params=params))["error"] == [
        "unsupported_response_type"]
    params, _ = authorize_params()
    denied = _code_from(xero.http.post("/identity/connect/authorize", data=dict(params, decision="deny")))
    assert denied["error"] == ["access_denied"] and denied["state"] == [params["state"]]


def test_wrong_secret_is_invalid_client(xero):
    answer = xero.http.post("/connect/token", auth=(DEFAULT_CLIENT_ID, "wrong"),
                            data={"grant_type": "refresh_token", "refresh_token": "x"})
    assert (answer.status_code, answer.json()) == (400, {"error": "invalid_client"})


def test_without_offline_access_there_is_no_refresh_token(xero):
    token = login(xero, scope="accounting.settings accounting.contacts")
    assert "refresh_token" not in token


def test_refresh_rotates_and_old_token_is_honoured_for_30_minutes_only(xero):
    first = login(xero)
    body = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    second = xero.http.post("/connect/token", auth=AUTH, data=body).json()
    assert second["refresh_token"] != first["refresh_token"]
    xero.advance(29 * 60)
    replay = xero.http.post("/connect/token", data=dict(body, client_id=DEFAULT_CLIENT_ID,
                                                        client_secret=DEFAULT_CLIENT_SECRET))
    assert replay.json() == second   # the same new pair, so a lost response is recoverable
    xero.advance(2 * 60)
    late = xero.http.post("/connect/token", auth=AUTH, data=body)
    assert (late.status_code, late.json()) == (400, {"error": "invalid_grant"})
    third = xero.http.post("/connect/token", auth=AUTH, data={
        "grant_type": "refresh_token", "refresh_token": second["refresh_token"]})
    assert third.status_code == 200


def test_refresh_token_unused_for_60_days_expires(xero):
    token = login(xero)
    xero.advance(60 * 86400 + 1)
    answer = xero.http.post("/connect/token", auth=AUTH, data={
        "grant_type": "refresh_token", "refresh_token": token["refresh_token"]})
    assert answer.json() == {"error": "invalid_grant"}


def test_access_token_expires_after_30_minutes_with_xeros_401(xero):
    token = login(xero)
    api = Api(xero, token["access_token"], xero.org("Adelaide").tenant_id)
    assert api.get("/Organisation").status_code == 200
    xero.advance(30 * 60)
    expired = api.get("/Organisation")
    assert expired.status_code == 401
    assert expired.json()["Detail"].startswith("TokenExpired: token expired at ")
    assert 'error="invalid_token"' in expired.headers["WWW-Authenticate"]


def test_tenant_header_missing_unknown_or_disconnected_is_403(xero):
    token = login(xero)
    adelaide = xero.org("Adelaide")
    for tenant in (None, "00000000-0000-4000-8000-000000000000"):
        # A request without the header breaks the spec on purpose: don't check it.
        answer = Api(xero, token["access_token"], tenant).get("/Organisation", check=False)
        assert answer.status_code == 403
        assert answer.json()["Detail"] == "AuthenticationUnsuccessful"
    connections = xero.http.get("/connections", headers={
        "Authorization": f"Bearer {token['access_token']}"}).json()
    mine = next(c for c in connections if c["tenantId"] == adelaide.tenant_id)
    gone = xero.http.delete(f"/connections/{mine['id']}", headers={
        "Authorization": f"Bearer {token['access_token']}"})
    assert gone.status_code == 204
    assert Api(xero, token["access_token"], adelaide.tenant_id).get("/Organisation").status_code == 403


def test_scopes_are_enforced_per_area(xero):
    token = login(xero, scope="offline_access accounting.settings accounting.contacts.read")
    api = Api(xero, token["access_token"], xero.org("Adelaide").tenant_id)
    assert api.get("/Accounts").status_code == 200
    assert api.get("/Contacts").status_code == 200
    refused = api.put("/Contacts", {"Contacts": [{"Name": "Nope"}]})
    assert (refused.status_code, refused.json()["Detail"]) == (401, "AuthorizationUnsuccessful")
    assert api.get("/Invoices").status_code == 401


def test_granular_invoice_and_payment_scopes_open_their_resources(xero):
    token = login(xero, scope="offline_access accounting.invoices accounting.payments.read")
    api = Api(xero, token["access_token"], xero.org("Adelaide").tenant_id)
    assert api.get("/Invoices").status_code == 200
    assert api.get("/Payments").status_code == 200
    assert api.put("/Payments", {"Payments": []}).status_code == 401


def test_revocation_ends_refresh_and_connections(xero):
    token = login(xero)
    assert xero.http.post("/connect/revocation", auth=AUTH,
                          data={"token": token["refresh_token"]}).status_code == 200
    answer = xero.http.post("/connect/token", auth=AUTH, data={
        "grant_type": "refresh_token", "refresh_token": token["refresh_token"]})
    assert answer.json() == {"error": "invalid_grant"}


def test_sandbox_can_expire_tokens_and_revoke_a_connection(xero):
    token = login(xero)
    api = Api(xero, token["access_token"], xero.org("Sydney").tenant_id)
    assert xero.action("expire-token").status_code == 200
    assert api.get("/Organisation").status_code == 401
    fresh = xero.http.post("/connect/token", auth=AUTH, data={
        "grant_type": "refresh_token", "refresh_token": token["refresh_token"]}).json()
    api.token = fresh["access_token"]
    assert api.get("/Organisation").status_code == 200
    assert xero.action("revoke-connection", org="Sydney IT Services Pty Ltd").status_code == 200
    assert api.get("/Organisation").status_code == 403


def test_token_faults(xero):
    token = login(xero)
    api = Api(xero, token["access_token"], xero.org("Adelaide").tenant_id)
    xero.http.post("/_sandbox/faults", json={"kind": "token-expired", "path": "/api.xro/*", "nth": 1})
    assert api.get("/Organisation").status_code == 401
    assert api.get("/Organisation").status_code == 200
    xero.http.post("/_sandbox/faults", json={"kind": "token-revoked", "path": "/api.xro/*", "nth": 1})
    assert api.get("/Organisation").status_code == 403
    answer = xero.http.post("/connect/token", auth=AUTH, data={
        "grant_type": "refresh_token", "refresh_token": token["refresh_token"]})
    assert answer.json() == {"error": "invalid_grant"}

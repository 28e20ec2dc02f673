"""A served Xero sandbox per test, a PKCE login helper, and an API client that checks
every exchange against Xero's spec (see contract.py)."""
from __future__ import annotations

import base64
import hashlib
import json
import secrets
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest

from sandbox.kit import serve_in_thread
from sandbox.xero import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, create_app
from sandbox.xero.jsonio import dumps

from .contract import check_api_exchange

REDIRECT_URI = "http://127.0.0.1:5000/settings/xero/callback"
SCOPES = ("offline_access accounting.settings accounting.contacts accounting.transactions")


class Served:
    def __init__(self, **options):
        self.app = create_app(**options)
        self.xero = self.app.xero
        self.server = serve_in_thread(self.app)
        self.url = self.server.url
        self.http = httpx2.Client(base_url=self.url, timeout=10)

    def org(self, name_start: str):
        return next(o for o in self.xero.store.orgs.values() if o.name.startswith(name_start))

    def advance(self, seconds: float) -> None:
        self.http.post("/_sandbox/clock", json={"advance_seconds": seconds}).raise_for_status()

    def action(self, name: str, **body):
        return self.http.post(f"/_sandbox/xero/{name}", json=body)

    def close(self):
        self.http.close()
        self.server.stop()


@pytest.fixture
def xero():
    served = Served()
    yield served
    served.close()


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


def authorize_params(scope: str = SCOPES, **extra) -> tuple[dict, str]:
    verifier, challenge = pkce_pair()
    params = {"response_type": "code", "client_id": DEFAULT_CLIENT_ID,
              "redirect_uri": REDIRECT_URI, "scope": scope, "state": secrets.token_hex(8),
              "code_challenge": challenge, "code_challenge_method": "S256", **extra}
    return params, verifier


def login(served: Served, scope: str = SCOPES) -> dict:
    """The whole authorization-code flow over HTTP (auto consent); the token response."""
    params, verifier = authorize_params(scope, auto_consent="1")
    answer = served.http.get("/identity/connect/authorize", params=params)
    assert answer.status_code == 302, answer.text
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert query["state"] == [params["state"]]
    token = served.http.post("/connect/token", data={
        "grant_type": "authorization_code", "code": query["code"][0],
        "redirect_uri": REDIRECT_URI, "code_verifier": verifier},
        auth=(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET))
    assert token.status_code == 200, token.text
    return token.json()


class Api:
    """Calls /api.xro/2.0 as one tenant; every exchange is checked against the spec."""

    def __init__(self, served: Served, token: str, tenant_id: str):
        self.served, self.token, self.tenant_id = served, token, tenant_id

    def call(self, method: str, path: str, *, params=None, json_body=None, headers=None,
             check=True) -> httpx2.Response:
        sent = {"Authorization": f"Bearer {self.token}", "Accept": "application/json",
                "xero-tenant-id": self.tenant_id}
        body = None
        if json_body is not None:
            body = dumps(json_body).encode()    # Decimals go out as JSON numbers
            sent["Content-Type"] = "application/json"
        sent.update(headers or {})
        sent = {k: v for k, v in sent.items() if v is not None}
        response = self.served.http.request(method, f"/api.xro/2.0{path}", params=params,
                                            content=body, headers=sent)
        if check:
            check_api_exchange(method, str(response.request.url), sent, body,
                               response.status_code, response.headers, response.content)
        return response

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def put(self, path, body, **kw):
        return self.call("PUT", path, json_body=body, **kw)

    def post(self, path, body, **kw):
        return self.call("POST", path, json_body=body, **kw)


def decimals(response: httpx2.Response):
    return json.loads(response.content, parse_float=Decimal)


@pytest.fixture
def tokens(xero):
    return login(xero)


@pytest.fixture
def adelaide(xero, tokens):
    return Api(xero, tokens["access_token"], xero.org("Adelaide").tenant_id)


@pytest.fixture
def sydney(xero, tokens):
    return Api(xero, tokens["access_token"], xero.org("Sydney").tenant_id)


@pytest.fixture
def customer(adelaide):
    """A contact in the Adelaide org to invoice."""
    answer = adelaide.put("/Contacts", {"Contacts": [
        {"Name": "Barossa Wines Pty Ltd", "ContactNumber": "BarossaWines",
         "EmailAddress": "ap@barossa.example"}]})
    assert answer.status_code == 200, answer.text
    return answer.json()["Contacts"][0]


def invoice(contact_id: str, *lines, **fields) -> dict:
    """An ACCREC invoice payload; lines are (description, quantity, unit, account, tax)."""
    body = {"Type": "ACCREC", "Contact": {"ContactID": contact_id}, "Date": "2026-10-01",
            "DueDate": "2026-10-31", "LineAmountTypes": "Exclusive", "Status": "AUTHORISED",
            "LineItems": [{"Description": d, "Quantity": Decimal(q), "UnitAmount": Decimal(u),
                           "AccountCode": a, "TaxType": t}
                          for d, q, u, a, t in (lines or [("Managed services", "1", "100.00", "200", "OUTPUT")])]}
    body.update(fields)
    return body

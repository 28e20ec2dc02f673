"""A Xero simulator for Ferry's demo and tests: identity (OAuth 2 with PKCE, tokens,
/connections) and the Accounting API for two synthetic Australian organisations.

Run it: `python -m sandbox.xero --port 8202 --seed 1 [--scale N] [--client-id ID
--client-secret SECRET] [--day-limit 1000]`. It prints the URLs Ferry should use. One
base URL serves every Xero host on the real paths:

- authorize  {base}/identity/connect/authorize   (login.xero.com)
- token      {base}/connect/token, {base}/connect/revocation   (identity.xero.com)
- tenants    {base}/connections, DELETE {base}/connections/{id}   (api.xero.com)
- API        {base}/api.xro/2.0/...   (api.xero.com)

Default credentials (sandbox only, never real): client id `FERRYSANDBOXCLIENT0000000000000`
and secret `ferry-sandbox-secret-not-for-production`. Redirect URIs: any loopback URL
unless `redirect_uris=[...]` is given. `auto_consent=1` on the authorize URL (sandbox
only) skips the consent page and connects both orgs, for headless tests.

In code: `app = create_app(seed=1)` returns the kit-wrapped WSGI app; `app.xero` is the
`XeroSandbox` (store, identity, limits, idempotency keys, kit) for tests to inspect.
Kit endpoints (/_sandbox/journal, reset, faults, clock) work as in sandbox.kit, with the
extra fault kinds `429-minute`, `429-day`, `token-expired`, `token-revoked`,
`elements-missing` (a batch write done whole, its answer missing every second element) (the user
disconnects the app: connections and refresh tokens are revoked for real). Test actions
are described in sandbox.xero.actions.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, Response

from sandbox.kit import Kit

from . import actions, api, identity as identity_module
from .errors import problem
from .idempotency import IdempotencyKeys
from .identity import Identity, token_expired_response
from .jsonio import respond
from .limits import Limits
from .store import Store

DEFAULT_CLIENT_ID = "FERRYSANDBOXCLIENT0000000000000"
DEFAULT_CLIENT_SECRET = "ferry-sandbox-secret-not-for-production"


@dataclass
class XeroSandbox:
    store: Store
    identity: Identity
    limits: Limits
    keys: IdempotencyKeys
    kit: Kit

    def reset(self) -> None:
        self.store.reset()
        self.identity.reset()
        self.limits.reset()
        self.keys.reset()
        if getattr(self, "webhooks", None) is not None:
            self.webhooks.reset()


def create_app(seed: int = 1, scale: int = 1, client_id: str = DEFAULT_CLIENT_ID,
               client_secret: str = DEFAULT_CLIENT_SECRET,
               redirect_uris: list[str] | None = None, minute_limit: int = 60,
               day_limit: int = 5000, concurrent_limit: int = 5):
    sandbox: XeroSandbox | None = None

    def reset():
        sandbox.reset()

    kit = Kit("xero", reset, seed)
    sandbox = XeroSandbox(
        store=Store(seed, scale),
        identity=Identity(client_id, client_secret, redirect_uris, kit.clock),
        limits=Limits(kit.clock, minute_limit, day_limit, concurrent_limit),
        keys=IdempotencyKeys(kit.clock), kit=kit)
    _register_faults(sandbox)

    app = Flask("sandbox.xero")
    app.register_blueprint(identity_module.blueprint(sandbox.identity, sandbox.store))
    app.register_blueprint(api.blueprint(sandbox))
    app.register_blueprint(actions.blueprint(sandbox))
    from .webhooks import XeroWebhooks, blueprint as webhooks_blueprint
    sandbox.webhooks = XeroWebhooks(sandbox, seed)
    app.register_blueprint(webhooks_blueprint(sandbox))
    sandbox.flask_app = app          # the elements-missing fault answers through it
    wrapped = kit.wrap(app)
    wrapped.xero = sandbox
    return wrapped


def _register_faults(sandbox: XeroSandbox) -> None:
    """Faults Xero-specific enough that the kit cannot make them itself."""
    def is_api(req) -> bool:
        return req.path.startswith("/api.xro/")

    def too_many(which):
        def handler(req, rule):
            if not is_api(req):
                return None
            tenant = (req.headers.get("xero-tenant-id") or "").lower()
            headers = sandbox.limits.headers(tenant)
            headers[{"minute": "X-MinLimit-Remaining", "day": "X-DayLimit-Remaining"}[which]] = "0"
            headers.update({"X-Rate-Limit-Problem": which,
                            "Retry-After": "60" if which == "minute" else "43200"})
            return Response(status=429, headers=headers)
        return handler

    def token_expired(req, rule):
        if is_api(req) or req.path.lower().startswith("/connections"):
            return token_expired_response(sandbox.kit.clock.now())
        return None

    def token_revoked(req, rule):
        ident = sandbox.identity
        for grant in ident.grants.values():
            grant.revoked = True
        ident.connections.clear()
        if req.path == "/connect/token":
            return respond({"error": "invalid_grant"}, 400)
        if is_api(req):
            return problem(403, "Forbidden", "AuthenticationUnsuccessful")
        if req.path.lower().startswith("/connections"):
            return problem(401, "Unauthorized", "AuthenticationUnsuccessful")
        return None

    def elements_missing(req, rule):
        """Xero does the whole batch write but its answer leaves elements out (every
        second one): assumed in sandbox/FIDELITY.md, the case Ferry must look up."""
        import json as _json_lib
        inner = getattr(sandbox, "flask_app", None)
        if inner is None or not is_api(req) or req.method not in ("PUT", "POST"):
            return None
        answer = Response.from_app(inner, req.environ, buffered=True)
        try:
            body = _json_lib.loads(answer.get_data())
        except ValueError:
            return answer
        for key in ("Invoices", "CreditNotes", "Contacts"):
            if isinstance(body.get(key), list) and len(body[key]) > 1:
                body[key] = body[key][::2]
        answer.set_data(_json_lib.dumps(body))
        return answer

    handlers = sandbox.kit.fault_handlers
    handlers["elements-missing"] = elements_missing
    handlers["429-minute"] = too_many("minute")
    handlers["429-day"] = too_many("day")
    handlers["token-expired"] = token_expired
    handlers["token-revoked"] = token_revoked

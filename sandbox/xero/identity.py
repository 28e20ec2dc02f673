"""Xero's identity side: the consent page, the token endpoint, revocation and
/connections, on the real paths (login.xero.com /identity/connect/authorize,
identity.xero.com /connect/token and /connect/revocation, api.xero.com /connections).

Tokens behave as Xero's do: access tokens are JWTs that live 30 minutes (by the kit's
clock); refresh tokens (only with `offline_access`) rotate on every use; the previous
refresh token may be replayed for 30 minutes and returns the same new pair (so a client
that lost the response can recover it), after which it is `invalid_grant`; a refresh
token unused for 60 days expires. PKCE S256 is checked when the authorize request
carried a code_challenge; such a client may then leave out its secret.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Response, request

from sandbox.kit import basic_auth

from .errors import problem
from .jsonio import respond

ACCESS_LIFETIME = timedelta(minutes=30)
REFRESH_GRACE = timedelta(minutes=30)
REFRESH_UNUSED_LIFETIME = timedelta(days=60)
CODE_LIFETIME = timedelta(minutes=5)
OFFERED_SCOPES = {
    "openid", "profile", "email", "offline_access",
    "accounting.settings", "accounting.settings.read",
    "accounting.contacts", "accounting.contacts.read",
    "accounting.transactions", "accounting.transactions.read",
    "accounting.invoices", "accounting.invoices.read",
    "accounting.payments", "accounting.payments.read",
}
ISSUER = "https://identity.xero.com"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Grant:
    """One consent: a client, the scopes it got, the orgs the user ticked."""

    id: str
    client_id: str
    scopes: list[str]
    tenant_ids: list[str]
    auth_event_id: str
    revoked: bool = False


@dataclass
class RefreshToken:
    grant_id: str
    issued: datetime
    used_at: datetime | None = None
    successor: dict | None = None     # the token response its use produced


@dataclass
class Identity:
    """All identity state: the registered client, codes, grants, tokens, connections."""

    client_id: str
    client_secret: str
    redirect_uris: list[str] | None
    clock: object
    signing_key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    codes: dict = field(default_factory=dict)
    grants: dict = field(default_factory=dict)
    refresh_tokens: dict = field(default_factory=dict)
    connections: dict = field(default_factory=dict)     # connection id -> dict
    expired_jtis: set = field(default_factory=set)
    issued_jtis: set = field(default_factory=set)
    user_id: str = "6d3c2f8e-1f7b-4a4e-9d8a-2b6c0e5f7a11"

    def reset(self) -> None:
        self.codes.clear()
        self.grants.clear()
        self.refresh_tokens.clear()
        self.connections.clear()
        self.expired_jtis.clear()
        self.issued_jtis.clear()

    # -- tokens --------------------------------------------------------------------------
    def _jwt(self, claims: dict) -> str:
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        body = _b64(json.dumps(claims).encode())
        signature = hmac.new(self.signing_key, f"{header}.{body}".encode(), hashlib.sha256)
        return f"{header}.{body}.{_b64(signature.digest())}"

    def read_access_token(self, token: str) -> dict | None:
        """The claims of a token this sandbox signed, else None (expiry not checked)."""
        try:
            header, body, signature = token.split(".")
            expected = hmac.new(self.signing_key, f"{header}.{body}".encode(), hashlib.sha256)
            if not hmac.compare_digest(_b64(expected.digest()), signature):
                return None
            return json.loads(_unb64(body))
        except (ValueError, json.JSONDecodeError):
            return None

    def issue(self, grant: Grant) -> dict:
        now = self.clock.now()
        issued = int(now.timestamp())
        claims = {"nbf": issued, "exp": issued + int(ACCESS_LIFETIME.total_seconds()),
                  "iss": ISSUER, "aud": f"{ISSUER}/resources", "client_id": grant.client_id,
                  "sub": self.user_id, "auth_time": issued, "xero_userid": self.user_id,
                  "global_session_id": grant.id, "jti": secrets.token_hex(16),
                  "authentication_event_id": grant.auth_event_id, "scope": grant.scopes,
                  "grant_id": grant.id}
        self.issued_jtis.add(claims["jti"])
        response = {"access_token": self._jwt(claims),
                    "expires_in": int(ACCESS_LIFETIME.total_seconds()),
                    "token_type": "Bearer", "scope": " ".join(grant.scopes)}
        if "openid" in grant.scopes:
            response["id_token"] = self._jwt({
                "nbf": issued, "exp": issued + 300, "iss": ISSUER, "aud": grant.client_id,
                "iat": issued, "sub": self.user_id, "auth_time": issued,
                "xero_userid": self.user_id, "global_session_id": grant.id,
                "preferred_username": "finance@msp.example", "email": "finance@msp.example",
                "given_name": "Fin", "family_name": "Ance"})
        if "offline_access" in grant.scopes:
            value = secrets.token_urlsafe(32)
            self.refresh_tokens[value] = RefreshToken(grant.id, now)
            response["refresh_token"] = value
        return response

    def refresh(self, value: str, client_id: str) -> dict | None:
        """The token response for a refresh, or None for invalid_grant."""
        now = self.clock.now()
        record = self.refresh_tokens.get(value)
        if record is None:
            return None
        grant = self.grants.get(record.grant_id)
        if grant is None or grant.revoked or grant.client_id != client_id:
            return None
        if record.used_at is not None:
            return record.successor if now - record.used_at <= REFRESH_GRACE else None
        if now - record.issued > REFRESH_UNUSED_LIFETIME:
            return None
        record.used_at = now
        record.successor = self.issue(grant)
        return record.successor

    def expire_all(self) -> None:
        """Every access token issued so far now counts as expired."""
        self.expired_jtis |= self.issued_jtis

    def revoke_grant(self, grant_id: str) -> None:
        grant = self.grants.get(grant_id)
        if grant is not None:
            grant.revoked = True

    # -- connections ---------------------------------------------------------------------
    def connect(self, grant: Grant, tenants: list) -> None:
        now = self.clock.now().strftime("%Y-%m-%dT%H:%M:%S.%f") + "0"
        for org in tenants:
            existing = next((c for c in self.connections.values()
                             if c["tenantId"] == org.tenant_id), None)
            if existing:
                existing.update(authEventId=grant.auth_event_id, updatedDateUtc=now)
            else:
                conn_id = str(uuid.uuid4())
                self.connections[conn_id] = {
                    "id": conn_id, "authEventId": grant.auth_event_id,
                    "tenantId": org.tenant_id, "tenantType": "ORGANISATION",
                    "tenantName": org.name, "createdDateUtc": now, "updatedDateUtc": now}

    def connected(self, tenant_id: str) -> bool:
        return any(c["tenantId"] == tenant_id for c in self.connections.values())

    def check_client(self, client_id: str | None, secret: str | None, public_ok: bool) -> bool:
        if client_id != self.client_id:
            return False
        if secret is None:
            return public_ok
        return hmac.compare_digest(secret, self.client_secret)

    def redirect_allowed(self, uri: str) -> bool:
        if self.redirect_uris is not None:
            return uri in self.redirect_uris
        # Lenient default for demos: any loopback address.
        parts = urlsplit(uri)
        return parts.scheme in {"http", "https"} and parts.hostname in {"127.0.0.1", "localhost"}


def _oauth_error(error: str, status: int = 400, description: str | None = None) -> Response:
    body = {"error": error}
    if description:
        body["error_description"] = description
    return respond(body, status, {"Cache-Control": "no-store", "Pragma": "no-cache"})


def _error_page(message: str) -> Response:
    return Response(f"<!doctype html><title>Xero | Error</title><h1>Sorry, something went "
                    f"wrong</h1><p>{html.escape(message)}</p>", status=400,
                    mimetype="text/html")


def _redirect(uri: str, params: dict) -> Response:
    sep = "&" if "?" in uri else "?"
    return Response(status=302, headers={"Location": f"{uri}{sep}{urlencode(params)}"})


def blueprint(identity: Identity, store) -> Blueprint:
    bp = Blueprint("xero_identity", __name__)

    def authorize_problem(args) -> str | None:
        if args.get("client_id") != identity.client_id:
            return "unauthorized_client: Unknown client or client not enabled"
        if not identity.redirect_allowed(args.get("redirect_uri", "")):
            return "unauthorized_client: Invalid redirect_uri"
        scopes = args.get("scope", "").split()
        unknown = [s for s in scopes if s not in OFFERED_SCOPES]
        if not scopes or unknown:
            return f"invalid_scope: Invalid scope for client ({' '.join(unknown) or 'none'})"
        if args.get("code_challenge") and args.get("code_challenge_method", "plain") != "S256":
            return "invalid_request: code_challenge_method must be S256"
        return None

    @bp.get("/identity/connect/authorize")
    def authorize():
        args = request.args
        trouble = authorize_problem(args)
        if trouble:
            return _error_page(trouble)
        if args.get("response_type") != "code":
            return _redirect(args["redirect_uri"], {"error": "unsupported_response_type",
                                                    "state": args.get("state", "")})
        if args.get("auto_consent") == "1":
            return grant_and_redirect(args, [o.tenant_id for o in store.orgs.values()])
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in args.items() if k != "auto_consent")
        orgs = "".join(
            f'<li><label><input type="checkbox" name="tenant" value="{o.tenant_id}" checked> '
            f'{html.escape(o.name)}</label></li>' for o in store.orgs.values())
        scopes = "".join(f"<li>{html.escape(s)}</li>" for s in args.get("scope", "").split())
        page = (
            "<!doctype html><html><head><title>Xero | Authorise</title></head><body>"
            "<h1>Ferry wants to access your Xero data</h1>"
            f"<p>Permissions requested:</p><ul>{scopes}</ul>"
            '<form method="post" action="/identity/connect/authorize">'
            f"{hidden}<fieldset><legend>Organisations to connect</legend><ul>{orgs}</ul>"
            "</fieldset>"
            '<button type="submit" name="decision" value="allow" id="allow">Allow access</button> '
            '<button type="submit" name="decision" value="deny" id="deny">Cancel</button>'
            "</form></body></html>")
        return Response(page, mimetype="text/html")

    @bp.post("/identity/connect/authorize")
    def consent():
        form = request.form
        trouble = authorize_problem(form)
        if trouble:
            return _error_page(trouble)
        if form.get("decision") != "allow":
            return _redirect(form["redirect_uri"], {"error": "access_denied",
                                                    "state": form.get("state", "")})
        chosen = [t for t in form.getlist("tenant") if t in store.orgs]
        if not chosen:
            return _error_page("Choose at least one organisation to connect.")
        return grant_and_redirect(form, chosen)

    def grant_and_redirect(args, tenant_ids):
        grant = Grant(id=secrets.token_hex(16), client_id=args["client_id"],
                      scopes=args["scope"].split(), tenant_ids=tenant_ids,
                      auth_event_id=str(uuid.uuid4()))
        identity.grants[grant.id] = grant
        code = secrets.token_urlsafe(32)
        identity.codes[code] = {
            "grant_id": grant.id, "redirect_uri": args["redirect_uri"],
            "challenge": args.get("code_challenge"), "expires": identity.clock.now() + CODE_LIFETIME,
        }
        params = {"code": code, "scope": args["scope"], "session_state": secrets.token_hex(8)}
        if args.get("state") is not None:
            params["state"] = args["state"]
        return _redirect(args["redirect_uri"], params)

    @bp.post("/connect/token")
    def token():
        form = request.form
        creds = basic_auth(request.headers.get("Authorization"))
        client_id, secret = creds if creds else (form.get("client_id"), form.get("client_secret"))
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            code = identity.codes.pop(form.get("code", ""), None)
            has_verifier = bool(form.get("code_verifier"))
            if not identity.check_client(client_id, secret, public_ok=has_verifier):
                return _oauth_error("invalid_client")
            if code is None or code["expires"] < identity.clock.now():
                return _oauth_error("invalid_grant")
            grant = identity.grants[code["grant_id"]]
            if grant.client_id != client_id or code["redirect_uri"] != form.get("redirect_uri"):
                return _oauth_error("invalid_grant")
            if code["challenge"]:
                digest = _b64(hashlib.sha256(form.get("code_verifier", "").encode()).digest())
                if not hmac.compare_digest(digest, code["challenge"]):
                    return _oauth_error("invalid_grant")
            identity.connect(grant, [store.orgs[t] for t in grant.tenant_ids])
            return respond(identity.issue(grant), 200, {"Cache-Control": "no-store",
                                                        "Pragma": "no-cache"})
        if grant_type == "refresh_token":
            if not identity.check_client(client_id, secret, public_ok=True):
                return _oauth_error("invalid_client")
            pair = identity.refresh(form.get("refresh_token", ""), client_id)
            if pair is None:
                return _oauth_error("invalid_grant")
            return respond(pair, 200, {"Cache-Control": "no-store", "Pragma": "no-cache"})
        return _oauth_error("unsupported_grant_type")

    @bp.post("/connect/revocation")
    def revocation():
        creds = basic_auth(request.headers.get("Authorization"))
        client_id, secret = creds if creds else (request.form.get("client_id"),
                                                 request.form.get("client_secret"))
        if not identity.check_client(client_id, secret, public_ok=False):
            return _oauth_error("invalid_client")
        record = identity.refresh_tokens.get(request.form.get("token", ""))
        if record is not None:
            grant = identity.grants[record.grant_id]
            identity.revoke_grant(grant.id)
            for conn_id in [c for c, v in identity.connections.items()
                            if v["authEventId"] == grant.auth_event_id]:
                del identity.connections[conn_id]
        return Response(status=200)

    def bearer_claims():
        """(claims, error response) for /connections calls."""
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return None, problem(401, "Unauthorized", "AuthenticationUnsuccessful",
                                 {"WWW-Authenticate": "Bearer"})
        return check_access_token(identity, header[7:].strip())

    @bp.get("/connections")
    @bp.get("/Connections")
    def connections():
        claims, error = bearer_claims()
        if error:
            return error
        rows = list(identity.connections.values())
        wanted = request.args.get("authEventId")
        if wanted:
            rows = [r for r in rows if r["authEventId"] == wanted]
        return respond(rows)

    @bp.delete("/connections/<conn_id>")
    @bp.delete("/Connections/<conn_id>")
    def disconnect(conn_id):
        claims, error = bearer_claims()
        if error:
            return error
        if identity.connections.pop(conn_id.lower(), None) is None:
            return Response(status=404)
        return Response(status=204)

    return bp


def check_access_token(identity: Identity, token: str):
    """(claims, None) for a live token; (None, Xero's 401 response) otherwise."""
    claims = identity.read_access_token(token)
    if claims is None:
        return None, problem(401, "Unauthorized", "AuthenticationUnsuccessful",
                             {"WWW-Authenticate": 'Bearer error="invalid_token"'})
    grant = identity.grants.get(claims.get("grant_id"))
    expires = datetime.fromtimestamp(claims["exp"], timezone.utc)
    if claims["jti"] in identity.expired_jtis or identity.clock.now() >= expires:
        return None, token_expired_response(expires)
    if grant is None or grant.revoked:
        return None, problem(401, "Unauthorized", "AuthenticationUnsuccessful",
                             {"WWW-Authenticate": 'Bearer error="invalid_token"'})
    return claims, None


def token_expired_response(expires: datetime):
    stamp = expires.strftime("%m/%d/%Y %H:%M:%S")
    return problem(401, "Unauthorized", f"TokenExpired: token expired at {stamp}", {
        "WWW-Authenticate": f'Bearer error="invalid_token", error_description="The token '
                            f"expired at '{stamp}'\""})


"""Xero's OAuth 2 side: the app's settings, the consent (authorization code + PKCE), and
the keeper of each grant's rotating tokens.

Xero access tokens live 30 minutes; every refresh returns a new refresh token and the
old one stops working (after a 30-minute grace). Two processes refreshing the same
grant at once is the classic `invalid_grant` outage, so a refresh happens under a lock
shared by every web process and worker (Redis), re-reads the stored token after taking
the lock, and saves the rotated token before anyone uses the new access token.
"""
from __future__ import annotations

import hmac
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import httpx2
from authlib.common.security import generate_token
from authlib.integrations.base_client import OAuthError
from authlib.integrations.httpx_client import OAuth2Client

from connectors.audit import AuditSink, CallRecord, redact_body, redact_headers, redact_url
from connectors.errors import header_value_problem
from connectors.transport import Transport, decode_json
from models import Connection, Setting, XeroGrant, db, utcnow
from security import UnsafeAddress, check_service_url, origin

AUTHORIZE_URL = "https://login.xero.com/identity/connect/authorize"
TOKEN_URL = "https://identity.xero.com/connect/token"
API_BASE = "https://api.xero.com"
# Apps created since 2 March 2026 get the granular scopes; older apps keep transactions.
GRANULAR_SCOPES = ("offline_access accounting.settings accounting.contacts "
                   "accounting.invoices accounting.payments")
TRANSACTIONS_SCOPES = ("offline_access accounting.settings accounting.contacts "
                       "accounting.transactions")
SCOPE_CHOICES = {"granular": GRANULAR_SCOPES, "transactions": TRANSACTIONS_SCOPES}

# Refresh when less than this is left, so a call never leaves with a dying token.
REFRESH_MARGIN_SECONDS = 120
SETTING_PREFIX = "xero."


class XeroAuthError(Exception):
    """A sign-in problem, worded for the person who can fix it."""


class ReconnectNeeded(XeroAuthError):
    """The grant no longer works (refresh refused): someone must connect Xero again."""


@dataclass(frozen=True)
class XeroApp:
    """The Xero app registered at developer.xero.com, as configured in Ferry."""

    client_id: str
    client_secret: str
    redirect_uri: str
    scopes: str = GRANULAR_SCOPES
    authorize_url: str = AUTHORIZE_URL
    token_url: str = TOKEN_URL
    api_base: str = API_BASE

    @property
    def revocation_url(self) -> str:
        # Xero serves revocation beside the token endpoint.
        return self.token_url.rsplit("/", 1)[0] + "/revocation"

    @property
    def configured(self) -> bool:
        return bool(self.client_id and self.client_secret and self.redirect_uri)


def default_redirect_uri(base_url: str) -> str:
    return base_url.rstrip("/") + "/settings/xero/callback"


def load_app(base_url: str) -> XeroApp:
    """The Xero app settings saved in Ferry (defaults for what was never saved)."""
    def get(name, default=""):
        return Setting.get_value(SETTING_PREFIX + name) or default
    return XeroApp(
        client_id=get("client_id"),
        client_secret=get("client_secret"),
        redirect_uri=get("redirect_uri", default_redirect_uri(base_url)),
        scopes=get("scopes", GRANULAR_SCOPES),
        authorize_url=get("authorize_url", AUTHORIZE_URL).rstrip("/"),
        token_url=get("token_url", TOKEN_URL).rstrip("/"),
        api_base=get("api_base", API_BASE).rstrip("/"),
    )


class UnsafeXeroSettings(ValueError):
    """Xero settings Ferry will not save; the message says what to do, `field` which
    setting it is about (the form shows the sentence beside it)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


URL_LABELS = {"authorize_url": "The authorize URL", "token_url": "The token URL",
              "api_base": "The API base"}


def check_app(app: XeroApp, saved: XeroApp, *, secret_typed: bool) -> XeroApp:
    """`app` with its addresses checked, or UnsafeXeroSettings.

    Secrets go only where they were saved for: the client secret travels to the token
    URL and the tokens to the token URL and API base, so changing either host needs the
    client secret typed again (whoever saves it there knows it already)."""
    checked = {}
    for name, label in URL_LABELS.items():
        try:
            checked[name] = check_service_url(getattr(app, name), label)
        except UnsafeAddress as exc:
            raise UnsafeXeroSettings(str(exc), field=name) from None
    moved = [URL_LABELS[n].split(" ", 1)[1] for n in ("token_url", "api_base")
             if origin(checked[n]) != origin(getattr(saved, n))]
    if moved and saved.client_secret and not secret_typed:
        raise UnsafeXeroSettings(
            f"You changed the {' and the '.join(moved)} to another server. Type the "
            "client secret again to send it there: Ferry sends a saved secret only to "
            "the server it was saved for.", field="client_secret")
    return XeroApp(client_id=app.client_id, client_secret=app.client_secret,
                   redirect_uri=app.redirect_uri, scopes=app.scopes, **checked)


def hosts_changed(before: XeroApp, after: XeroApp) -> bool:
    return any(origin(getattr(before, n)) != origin(getattr(after, n))
               for n in ("token_url", "api_base"))


def save_app(app: XeroApp, *, keep_secret: bool = False) -> None:
    """Save the settings; the client secret is stored encrypted (kept if left blank).

    Tokens belong to the server that issued them: when the token URL or API base moves to
    another host, the grants are ended here (never sent to the new host) and Xero must
    be connected again."""
    before = load_app("")
    for name in ("client_id", "redirect_uri", "scopes", "authorize_url", "token_url",
                 "api_base"):
        Setting.set_value(SETTING_PREFIX + name, getattr(app, name))
    if not keep_secret:
        Setting.set_value(SETTING_PREFIX + "client_secret", app.client_secret, secret=True)
    if hosts_changed(before, app):
        reason = ("Xero's addresses were changed in Ferry's settings, so the old consent "
                  "no longer applies. Choose Connect Xero again.")
        for grant in XeroGrant.select().where(XeroGrant.token.is_null(False)):
            grant.token = None
            grant.save()
            mark_needs_reconnect(grant, reason)


# -- the consent ---------------------------------------------------------------------------
def _oauth_client(app: XeroApp, sink: AuditSink | None = None, **kwargs) -> OAuth2Client:
    # Both travel in the token call's Authorization header (a value saved before Ferry
    # checked it): a sentence, not a UnicodeEncodeError.
    for label, value in (("The client id", app.client_id),
                         ("The client secret", app.client_secret)):
        problem = header_value_problem(value, label, "Xero")
        if problem:
            raise XeroAuthError(problem + " Enter it again under Settings → Xero.")
    hooks = {"response": [_auditor(sink)]} if sink is not None else {}
    return OAuth2Client(client_id=app.client_id, client_secret=app.client_secret,
                        redirect_uri=app.redirect_uri, code_challenge_method="S256",
                        timeout=30.0, event_hooks=hooks, **kwargs)


def _auditor(sink: AuditSink):
    """An httpx2 response hook that audits token-endpoint calls like any other call."""
    def record(response: httpx2.Response) -> None:
        response.read()
        request = response.request
        started = datetime.now(timezone.utc) - response.elapsed
        sink.record(CallRecord(
            api="xero", method=request.method, url=redact_url(str(request.url)),
            status=response.status_code,
            duration_ms=round(response.elapsed.total_seconds() * 1000, 2),
            request_headers=redact_headers(request.headers.items()),
            request_body=redact_body(request.content, request.headers.get("content-type")),
            response_headers=redact_headers(response.headers.items()),
            response_body=redact_body(response.content, response.headers.get("content-type")),
            error=None if response.status_code < 400 else f"HTTP {response.status_code}",
            started_at=started))
    return record


@dataclass(frozen=True)
class Authorization:
    """Where to send the browser, and what the callback must find in the session."""

    url: str
    state: str
    code_verifier: str


def start_authorization(app: XeroApp) -> Authorization:
    verifier = generate_token(64)
    with _oauth_client(app, scope=app.scopes) as client:
        url, state = client.create_authorization_url(app.authorize_url,
                                                     code_verifier=verifier)
    return Authorization(url=url, state=state, code_verifier=verifier)


def callback_problem(args, expected_state: str | None) -> str | None:
    """The sentence for a callback that cannot proceed, or None when it can.

    The state is checked first: anyone can send a browser to the callback with an
    `error_description` of their choosing, so Xero's words are shown only to the session
    that started this consent."""
    if not expected_state or not hmac.compare_digest(
            str(args.get("state") or "").encode(), expected_state.encode()):
        return ("This reply from Xero does not belong to your current session (it may be "
                "an old link, or from another browser). Nothing was connected: choose "
                "Connect Xero again.")
    error = args.get("error")
    if error == "access_denied":
        return ("You cancelled the consent in Xero, so no organisation was connected. "
                "Choose Connect Xero again when you are ready.")
    if error:
        detail = _printable(args.get("error_description") or error)
        return (f"Xero did not grant access ({detail}). Check the Xero app settings "
                "below and choose Connect Xero again.")
    if not args.get("code"):
        return "Xero's reply carried no authorisation code. Choose Connect Xero again."
    return None


def _printable(text: str, limit: int = 200) -> str:
    text = "".join(c if c.isprintable() else " " for c in str(text)).strip()
    return text if len(text) <= limit else text[:limit] + "…"


# The PKCE verifier stays on the server, in Redis under the consent's state, for as long
# as a consent may take; the browser's (signed, readable) session holds only the state.
VERIFIER_TTL_SECONDS = 15 * 60


def _verifier_key(state: str) -> str:
    return f"ferry:xero:pkce:{state}"


def keep_verifier(redis, started: "Authorization") -> None:
    redis.set(_verifier_key(started.state), started.code_verifier, ex=VERIFIER_TTL_SECONDS)


def take_verifier(redis, state: str) -> str | None:
    """The verifier saved for `state`, once (a replayed callback finds none)."""
    value = redis.getdel(_verifier_key(state))
    return value.decode() if isinstance(value, bytes) else value


def exchange_code(app: XeroApp, code: str, code_verifier: str,
                  sink: AuditSink | None = None) -> dict:
    """Trade the authorisation code for a token set (with expires_at, epoch seconds)."""
    try:
        with _oauth_client(app, sink) as client:
            token = client.fetch_token(app.token_url, grant_type="authorization_code",
                                       code=code, code_verifier=code_verifier)
    except OAuthError as exc:
        raise XeroAuthError(_token_error_sentence(exc.error, app)) from None
    except httpx2.HTTPError as exc:
        raise XeroAuthError(_unreachable(app.token_url, exc)) from None
    return _stored_form(token)


def _token_error_sentence(error: str, app: XeroApp) -> str:
    if error == "invalid_client":
        return ("Xero rejected the client id or client secret. Copy both again from your "
                "app at developer.xero.com (Configuration) into the Xero settings, then "
                "connect again.")
    if error == "invalid_grant":
        return ("Xero refused the authorisation code. Either the redirect URI saved in "
                f"Ferry ({app.redirect_uri}) differs from the one registered for your app "
                "at developer.xero.com, or the code expired (they last 5 minutes). Make "
                "them identical and connect again.")
    return f"Xero's sign-in service answered {error!r}. Connect again, or check the settings."


def _unreachable(url: str, exc: Exception) -> str:
    return (f"Ferry could not reach Xero's sign-in service at {url} "
            f"({type(exc).__name__}). Check the server's internet access and try again.")


def _stored_form(token: dict) -> dict:
    expires_at = token.get("expires_at") or time.time() + float(token.get("expires_in", 1800))
    return {"access_token": token["access_token"], "refresh_token": token.get("refresh_token"),
            "token_type": token.get("token_type", "Bearer"), "scope": token.get("scope", ""),
            "expires_at": float(expires_at)}


def revoke(app: XeroApp, grant: XeroGrant, sink: AuditSink | None = None) -> None:
    """Revoke the grant's refresh token at Xero (ends access to all its organisations)."""
    refresh_token = (grant.token or {}).get("refresh_token")
    if not refresh_token:
        return
    with _oauth_client(app, sink) as client:
        client.revoke_token(app.revocation_url, token=refresh_token,
                            token_type_hint="refresh_token")


# -- the organisations a grant reaches (api.xero.com/connections) ----------------------------
def identity_transport(app: XeroApp, sink: AuditSink) -> Transport:
    return Transport("xero", app.api_base, sink=sink)


def list_connections(transport: Transport, access_token: str) -> list[dict]:
    """The organisations (tenants) this token may reach: [{id, tenantId, tenantName…}]."""
    response = transport.request("GET", "/connections", headers=_bearer(access_token))
    if response.status_code != 200:
        raise XeroAuthError(f"Xero would not list the organisations Ferry may use (HTTP "
                            f"{response.status_code}). Choose Connect Xero again.")
    return [c for c in decode_json(response, "xero") if c.get("tenantType") == "ORGANISATION"]


def delete_connection(transport: Transport, access_token: str, connection_id: str) -> None:
    """Disconnect one organisation in Xero (already gone counts as done)."""
    response = transport.request("DELETE", f"/connections/{connection_id}",
                                 headers=_bearer(access_token))
    if response.status_code not in (200, 204, 404):
        raise XeroAuthError(f"Xero did not disconnect the organisation (HTTP "
                            f"{response.status_code}). Try again, or remove Ferry from "
                            "Xero's Connected Apps screen.")


def _bearer(access_token: str) -> dict:
    return {"Authorization": f"Bearer {access_token}", "Accept": "application/json"}


# -- the token keeper ----------------------------------------------------------------------
def connections_of(grant_id: int) -> list[Connection]:
    return [c for c in Connection.select().where(Connection.kind == "xero")
            if (c.settings or {}).get("grant_id") == grant_id]


class _LocalLocks:
    """A per-grant lock inside one process, for callers without Redis (tests only)."""

    def __init__(self):
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    def lock(self, name: str, timeout=None, blocking_timeout=None):
        with self._guard:
            return self._locks.setdefault(name, threading.Lock())


class TokenKeeper:
    """Hands out live access tokens for stored grants, refreshing them one at a time.

    `redis` is a redis-py client shared by every process that may refresh (web and
    workers); without one the lock only covers this process.
    """

    def __init__(self, app: XeroApp, *, redis=None, sink: AuditSink | None = None,
                 margin: float = REFRESH_MARGIN_SECONDS, lock_timeout: float = 60.0,
                 clock=time.time):
        self.app = app
        self.sink = sink
        self._locks = redis if redis is not None else _LocalLocks()
        self.margin = margin
        self.lock_timeout = lock_timeout
        self.clock = clock

    def access_token(self, grant_id: int) -> str:
        grant = _usable(grant_id)
        if self._fresh(grant.token):
            return grant.token["access_token"]
        return self._refresh(grant_id, rejected=None)

    def after_rejection(self, grant_id: int, rejected_access_token: str) -> str:
        """A token Xero called expired: refresh unless another process already did."""
        return self._refresh(grant_id, rejected=rejected_access_token)

    def _fresh(self, token: dict | None) -> bool:
        return bool(token) and token["expires_at"] - self.clock() > self.margin

    def _refresh(self, grant_id: int, rejected: str | None) -> str:
        if db.in_transaction():
            # Inside a transaction the rotated token would stay invisible to other
            # processes until commit, and they would refresh again with a dead token.
            raise RuntimeError("Refresh Xero tokens outside a database transaction")
        lock = self._locks.lock(f"ferry:xero:token-refresh:{grant_id}",
                                timeout=self.lock_timeout,
                                blocking_timeout=self.lock_timeout * 1.5)
        with lock:
            grant = _usable(grant_id)               # re-read: someone may have refreshed
            token = grant.token
            if rejected is None and self._fresh(token):
                return token["access_token"]
            if rejected is not None and token["access_token"] != rejected:
                return token["access_token"]
            new = self._call_refresh(grant)
            grant.token = new
            grant.refreshed_at = utcnow()
            grant.save()                            # saved before the new token is used
            return new["access_token"]

    def _call_refresh(self, grant: XeroGrant) -> dict:
        try:
            with _oauth_client(self.app, self.sink) as client:
                token = client.refresh_token(self.app.token_url,
                                             refresh_token=grant.token["refresh_token"])
        except OAuthError as exc:
            if exc.error == "invalid_grant":
                mark_needs_reconnect(grant, refused_grant_sentence(grant))
                raise ReconnectNeeded(grant.last_error) from None
            raise XeroAuthError(_token_error_sentence(exc.error, self.app)) from None
        except httpx2.HTTPError as exc:
            raise XeroAuthError(_unreachable(self.app.token_url, exc)) from None
        stored = _stored_form(token)
        if not stored["refresh_token"]:
            stored["refresh_token"] = grant.token["refresh_token"]
        return stored


# Set by `flask restore` to when the restored backup was made (ISO 8601, UTC).
RESTORED_FROM_BACKUP = "backup.restored_made_at"


def refused_grant_sentence(grant: XeroGrant) -> str:
    """Why Xero refused the stored refresh token. After a restore, a grant not refreshed
    since the backup was made holds a token Xero has replaced in the meantime (it rotates
    on every refresh): that, not a withdrawn consent, is the likely reason."""
    made = Setting.get_value(RESTORED_FROM_BACKUP)
    last = grant.refreshed_at or grant.created_at
    try:
        made_at = datetime.fromisoformat(made).astimezone(timezone.utc).replace(tzinfo=None)
    except (TypeError, ValueError):
        made_at = None
    # The manifest keeps whole seconds: a sign-in from the backup's own second counts.
    if made_at is not None and last is not None and last < made_at + timedelta(seconds=1):
        return ("Xero no longer accepts the sign-in this installation was restored with: "
                f"the backup was made {made_at:%Y-%m-%d %H:%M} UTC, and Xero replaces "
                "Ferry's sign-in every time it is refreshed (about every 30 minutes while "
                "Ferry runs), so a backup older than that holds one Xero no longer takes. "
                "An administrator must choose Connect Xero in Settings again; the mappings "
                "and records stay.")
    return ("Xero no longer accepts Ferry's access to this organisation (the consent was "
            "withdrawn, or unused for 60 days). An administrator must choose Connect Xero "
            "in Settings again.")


def _usable(grant_id: int) -> XeroGrant:
    grant = XeroGrant.get_or_none(XeroGrant.id == grant_id)
    if grant is None or grant.status != "active" or not grant.token:
        reason = (grant.last_error if grant is not None and grant.last_error else
                  "Ferry has no working Xero consent for this organisation. An "
                  "administrator must choose Connect Xero in Settings.")
        raise ReconnectNeeded(reason)
    return grant


def mark_needs_reconnect(grant: XeroGrant, reason: str) -> None:
    """Stop using the grant and tell the user, on it and on each organisation it covers."""
    grant.status = "needs_reconnect"
    grant.last_error = reason
    grant.save()
    for connection in connections_of(grant.id):
        if connection.status == "active":
            connection.status = "needs_reconnect"
            connection.last_error = reason
            connection.save()

"""Xero on the settings page: the app's settings, "Connect Xero" (consent with PKCE), the
callback, choosing which organisations Ferry uses, and "Disconnect".

The callback is reachable without a login (Xero's redirect lands there), but it only
proceeds, or repeats anything Xero said, when its `state` matches the one kept in a
signed-in user's session; the PKCE verifier waits in Redis under that state.
"""
from urllib.parse import urlsplit

from flask import current_app, flash, redirect, render_template, request, session, url_for

from blueprints import public
from blueprints.settings import answer, bp, section
from connectors.xero_oauth import (
    SCOPE_CHOICES, GRANULAR_SCOPES, ReconnectNeeded, TokenKeeper, UnsafeXeroSettings, XeroApp,
    XeroAuthError, callback_problem, check_app, connections_of, delete_connection,
    exchange_code, hosts_changed, identity_transport, keep_verifier, list_connections,
    load_app, revoke, save_app, start_authorization, take_verifier,
)
from connectors.errors import header_value_problem
from jobs.audit import DatabaseAuditSink
from jobs.queue import get_redis
from models import Connection, XeroGrant
from blueprints.roles import role

URL_FIELDS = ("authorize_url", "token_url", "api_base")


def _app() -> XeroApp:
    return load_app(current_app.config["BASE_URL"])


def _keeper(app: XeroApp, sink) -> TokenKeeper:
    return TokenKeeper(app, redis=get_redis(), sink=sink)


@section(20)
def xero_section(typed: XeroApp | None = None, problems: dict | None = None,
                 message: str | None = None):
    """`typed`: what was posted (shown again, so bad input loses nothing); `problems`:
    field name -> the sentence shown beside that field."""
    app = typed or _app()
    connections = Connection.select().where(Connection.kind == "xero").order_by(Connection.name)
    scope_choice = next((k for k, v in SCOPE_CHOICES.items() if v == app.scopes), "granular")
    return render_template("settings/_xero.html", app=app, connections=connections,
                           scope_choice=scope_choice, field_problems=problems or {},
                           message=message, saved_secret=bool(_app().client_secret))


def _refused(typed: XeroApp, field: str, sentence: str):
    html = xero_section(typed, {field: f"{sentence} Nothing was saved."})
    return answer(xero_section, html, 422)


@bp.post("/xero/app")
@role("administrator")
def save_xero_app():
    saved = _app()
    form = {k: request.form.get(k, "").strip() for k in (
        "client_id", "client_secret", "redirect_uri", *URL_FIELDS)}
    scopes = SCOPE_CHOICES.get(request.form.get("scopes", ""), GRANULAR_SCOPES)
    app = XeroApp(
        client_id=form["client_id"], client_secret=form["client_secret"] or saved.client_secret,
        redirect_uri=form["redirect_uri"] or saved.redirect_uri, scopes=scopes,
        **{k: (form[k] or getattr(saved, k)).rstrip("/") for k in URL_FIELDS})
    # Shown again as typed; the secret never goes back into the page.
    typed = XeroApp(client_id=form["client_id"], client_secret="",
                    redirect_uri=form["redirect_uri"] or saved.redirect_uri, scopes=scopes,
                    **{k: form[k] or getattr(saved, k) for k in URL_FIELDS})
    if not app.client_id or not app.client_secret:
        return _refused(typed, "client_id" if not app.client_id else "client_secret",
                        "Enter the client id and client secret of your Xero app "
                        "(developer.xero.com, My Apps, Configuration).")
    for field, label in (("client_id", "The client id"), ("client_secret", "The client secret")):
        problem = header_value_problem(form[field], label, "Xero")
        if problem:
            return _refused(typed, field, problem)
    redirect_to = urlsplit(app.redirect_uri)
    if redirect_to.scheme not in ("http", "https") or not redirect_to.netloc:
        # Xero only sends the browser back to a full web address; anything else would
        # save fine and then fail at Connect Xero with Xero's own error.
        return _refused(typed, "redirect_uri", (
            f"The redirect URI must be a full web address, like "
            f"{saved.redirect_uri or 'https://ferry.your-msp.example/settings/xero/callback'}"
            f" (“{app.redirect_uri}” is not)."))
    try:
        app = check_app(app, saved, secret_typed=bool(form["client_secret"]))
    except UnsafeXeroSettings as exc:
        return _refused(typed, exc.field or "client_id", str(exc))
    message = "Saved."
    if hosts_changed(saved, app) and XeroGrant.select().where(
            XeroGrant.token.is_null(False)).exists():
        message = ("Saved. Xero's addresses changed, so the existing consent was ended "
                   "here: choose Connect Xero again.")
    save_app(app, keep_secret=not form["client_secret"])
    if request.headers.get("HX-Request"):
        # In the middle of the guided setup, the way back to it stays in view.
        return render_template("setup/_resume.html") + xero_section(message=message)
    flash(message)
    return redirect(url_for("settings.index"))


@bp.post("/xero/connect")
@role("administrator")
def connect_xero():
    app = _app()
    if not app.configured:
        flash("Save the Xero app's client id and secret first.")
        return redirect(url_for("settings.index"))
    try:
        started = start_authorization(app)
    except XeroAuthError as exc:      # a client id or secret saved before it was checked
        flash(str(exc))
        return redirect(url_for("settings.index"))
    keep_verifier(get_redis(), started)             # the verifier never enters the cookie
    session["xero_oauth"] = {"state": started.state}
    return redirect(started.url)


@bp.get("/xero/callback")
@public
def xero_callback():
    pending = session.pop("xero_oauth", None) or {}
    signed_in = bool(session.get("user_id"))
    expected = pending.get("state") if signed_in else None
    problem = callback_problem(request.args, expected)
    verifier = take_verifier(get_redis(), expected) if expected else None
    if problem is None and not verifier:
        problem = ("This consent took too long or was already used. Nothing was "
                   "connected: choose Connect Xero again.")
    if problem:
        flash(problem)
        return redirect(url_for("settings.index"))
    app = _app()
    with DatabaseAuditSink() as sink:
        try:
            token = exchange_code(app, request.args["code"], verifier, sink)
            orgs = list_connections(identity_transport(app, sink), token["access_token"])
        except XeroAuthError as exc:
            flash(str(exc))
            return redirect(url_for("settings.index"))
    grant = XeroGrant.create(token=token, scopes=token.get("scope", ""), status="pending")
    session["xero_pending"] = {"grant_id": grant.id, "orgs": [
        {"id": o["id"], "tenantId": o["tenantId"], "tenantName": o["tenantName"]}
        for o in orgs]}
    return redirect(url_for("settings.choose_xero_orgs"))


@bp.get("/xero/organisations")
@role("administrator")
def choose_xero_orgs():
    pending = session.get("xero_pending")
    if not pending:
        return redirect(url_for("settings.index"))
    known = {c.tenant_id: c for c in Connection.select().where(Connection.kind == "xero")}
    return render_template("settings/xero_choose.html", orgs=pending["orgs"], known=known)


@bp.post("/xero/organisations")
@role("administrator")
def save_xero_orgs():
    pending = session.pop("xero_pending", None)
    if not pending:
        return redirect(url_for("settings.index"))
    grant = XeroGrant.get_by_id(pending["grant_id"])
    chosen = set(request.form.getlist("tenant"))
    known = {c.tenant_id: c for c in Connection.select().where(Connection.kind == "xero")}
    app = _app()
    with DatabaseAuditSink() as sink:
        transport = identity_transport(app, sink)
        for org in pending["orgs"]:
            connection = known.get(org["tenantId"])
            if org["tenantId"] in chosen:
                connection = connection or Connection(kind="xero", tenant_id=org["tenantId"])
                connection.name = org["tenantName"]
                connection.settings = {**(connection.settings or {}), "grant_id": grant.id,
                                       "xero_connection_id": org["id"]}
                connection.status, connection.last_error = "active", None
                connection.save()
            elif connection is None or connection.status != "active":
                # Access Ferry will not use is handed back to Xero straight away.
                _quietly(delete_connection, transport, grant.token["access_token"], org["id"])
    grant.status = "active"
    grant.save()
    names = [o["tenantName"] for o in pending["orgs"] if o["tenantId"] in chosen]
    flash("Connected to Xero: " + ", ".join(names) + "." if names else
          "No Xero organisation was connected.")
    return redirect(url_for("settings.index"))


@bp.post("/xero/<int:connection_id>/disconnect")
@role("administrator")
def disconnect_xero(connection_id: int):
    connection = Connection.get_or_none((Connection.id == connection_id) &
                                        (Connection.kind == "xero"))
    if connection is None:
        return redirect(url_for("settings.index"))
    if not request.form.get("confirmed"):
        # Asked first: ferry.js's dialog sends confirmed=1; without JavaScript, this page.
        return render_template(
            "confirm.html", title=f"Disconnect {connection.name} from Xero?",
            lines=[], sentence=(
                "Ferry stops writing to this organisation, and Xero is told to end "
                "Ferry's access to it. Its mappings and records stay in Ferry; choose "
                "Connect Xero to use it again."),
            action=request.path, fields=[], button="Disconnect",
            cancel=url_for("settings.index", _anchor="xero-settings"))
    app = _app()
    grant_id = (connection.settings or {}).get("grant_id")
    with DatabaseAuditSink() as sink:
        try:
            token = _keeper(app, sink).access_token(grant_id)
            delete_connection(identity_transport(app, sink), token,
                              connection.settings["xero_connection_id"])
        except ReconnectNeeded:
            pass                    # Xero already refuses the grant: nothing to undo there
        except XeroAuthError as exc:
            flash(str(exc))
            return redirect(url_for("settings.index"))
        connection.status = "disabled"
        connection.last_error = "Disconnected from Xero in Ferry's settings."
        connection.save()
        grant = XeroGrant.get_or_none(XeroGrant.id == grant_id)
        if grant is not None and not any(c.status == "active" for c in connections_of(grant.id)):
            _quietly(revoke, app, grant, sink)
            grant.status, grant.token = "revoked", None
            grant.save()
    flash(f"{connection.name} is disconnected from Xero; Ferry will not write to it.")
    return redirect(url_for("settings.index"))


def _quietly(action, *args) -> None:
    """Tidying at Xero that may fail without harm (the user can remove it in Xero)."""
    try:
        action(*args)
    except Exception:
        current_app.logger.warning("Xero clean-up %s failed", action.__name__, exc_info=True)

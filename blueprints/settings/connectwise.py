"""The ConnectWise connection: its form on the settings page, saving it (the private key
encrypted in Connection.secrets, never shown again) and "Test connection". The saved key
goes only to the site it was saved for; a new site needs the key typed again."""
from dataclasses import replace

from flask import redirect, render_template, request, url_for

from blueprints.settings import answer, bp, section
from connectors.connectwise import (
    HEADER_FIELDS, ConnectWise, CWSettings, UnsafeSettings, check_company_id, check_site,
    site_roots,
)
from connectors.errors import header_value_problem
from jobs.audit import DatabaseAuditSink
from models import Connection
from security import origin
from blueprints.roles import role

FIELDS = ("site", "company_id", "public_key", "client_id")


def current() -> Connection | None:
    return Connection.get_or_none(Connection.kind == "connectwise")


def _form_values(connection: Connection | None) -> dict:
    saved = (connection.settings or {}) if connection else {}
    return {name: saved.get(name, "") for name in FIELDS}


def _render(connection, values, *, message=None, problems=None, result=None):
    has_key = bool(connection and (connection.secrets or {}).get("private_key"))
    return render_template("settings/_connectwise.html", values=values, has_key=has_key,
                           message=message, problems=problems or [], result=result)


@section(10)
def connectwise_section():
    connection = current()
    return _render(connection, _form_values(connection))


def _answer(html: str, status: int = 200):
    return answer(connectwise_section, html, status)


def _same_site(connection: Connection | None, site: str) -> bool:
    """Whether `site` reaches the hosts the saved private key was saved for."""
    saved = ((connection.settings or {}).get("site") or "") if connection else ""
    if not saved or not site:
        return False
    try:
        return ([origin(u) for u in site_roots(saved)] ==
                [origin(u) for u in site_roots(site)])
    except ValueError:
        return False


def _settings_from_form(connection: Connection | None) -> tuple[dict, str, list[str]]:
    """The form's values, the private key to use, and what is wrong with them. A blank
    private key means the saved one, but only for the site it was saved for."""
    values = {name: request.form.get(name, "").strip() for name in FIELDS}
    problems = [f"Enter {label}." for name, label in (
        ("site", "the site"), ("company_id", "the company id"),
        ("public_key", "the public key"), ("client_id", "the client id")) if not values[name]]
    for name, check in (("site", check_site), ("company_id", check_company_id)):
        if values[name]:
            try:
                check(values[name])
            except UnsafeSettings as exc:
                problems.append(str(exc))
    private_key = request.form.get("private_key", "")
    for name, label in HEADER_FIELDS.items():
        problem = header_value_problem(private_key if name == "private_key" else values[name],
                                       label.capitalize(), "ConnectWise")
        if problem:
            problems.append(problem)
    saved_key = (connection.secrets or {}).get("private_key", "") if connection else ""
    if not private_key and saved_key:
        if _same_site(connection, values["site"]):
            private_key = saved_key
        elif values["site"] and not problems:
            problems.append(
                "The site is not the one the private key was saved for. Type the private "
                "key again to use it with this site: Ferry sends a saved key only to the "
                "site it was saved for.")
            return values, "", problems
    if not private_key and not saved_key:
        # A saved key is never missing: with a new site the sentence above asks for it.
        problems.append("Enter the private key.")
    return values, private_key, problems


class _SavedSiteOnlySink:
    """Keeps answers in the audit log only when they came from the saved site: a test of
    an unsaved address must not let anyone read another server's pages through the log."""

    def __init__(self, sink, connection: Connection | None):
        self.sink = sink
        saved = ((connection.settings or {}).get("site") or "") if connection else ""
        self.origins = {origin(u) for u in site_roots(saved)} if saved else set()

    def record(self, call) -> None:
        if origin(call.url) not in self.origins:
            call = replace(call, response_headers={}, response_body=(
                "(not kept: answered by a server other than the saved ConnectWise site)"))
        self.sink.record(call)


@bp.post("/connectwise")
@role("administrator")
def save_connectwise():
    connection = current()
    values, private_key, problems = _settings_from_form(connection)
    if problems:
        return _answer(_render(connection, values, problems=problems), 422)
    if connection is None:
        connection = Connection(kind="connectwise", name="ConnectWise")
    connection.name = f"ConnectWise ({values['company_id']})"
    connection.settings = values
    connection.secrets = {"private_key": private_key}
    connection.save()
    if not request.headers.get("HX-Request"):
        return redirect(url_for("settings.index"))
    return _render(connection, values, message="Saved.")


@bp.post("/connectwise/test")
@role("administrator")
def test_connectwise():
    """Test what the form holds (a blank private key means the saved one). The result is
    shown, and becomes the connection's last problem only when it came from the saved
    site: another server's answer is the test's own, never kept (issue 14)."""
    connection = current()
    values, private_key, problems = _settings_from_form(connection)
    if problems:
        return _answer(_render(connection, values, problems=problems), 422)
    settings = CWSettings(values["site"], values["company_id"], values["public_key"],
                          private_key, values["client_id"])
    with DatabaseAuditSink() as database_sink:
        sink = _SavedSiteOnlySink(database_sink, connection)
        client = ConnectWise(settings, sink=sink, timeout=15.0, context={
            "connection_id": connection.id if connection else None})
        try:
            result = client.test_connection()
        finally:
            client.close()
    if _same_site(connection, values["site"]):
        connection.last_error = next((c.sentence for c in result.checks if not c.ok), None)
        connection.save()
    return _answer(_render(connection, values, result=result))

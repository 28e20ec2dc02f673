"""The ConnectWise connection: its form on the settings page, saving it (the private key
encrypted in Connection.secrets, never shown again) and "Test connection"."""
from flask import redirect, render_template, request, url_for

from blueprints.settings import answer, bp, section
from connectors.connectwise import ConnectWise, CWSettings
from jobs.audit import DatabaseAuditSink
from models import Connection

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


def _settings_from_form(connection: Connection | None) -> tuple[dict, str]:
    values = {name: request.form.get(name, "").strip() for name in FIELDS}
    private_key = request.form.get("private_key", "")
    if not private_key and connection:
        private_key = (connection.secrets or {}).get("private_key", "")
    return values, private_key


@bp.post("/connectwise")
def save_connectwise():
    connection = current()
    values, private_key = _settings_from_form(connection)
    problems = [f"Enter {label}." for name, label in (
        ("site", "the site"), ("company_id", "the company id"),
        ("public_key", "the public key"), ("client_id", "the client id")) if not values[name]]
    if not private_key:
        problems.append("Enter the private key.")
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
def test_connectwise():
    """Test what the form holds (a blank private key means the saved one)."""
    connection = current()
    values, private_key = _settings_from_form(connection)
    settings = CWSettings(values["site"], values["company_id"], values["public_key"],
                          private_key, values["client_id"])
    with DatabaseAuditSink() as sink:
        client = ConnectWise(settings, sink=sink, timeout=15.0, context={
            "connection_id": connection.id if connection else None})
        try:
            result = client.test_connection()
        finally:
            client.close()
    if connection is not None:
        failed = next((c.sentence for c in result.checks if not c.ok), None)
        connection.last_error = failed
        connection.save()
    return _answer(_render(connection, values, result=result))

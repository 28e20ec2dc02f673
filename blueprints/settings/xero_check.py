"""Test connection for one Xero organisation: read its /Organisation with the stored
grant, as a cycle would. Success clears the connection's last problem and keeps the
organisation's short code (for links to documents in Xero); a failure says what to do."""
from flask import current_app, flash, redirect, render_template, request, url_for

from blueprints.settings import bp
from connectors.errors import ApiError
from connectors.xero import open_client
from connectors.xero_governor import DayLimitReached, Governor
from connectors.xero_oauth import TokenKeeper, XeroAuthError, load_app
from jobs.audit import DatabaseAuditSink
from jobs.queue import get_redis
from models import Connection
from blueprints.roles import role


def test_organisation(connection: Connection) -> tuple[bool, str]:
    """(worked, a sentence saying what Xero answered)."""
    app = load_app(current_app.config["BASE_URL"])
    with DatabaseAuditSink() as sink:
        try:
            redis = get_redis()
            client = open_client(app, connection, sink=sink,
                                 tokens=TokenKeeper(app, redis=redis, sink=sink),
                                 governor=Governor(redis))
            try:
                org = client.organisation()
            finally:
                client.transport.close()
        except DayLimitReached as exc:
            return False, str(exc)
        except (ApiError, XeroAuthError) as exc:
            connection.last_error = str(exc)
            connection.save()
            return False, str(exc)
        except Exception as exc:  # Redis down, network: say so, the page stays usable
            return False, (f"Ferry could not reach Xero ({type(exc).__name__}). Check "
                           "that this server can reach Xero and that Ferry's Redis runs.")
    settings = dict(connection.settings or {})
    if org.get("ShortCode"):
        settings["short_code"] = org["ShortCode"]
    if org.get("Timezone"):             # the display zone's default (jobs/display_zone.py)
        settings["timezone"] = org["Timezone"]
    connection.settings, connection.last_error = settings, None
    connection.save()
    return True, f"Connected: Xero answered for {org.get('Name') or connection.name}."


@bp.post("/xero/<int:connection_id>/test")
@role("administrator")
def test_xero(connection_id: int):
    connection = Connection.get_or_none((Connection.id == connection_id) &
                                        (Connection.kind == "xero"))
    if connection is None:
        return _answer(None, False, "That Xero organisation is no longer in Ferry; "
                       "reload the page.", 404)
    ok, sentence = test_organisation(connection)
    return _answer(connection, ok, sentence, 200 if ok else 422)


def _answer(connection, ok: bool, sentence: str, status: int):
    if request.headers.get("HX-Request"):
        return render_template("settings/_xero_test.html", connection=connection, ok=ok,
                               sentence=sentence), status
    flash(sentence)
    return redirect(url_for("settings.index"))

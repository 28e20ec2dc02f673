"""CSV import and export of every mapping kind in the browser. An upload is previewed
(added, changed, unchanged, rejected with the reason per row) and nothing is written
until the user accepts; a file with a rejected row is never applied. The accepted file
travels back with the Apply button (base64 in the form), and is checked again against
the tables as they are then, so a preview that went stale is not applied blindly."""
from __future__ import annotations

import base64
import binascii

from flask import Response, flash, redirect, render_template, request, session, url_for
from werkzeug.exceptions import RequestEntityTooLarge

from blueprints.body_limits import accepts_body
from blueprints.mappings import bp
from blueprints.query_args import whole_number
from jobs import mapping_tables
from models import Connection
from sync import mapping_csv
from sync.mapping_csv import KINDS, MAX_BYTES, Refused
from blueprints.roles import role

# The upload may be a little bigger than the file (multipart framing); anything past
# this is refused before it is read.
REQUEST_LIMIT = MAX_BYTES + 64 * 1024
# The accepted file comes back with Apply as base64 in an urlencoded form: 4/3 of it,
# and up to three times that where every character is sent as %XX.
APPLY_LIMIT = 3 * 4 * -(-MAX_BYTES // 3) + 64 * 1024


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(_exc):
    if not session.get("user_id"):      # a stranger gets the app's sentence, not this page
        from blueprints.body_limits import TOO_LARGE, too_large_sentence
        from blueprints.dashboard import _refusal
        return _refusal("refused", too_large_sentence(), 413, **TOO_LARGE)
    return _page(413, problem=_too_big(request.content_length or 0))


def _orgs():
    return list(Connection.select().where(Connection.kind == "xero").order_by(Connection.name))


def _org_for(kind: str, raw: str) -> tuple[Connection | None, str | None]:
    if kind == "routing":
        return None, None
    org = Connection.get_or_none((Connection.id == (whole_number(raw) or 0)) &
                                 (Connection.kind == "xero"))
    if org is None:
        return None, "Choose the Xero organisation these mappings are for."
    return org, None


def _page(status=200, **extra):
    try:
        asked = request.values
    except RequestEntityTooLarge:   # the form itself was too big to read
        asked = request.args
    ctx = {"kinds": KINDS, "orgs": _orgs(), "kind": asked.get("kind", "accounts"),
           "org_id": asked.get("org", ""), "problem": None, "result": None,
           "data": None, "org": None, "message": None, "offer": None}
    ctx.update(extra)
    return render_template("mappings/import.html", **ctx), status


@bp.route("/import")
@role("viewer")      # the export links are here; uploading needs finance
def import_page():
    return _page()


@bp.route("/export/<kind>")
@role("viewer")
def export(kind):
    if kind not in KINDS:
        return _page(404, problem=f"Ferry exports {', '.join(KINDS)}; not {kind}.")
    org, problem = _org_for(kind, request.args.get("org", ""))
    if problem:
        return _page(422, problem=problem, kind=kind)
    text = mapping_csv.export(kind, mapping_tables.rows(kind, org))
    name = f"ferry-{kind}" + (f"-{org.id}" if org else "") + ".csv"
    return Response(text, mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.post("/import")
@accepts_body(REQUEST_LIMIT)
@role("finance")
def upload():
    """Preview an uploaded file."""
    if (request.content_length or 0) > REQUEST_LIMIT:
        return _page(413, problem=_too_big(request.content_length))
    try:
        upload = request.files.get("file")
    except RequestEntityTooLarge:
        return _page(413, problem=_too_big(request.content_length or 0))
    kind = request.form.get("kind", "")
    if kind not in KINDS:
        return _page(422, problem="Choose which mappings the file holds.")
    org, problem = _org_for(kind, request.form.get("org", ""))
    if problem:
        return _page(422, problem=problem, kind=kind)
    if upload is None or not upload.filename:
        return _page(422, problem="Choose a CSV file to upload.", kind=kind)
    data = upload.stream.read(MAX_BYTES + 1)
    return _preview(kind, org, data)


def _too_big(size: int) -> str:
    return mapping_csv.too_big(size)


def _preview(kind, org, data: bytes, status=200, **extra):
    result = mapping_tables.preview(kind, data, org)
    if isinstance(result, Refused):
        return _page(422, problem=result.sentence, kind=kind, org=org)
    return _page(status, result=result, kind=kind, org=org,
                 org_id=str(org.id) if org else "",
                 data=base64.b64encode(data).decode("ascii") if result.acceptable else None,
                 **extra)


@bp.post("/import/apply")
@accepts_body(APPLY_LIMIT)
@role("finance")
def apply_import():
    kind = request.form.get("kind", "")
    if kind not in KINDS:
        return _page(422, problem="Choose which mappings the file holds.")
    org, problem = _org_for(kind, request.form.get("org", ""))
    if problem:
        return _page(422, problem=problem, kind=kind)
    try:
        data = base64.b64decode(request.form.get("data", ""), validate=True)
    except (binascii.Error, ValueError):
        return _page(422, problem="The file did not come back intact; upload it again.",
                     kind=kind)
    result = mapping_tables.preview(kind, data, org)
    if isinstance(result, Refused) or not result.acceptable:
        return _preview(kind, org, data, 409, problem=(
            "The mappings changed since the preview and some rows no longer fit; "
            "nothing was written. Check the rows below and upload the file again."))
    written = mapping_tables.apply(result, org)
    from blueprints.mappings.history import record
    record("import", "imported", f"{KINDS[kind].label} from CSV: "
           f"{result.count('added')} added, {result.count('changed')} changed", org)
    message = (f"Imported {KINDS[kind].label}: {result.count('added')} added, "
               f"{result.count('changed')} changed, {result.count('unchanged')} unchanged"
               + (f" ({written} {'row' if written == 1 else 'rows'} written)." if written
                  else "; nothing to write."))
    found = _offer(kind, org, result)
    if found:   # the exceptions the import may fix, offered for re-sync right here
        return _page(200, message=message, offer=found, kind=kind,
                     org_id=str(org.id) if org else "")
    flash(message)
    if kind == "routing":
        return redirect(url_for(".index"), 303)
    table = {"accounts": "accounts", "taxes": "taxes", "tracking": "tracking",
             "items": "items"}[kind]
    return redirect(url_for(".table", org_id=org.id, kind=table), 303)


def _offer(kind, org, result):
    from blueprints.mappings.tables import offer, offer_for
    from jobs import problem_keys
    if kind == "routing":
        return offer(problem_keys.open_records("routing", None)) if result.changes else None
    return offer_for(kind, org, [row.values for row in result.changes])

"""One Xero organisation's account, tax, tracking and item maps: a table per kind with a
filter, inline editing (a row turns into a form and back), adding, deleting, and bulk
update or delete of the ticked rows. Values come from the cached choice lists; a row
pointing at something the API no longer offers is flagged. After a change the
exceptions it fixes are offered for re-sync."""
from __future__ import annotations

import re
from dataclasses import dataclass, replace

import redis
from flask import abort, flash, has_request_context, redirect, render_template, request, url_for
from peewee import IntegrityError, Tuple

from blueprints.auth import _safe_next
from blueprints.labels import DOCUMENT_TYPES, MANY, ONE
from blueprints.mappings import bp, is_htmx
from blueprints.query_args import Pager, page_number, whole_number, whole_numbers
from jobs import choices, problem_keys
from jobs.mapping_tables import known as known_for, unread_sentence
from jobs.queue import RedisUnavailable, get_redis
from models import (
    AccountMapping, Connection, ItemMapping, OrgRecordSetting, RecordProblem, SyncRecord,
    TaxMapping, TrackingMapping, db,
)
from sync.mapping_csv import KINDS, check_values


@dataclass(frozen=True)
class Column:
    name: str                  # the CSV column and form field
    label: str
    attr: str                  # the model's attribute
    source: str | None = None  # "connectwise" | "xero": choices come from there
    choices: str | None = None  # the choice list's kind
    fixed: tuple = ()          # fixed choices instead of a list
    key: bool = False          # part of what names the row (CW side)


@dataclass(frozen=True)
class Table:
    name: str
    title: str
    model: type
    columns: tuple[Column, ...]
    target: str                # the column bulk update sets
    prefill: str = ""          # the column "Fix it" links open on (?new=value)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


TABLES = {t.name: t for t in (
    Table("accounts", "Accounts", AccountMapping, (
        Column("cw_gl_account", "ConnectWise GL account", "cw_account", "connectwise",
               "gl_accounts", key=True),
        Column("xero_account_code", "Xero account", "xero_code", "xero", "accounts"),
    ), "xero_account_code", "cw_gl_account"),
    Table("taxes", "Tax", TaxMapping, (
        Column("side", "Side", "side", fixed=("sales", "purchases"), key=True),
        Column("cw_tax_code", "ConnectWise tax code", "cw_tax_code", "connectwise",
               "tax_codes", key=True),
        Column("xero_tax_type", "Xero tax rate", "xero_tax_type", "xero", "tax_rates"),
    ), "xero_tax_type", "cw_tax_code"),
    Table("tracking", "Tracking", TrackingMapping, (
        Column("category", "Xero tracking category", "category", "xero", "tracking",
               key=True),
        Column("source", "Fed by ConnectWise", "source", fixed=("location", "department")),
        Column("cw_id", "ConnectWise location or department", "cw_id", "connectwise",
               "places", key=True),
        Column("option", "Xero option", "option", "xero", "options"),
    ), "option", "cw_id"),
    Table("items", "Items", ItemMapping, (
        Column("cw_item", "ConnectWise product", "cw_item", "connectwise", "products",
               key=True),
        Column("xero_item_code", "Xero item", "xero_item_code", "xero", "items"),
    ), "xero_item_code", "cw_item"),
)}
SIDE_OF = {"invoice": "sales", "credit_note": "sales", "bill": "purchases"}
# Rows a table page shows. An import may bring tens of thousands (19,000 items made a
# 16 MB page); a page of this many renders in milliseconds.
PAGE_SIZE = 100


def _org(org_id: int) -> Connection:
    org = Connection.get_or_none((Connection.id == org_id) & (Connection.kind == "xero"))
    if org is None:
        abort(404)
    return org


def _table(kind: str) -> Table:
    if kind not in TABLES:
        abort(404)
    return TABLES[kind]


# -- choices ---------------------------------------------------------------------------
class Choices:
    """The choice lists one table needs, with labels, and what is still offered."""

    def __init__(self, table: Table, org: Connection):
        self.org = org
        self.lists: dict[str, list[dict] | None] = {}
        self.errors: list[str] = []
        for col in table.columns:
            if col.choices:
                self.lists[col.name] = self._list(col, org)

    def _list(self, col: Column, org: Connection) -> list[dict] | None:
        if col.choices == "places":
            out = []
            for kind, prefix in (("locations", "location"), ("departments", "department")):
                listed = choices.items("connectwise", kind)
                if listed is None:
                    self._error("connectwise", kind, None)
                    return None
                out += [{**i, "group": prefix} for i in listed]
            return out
        if col.choices == "options":
            listed = choices.items("xero", "tracking", org.id)
            if listed is None:
                return None
            return [{**o, "group": c["value"], "active": o["active"] and c["active"]}
                    for c in listed for o in c["options"]]
        org_id = org.id if col.source == "xero" else None
        listed = choices.items(col.source, col.choices, org_id)
        if listed is None:
            self._error(col.source, col.choices, org_id)
        return listed

    def _error(self, source, kind, org_id) -> None:
        row = choices.get(source, kind, org_id)
        sentence = unread_sentence(source, kind, self.org)
        if row is not None and row.error and sentence not in self.errors:
            self.errors.append(sentence)

    def matching(self, column: str, text: str) -> list[dict]:
        """The listed items whose label (what the table shows) contains `text`."""
        folded = text.casefold()
        return [i for i in self.lists.get(column) or () if folded in i["label"].casefold()]

    def label(self, column: str, value) -> str:
        for item in self.lists.get(column) or ():
            if item["value"] == str(value):
                return item["label"]
        return str(value)

    def flag(self, table: Table, column: str, values: dict) -> str | None:
        """Why this cell points at something the API no longer offers (None: fine)."""
        listed = self.lists.get(column)
        if listed is None:
            return None
        value = str(values[column])
        matches = [i for i in listed if i["value"] == value and (
            column != "option" or i.get("group") == values.get("category")) and (
            column != "cw_id" or i.get("group") == values.get("source"))]
        col = table.column(column)
        where = "Xero" if col.source == "xero" else "ConnectWise"
        if not matches:
            return f"{where} no longer has this"
        if not any(m.get("active", True) for m in matches):
            return f"archived in {where}"
        return None


def _values(table: Table, row) -> dict:
    return {c.name: str(getattr(row, c.attr)) for c in table.columns}


def _query(table: Table, org: Connection, text: str = "", picks: Choices | None = None):
    """The org's rows; with `text`, those whose stored code or shown label contains it
    ("Travel" finds 6100, shown as "6100 Travel - national")."""
    model = table.model
    query = model.select().where(model.org == org)
    if text:
        parts = []
        for col in table.columns:
            field = getattr(model, col.attr)
            if col.attr == "cw_id":
                if whole_number(text) is not None:
                    parts.append(field == whole_number(text))
                for item in picks.matching(col.name, text) if picks else ():
                    parts.append((model.source == item["group"]) &
                                 (field == int(item["value"])))
                continue
            parts.append(field.contains(text))
            labelled = [i["value"] for i in (picks.matching(col.name, text) if picks else ())]
            if labelled:
                parts.append(field.in_(labelled))
        cond = parts[0]
        for part in parts[1:]:
            cond = cond | part
        query = query.where(cond)
    order = [getattr(model, c.attr) for c in table.columns if c.key]
    return query.order_by(*order, model.id)


def _context(table: Table, org: Connection, *, text="", page=1, only=None, editing=None,
             problems=None, form=None, message=None, offer=None, bulk_problem=None,
             new_problem=None, new_values=None):
    """What a table page shows: one page of its rows (PAGE_SIZE) for `text` and `page`,
    or only the row `only` (an inline edit or its cancel needs no other row)."""
    picks = Choices(table, org)
    query = _query(table, org, text, picks)
    if only is not None:
        pager = None
        found = list(query.where(table.model.id == only))
    else:
        pager = Pager(page, PAGE_SIZE, query.count())
        found = pager.rows(query)
    rows = []
    for row in found:
        values = _values(table, row)
        flags = {c.name: picks.flag(table, c.name, values) for c in table.columns
                 if c.choices}
        rows.append({"id": row.id, "values": values, "flags": flags})
    list_args = {k: v for k, v in (("q", text), ("page", pager.page if pager else 1))
            if v and v != 1}
    return {"table": table, "tables": TABLES, "org": org, "rows": rows, "picks": picks,
            "text": text, "editing": editing, "problems": problems or {}, "form": form,
            "message": message, "offer": offer, "bulk_problem": bulk_problem,
            "new_problem": new_problem, "new_values": new_values or {},
            "pager": pager, "list_args": list_args, "pager_target": "#mapping-table",
            "page_url": lambda n: url_for(".table", org_id=org.id, kind=table.name,
                                          q=text or None, page=n if n > 1 else None),
            "orgs": _orgs(), "settings": _record_settings(org),
            "record_labels": RECORD_LABELS, "statuses": STATUSES,
            "accounts": choices.items("xero", "accounts", org.id), "posted": None,
            "writing_problem": None, "writing_message": None, "writing_offer": None}


def _page_of(table: Table, org: Connection, row) -> int:
    """The page (unfiltered) a row is on: the rows whose key sorts before its key."""
    keys = [getattr(table.model, c.attr) for c in table.columns if c.key]
    mine = [getattr(row, c.attr) for c in table.columns if c.key]
    before = table.model.select().where(
        (table.model.org == org) &
        ((Tuple(*keys) < Tuple(*mine)) |
         ((Tuple(*keys) == Tuple(*mine)) & (table.model.id < row.id)))).count()
    return before // PAGE_SIZE + 1


def _view() -> dict:
    """The page and filter a form was posted from (its hidden fields), to answer with
    the same page."""
    return {"text": request.values.get("q", "").strip(),
            "page": page_number(request.values)}


def _orgs():
    return list(Connection.select().where(Connection.kind == "xero").order_by(Connection.name))


def _record_settings(org: Connection) -> dict:
    rows = {r.record_type: r for r in OrgRecordSetting.select().where(
        OrgRecordSetting.org == org)}
    return {"rows": rows, "rounding_account": (org.settings or {}).get("rounding_account")}


# -- views ---------------------------------------------------------------------------------
@bp.route("/org/<int:org_id>/<kind>")
def table(org_id, kind):
    org, tbl = _org(org_id), _table(kind)
    choices.ensure_read(org)
    editing = whole_number(request.args.get("edit"))
    # ?fixed=<row id>: rows just saved without JavaScript, whose re-sync offer the
    # redirect would otherwise lose.
    fixed_ids = whole_numbers(request.args.getlist("fixed"))
    fixed = list(tbl.model.select().where(tbl.model.id.in_(fixed_ids) &
                                          (tbl.model.org == org))) if fixed_ids else []
    found = offer_for(kind, org, [_values(tbl, r) for r in fixed]) if fixed else None
    ctx = _context(tbl, org, text=request.args.get("q", "").strip(),
                   page=page_number(request.args), editing=editing, offer=found)
    if is_htmx():
        return render_template("mappings/_table.html", **ctx)
    return render_template("mappings/table.html", **ctx)


@bp.route("/org/<int:org_id>/<kind>/<int:row_id>/edit")
def edit_row(org_id, kind, row_id):
    org, tbl = _org(org_id), _table(kind)
    row = tbl.model.get_or_none((tbl.model.id == row_id) & (tbl.model.org == org))
    if row is None:
        abort(404)
    if not is_htmx():
        page = _page_of(tbl, org, row)
        return redirect(url_for(".table", org_id=org.id, kind=kind, edit=row_id,
                                page=page if page > 1 else None, _anchor=f"row-{row_id}"))
    ctx = _context(tbl, org, only=row_id)
    item = ctx["rows"][0]
    return render_template("mappings/_edit_row.html", row=item, values=item["values"],
                           problem=None, **ctx)


@bp.route("/org/<int:org_id>/<kind>/<int:row_id>/view")
def view_row(org_id, kind, row_id):
    """Cancel an edit: the row as it is stored."""
    org, tbl = _org(org_id), _table(kind)
    ctx = _context(tbl, org, only=row_id)
    item = next(iter(ctx["rows"]), None)
    if item is None:
        abort(404)
    return render_template("mappings/_row.html", row=item, **ctx)


def _read_form(tbl: Table) -> dict:
    return {c.name: request.form.get(c.name, "").strip() for c in tbl.columns}


def _check(tbl: Table, org: Connection, values: dict, row_id: int | None) -> str | None:
    empty = [c.label for c in tbl.columns if not values.get(c.name)]
    if empty:
        # The CSV check would name its columns (xero_account_code); a person chose nothing.
        return f"Choose the {' and the '.join(empty)}."
    known = known_for(tbl.name, org)
    if tbl.name == "tracking":
        known = replace(known, tracking_categories={
            r.category: r.source for r in TrackingMapping.select().where(
                (TrackingMapping.org == org) & (TrackingMapping.id != (row_id or 0)))})
    reason = check_values(tbl.name, values, known)
    if reason:
        return reason
    model = tbl.model
    clash = model.select().where(model.org == org)
    for col in tbl.columns:
        if col.key:
            value = int(values[col.name]) if col.attr == "cw_id" else values[col.name]
            clash = clash.where(getattr(model, col.attr) == value)
    if row_id:
        clash = clash.where(model.id != row_id)
    other = clash.first()
    if other is not None:
        keys = ", ".join(f"{c.label} {values[c.name]}" for c in tbl.columns if c.key)
        return (f"{keys} is already mapped in {org.name} (another row); change that row "
                "instead.")
    return None


def _store(tbl: Table, org: Connection, values: dict, row=None):
    row = row or tbl.model(org=org)
    for col in tbl.columns:
        setattr(row, col.attr, int(values[col.name]) if col.attr == "cw_id"
                else values[col.name])
    row.save()
    choices.invalidate_reference(org.id)
    return row


def offer_for(tbl_name: str, org: Connection, rows_values: list[dict]) -> dict | None:
    """The exceptions a change of these rows may fix, for one-click re-sync."""
    records = []
    for values in rows_values:
        if tbl_name == "accounts":
            records += problem_keys.open_records("accounts", [values["cw_gl_account"]], org.id)
        elif tbl_name == "taxes":
            records += problem_keys.open_records("taxes", [values["cw_tax_code"]], org.id,
                                                 side=values["side"])
        elif tbl_name == "tracking":
            name = _place_name(values["source"], values["cw_id"])
            records += problem_keys.open_records(
                "tracking", [name] if name else None, org.id)
    unique = {r.id: r for r in records}
    return offer(list(unique.values()))


def offer(records) -> dict | None:
    if not records:
        return None
    return {"records": records, "labels": ONE}


def _place_name(source: str, cw_id: str) -> str | None:
    listed = choices.items("connectwise", "locations" if source == "location"
                           else "departments") or []
    return next((i["label"] for i in listed if i["value"] == str(cw_id)), None)


@bp.post("/org/<int:org_id>/<kind>/<int:row_id>")
def save_row(org_id, kind, row_id):
    org, tbl = _org(org_id), _table(kind)
    row = tbl.model.get_or_none((tbl.model.id == row_id) & (tbl.model.org == org))
    if row is None:
        abort(404)
    values = _read_form(tbl)
    problem = _check(tbl, org, values, row_id)
    if problem:
        ctx = _context(tbl, org, editing=row_id, **(
            {"only": row_id} if is_htmx() else {"page": _page_of(tbl, org, row)}))
        item = {"id": row_id, "values": values, "flags": {}}
        if is_htmx():
            return render_template("mappings/_edit_row.html", row=item, values=values,
                                   problem=problem, **ctx), 422
        ctx.update(problems={row_id: problem}, form=values)
        return render_template("mappings/table.html", **ctx), 422
    _store(tbl, org, values, row)
    found = offer_for(kind, org, [values])
    if not is_htmx():
        return _saved_redirect(org, kind, "Saved.", [row_id], found,
                               page=_page_of(tbl, org, row))
    ctx = _context(tbl, org, only=row_id)
    item = ctx["rows"][0]
    return render_template("mappings/_row.html", row=item, saved=True, row_offer=found,
                           **ctx)


@bp.post("/org/<int:org_id>/<kind>/new")
def add_row(org_id, kind):
    org, tbl = _org(org_id), _table(kind)
    values = _read_form(tbl)
    problem = _check(tbl, org, values, None)
    if problem:
        ctx = _context(tbl, org, new_problem=problem, new_values=values, **_view())
        return _table_answer(ctx, 422)
    try:
        with db.atomic():
            row = _store(tbl, org, values)
    except IntegrityError:
        ctx = _context(tbl, org, new_problem="That row was just added by someone else; "
                       "it is in the table now.", new_values=values, **_view())
        return _table_answer(ctx, 409)
    found = offer_for(kind, org, [values])
    page = _page_of(tbl, org, row)          # the page the new row is on
    if not is_htmx():
        return _saved_redirect(org, kind, "Added.", [row.id], found, page=page)
    return _table_answer(_context(tbl, org, message="Added.", offer=found, page=page), 200)


def _saved_redirect(org: Connection, kind: str, message: str, row_ids: list[int], found,
                    page: int = 1, text: str = ""):
    """After a plain form post: the table again, its ?fixed= rows bringing back the
    re-sync offer the htmx answer shows in place."""
    flash(message + (f" {len(found['records'])} exception(s) this may fix can be "
                     "re-synced below." if found else ""))
    # With an offer the page opens at its top (the message, then the offer), else on the row.
    anchor = f"row-{row_ids[0]}" if len(row_ids) == 1 and not found else None
    return redirect(url_for(".table", org_id=org.id, kind=kind,
                            fixed=row_ids if found else None, q=text or None,
                            page=page if page > 1 else None, _anchor=anchor))


def _table_answer(ctx, status):
    if is_htmx():
        return render_template("mappings/_table.html", **ctx), status
    return render_template("mappings/table.html", **ctx), status


def _describe(tbl: Table, picks: Choices, row) -> str:
    """A row in words, as the table shows it: "4900 Freight recovered → 260 Other Revenue"."""
    values = _values(tbl, row)
    keys = " ".join(picks.label(c.name, values[c.name]) for c in tbl.columns if c.key)
    return f"{keys} → {picks.label(tbl.target, values[tbl.target])}"


def _confirm_delete(tbl: Table, org: Connection, rows: list, fields: list[tuple]):
    """Without JavaScript there is no dialog: a page names what goes, Delete or Cancel."""
    picks = Choices(tbl, org)
    noun = KINDS[tbl.name].label            # "account mappings"
    what = f"these {len(rows)} {noun}" if len(rows) != 1 else f"this {noun[:-1]}"
    needed = "" if tbl.name == "items" else (
        " Records that need " + ("them" if len(rows) != 1 else "it") + " become exceptions "
        "until the value is mapped again.")
    return render_template(
        "confirm.html", title=f"Delete {what} of {org.name}?",
        lines=[_describe(tbl, picks, r) for r in rows],
        sentence=f"Ferry stops using {'them' if len(rows) != 1 else 'it'} from the next "
                 f"sync.{needed} Nothing changes in ConnectWise or Xero.",
        action=request.path, fields=fields, button="Delete",
        cancel=url_for(".table", org_id=org.id, kind=tbl.name))


@bp.post("/org/<int:org_id>/<kind>/<int:row_id>/delete")
def delete_row(org_id, kind, row_id):
    org, tbl = _org(org_id), _table(kind)
    row = tbl.model.get_or_none((tbl.model.id == row_id) & (tbl.model.org == org))
    if row is not None and not is_htmx() and not request.form.get("confirmed"):
        return _confirm_delete(tbl, org, [row], [])
    tbl.model.delete().where((tbl.model.id == row_id) & (tbl.model.org == org)).execute()
    choices.invalidate_reference(org.id)
    if is_htmx():
        return ""
    flash("Deleted.")
    view = _view()
    return redirect(url_for(".table", org_id=org.id, kind=kind, q=view["text"] or None,
                            page=view["page"] if view["page"] > 1 else None))


@bp.post("/org/<int:org_id>/<kind>/bulk")
def bulk(org_id, kind):
    """Set one value on every ticked row, or delete them."""
    org, tbl = _org(org_id), _table(kind)
    ids = whole_numbers(request.form.getlist("ids"))
    action = request.form.get("action", "update")
    rows = list(tbl.model.select().where((tbl.model.org == org) & tbl.model.id.in_(ids))
                ) if ids else []
    if not rows:
        ctx = _context(tbl, org, bulk_problem="Tick at least one row, then choose what "
                       "to do with them.", **_view())
        return _table_answer(ctx, 422)
    if action == "delete":
        if not is_htmx() and not request.form.get("confirmed"):
            return _confirm_delete(tbl, org, rows, [("action", "delete")] +
                                   [("ids", str(r.id)) for r in rows])
        tbl.model.delete().where(tbl.model.id.in_([r.id for r in rows])).execute()
        choices.invalidate_reference(org.id)
        message = f"Deleted {len(rows)} row(s)."
        found, changed = None, []
    else:
        target = tbl.column(tbl.target)
        new = request.form.get("bulk_value", "").strip()
        problem, changed = None, []
        for row in rows:
            values = {**_values(tbl, row), target.name: new}
            problem = _check(tbl, org, values, row.id)
            if problem:
                problem = (f"Nothing was changed: {problem}" if new else
                           f"Choose the {target.label} to set on the ticked rows.")
                break
            changed.append((row, values))
        if problem:
            ctx = _context(tbl, org, bulk_problem=problem, **_view())
            return _table_answer(ctx, 422)
        with db.atomic():
            for row, values in changed:
                _store(tbl, org, values, row)
        message = f"Set {target.label} {new} on {len(changed)} row(s)."
        found = offer_for(kind, org, [v for _r, v in changed])
    view = _view()
    if not is_htmx():
        return _saved_redirect(org, kind, message, [r.id for r, _v in changed], found,
                               page=view["page"], text=view["text"])
    return _table_answer(_context(tbl, org, message=message, offer=found, **view), 200)


@bp.post("/refresh")
def refresh():
    """Refresh choices: a worker reads every list from the APIs again (jobs/choices.py);
    the page says so and polls until it is done. A request never waits on Xero's limit."""
    back = request.form.get("next")
    back = _safe_next(back) if back else url_for(".index")   # only a path on Ferry
    try:
        choices.queue_refresh(get_redis())
        message = ("Ferry is reading the choices again from ConnectWise and Xero; this "
                   "page shows them when it is done (reload it in a minute without "
                   "JavaScript).")
    except choices.RefreshBusy as exc:
        message = str(exc)
    except (RedisUnavailable, redis.RedisError, OSError):
        message = ("Ferry could not start reading the choices because its queue (Redis) "
                   "is not answering. Start Ferry's background services and press "
                   "Refresh choices again.")
    flash(message)
    if is_htmx():
        return "", 200, {"HX-Redirect": back}
    return redirect(back)


@bp.app_context_processor
def _refresh_state():
    """Whether the mapping pages should say "reading the choices again" and poll."""
    # A mail rendered by a job has no request: nothing to say there.
    if not has_request_context() or request.blueprint != "mappings":
        return {}
    try:
        return {"choices_refreshing": choices.refreshing(get_redis())}
    except Exception:           # Redis down: the page works without the notice
        return {"choices_refreshing": False}


@bp.route("/refresh/status")
def refresh_status():
    """The poller: the same notice while the worker reads; when it is done, what could
    not be read and a reload of the page (286 stops the polling)."""
    try:
        busy = choices.refreshing(get_redis())
        last = None if busy else choices.last_refresh(get_redis())
    except Exception:
        busy, last = False, None
    if busy:
        return render_template("mappings/_refreshing.html", choices_refreshing=True)
    problems = (last or {}).get("problems") or []
    done = "Choices read again from ConnectWise and Xero." + (
        " Not offered, so typed by hand: " + ", ".join(problems) + "." if problems else "")
    flash(done)
    return "", 286, {"HX-Refresh": "true"}


# -- how records are written to the org --------------------------------------------------
RECORD_LABELS = {t: MANY[t] for t in DOCUMENT_TYPES}   # as Xero and the other pages say
STATUSES = {"DRAFT": "draft", "AUTHORISED": "authorised"}


def _writing_answer(org, status=200, **extra):
    ctx = {"org": org, "settings": _record_settings(org), "record_labels": RECORD_LABELS,
           "statuses": STATUSES, "accounts": choices.items("xero", "accounts", org.id),
           "writing_problem": None, "writing_message": None, "writing_offer": None,
           "posted": None}
    ctx.update(extra)
    if is_htmx():
        return render_template("mappings/_writing.html", **ctx), status
    tbl = TABLES["accounts"]
    page = _context(tbl, org)
    page.update(ctx)
    return render_template("mappings/table.html", **page), status


@bp.post("/org/<int:org_id>/writing")
def save_writing(org_id):
    """Status in Xero per record type and the rounding account (the same values as
    Settings → Sync shows)."""
    org = _org(org_id)
    posted = {t: request.form.get(f"status_{t}", "") for t in RECORD_LABELS}
    rounding = request.form.get("rounding_account", "").strip()
    posted["rounding_account"] = rounding
    problem = None
    if any(v not in STATUSES for k, v in posted.items() if k != "rounding_account"):
        problem = "Choose draft or authorised for each record type."
    elif rounding:
        offered = choices.values("xero", "accounts", org.id)
        if offered is not None and rounding not in offered:
            problem = (f"Xero org {org.name} has no active account with code “{rounding}”; "
                       "pick one from the list, or press Refresh choices if it is new.")
        elif not re.match(r"^[A-Za-z0-9._-]{1,10}$", rounding):
            problem = (f"The rounding account is a Xero account code of up to 10 letters "
                       f"or digits, such as 860; “{rounding}” is not one.")
    if problem:
        return _writing_answer(org, 422, writing_problem=problem, posted=posted)
    with db.atomic():
        for t in RECORD_LABELS:
            row = OrgRecordSetting.get_or_none(org=org, record_type=t) or \
                OrgRecordSetting(org=org, record_type=t)
            row.status = posted[t]
            row.save()
        org.settings = {**(org.settings or {}), "rounding_account": rounding or None}
        org.save()
    choices.invalidate_reference(org.id)
    found = offer(list(SyncRecord.select().join(RecordProblem).where(
        (SyncRecord.state == "exception") & (RecordProblem.org == org) &
        (RecordProblem.kind == "setting")).distinct())) if rounding else None
    if not is_htmx():
        flash("Saved how records are written to " + org.name + ".")
        return redirect(url_for(".table", org_id=org.id, kind="accounts",
                                _anchor="writing"))
    return _writing_answer(org, writing_message="Saved.", writing_offer=found)

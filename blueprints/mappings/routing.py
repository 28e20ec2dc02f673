"""Routing rules: which Xero organisation gets a record. Tried in order, first match
wins; the default organisation takes what no rule matches. Add, edit inline, delete,
move up or down; a rule pointing at an organisation that is not connected is flagged."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from blueprints.mappings import bp, is_htmx
from blueprints.query_args import whole_number
from jobs import choices, problem_keys
from jobs.cycle_mappings import DEFAULT_ORG_SETTING
from jobs.mapping_tables import known as known_for
from models import Connection, RoutingRule, Setting, db
from sync.mapping_csv import check_values
from blueprints.roles import role

FIELDS = {"location": "location", "department": "department",
          "member": "member (sales rep / owner)", "tag": "company integrator tag",
          "company_type": "company type"}
RECORD_TYPES = {"": "all records", "invoice": "invoices", "credit_note": "credit notes",
                "bill": "bills"}
FIELD_CHOICES = {"location": "locations", "department": "departments",
                 "member": "members", "company_type": "company_types"}


def _orgs():
    return list(Connection.select().where(Connection.kind == "xero").order_by(Connection.name))


def _rules():
    return list(RoutingRule.select(RoutingRule, Connection).join(Connection)
                .order_by(RoutingRule.position, RoutingRule.id))


def _value_label(rule_field: str, value: str) -> str:
    kind = FIELD_CHOICES.get(rule_field)
    for item in (choices.items("connectwise", kind) if kind else None) or ():
        if item["value"] == value:
            return item["label"]
    return value


def _context(**extra):
    orgs = _orgs()
    rules = _rules()
    default = Setting.get_value(DEFAULT_ORG_SETTING)
    lists = {f: choices.items("connectwise", k) for f, k in FIELD_CHOICES.items()}
    ctx = {"rules": rules, "orgs": orgs, "fields": FIELDS, "record_types": RECORD_TYPES,
           "lists": lists, "value_label": _value_label,
           "default_org": next((o for o in orgs if str(o.id) == str(default)), None),
           "editing": None, "problem": None, "form": {}, "new_problem": None,
           "message": None, "offer": None}
    ctx.update(extra)
    return ctx


def _answer(status=200, **extra):
    ctx = _context(**extra)
    if is_htmx():
        return render_template("mappings/_routing.html", **ctx), status
    return render_template("mappings/index.html", **ctx), status


@bp.route("/")
@role("viewer")
def index():
    if _orgs():
        choices.ensure_read()
    # ?fixed=<rule id>: a rule just saved without JavaScript, offered for re-sync here.
    fixed = RoutingRule.get_or_none(
        RoutingRule.id == (whole_number(request.args.get("fixed")) or 0))
    return _answer(editing=whole_number(request.args.get("edit")),
                   offer=_offer(fixed.field, fixed.value) if fixed else None)


def _read(position: str) -> tuple[dict, Connection | None]:
    form = {k: request.form.get(k, "").strip() for k in ("field", "value", "record_type",
                                                          "org")}
    org = Connection.get_or_none((Connection.id == (whole_number(form["org"]) or 0)) &
                                 (Connection.kind == "xero"))
    form["position"] = position
    return form, org


def _check(form: dict, org: Connection | None) -> str | None:
    if org is None:
        return "Choose the Xero organisation the records go to."
    values = {**form, "org": org.name}
    known = known_for("routing", None)
    if form.get("field") in FIELD_CHOICES:
        listed = choices.values("connectwise", FIELD_CHOICES[form["field"]], None, False)
        known = type(known)(columns={"value": listed}, orgs=known.orgs)
    reason = check_values("routing", values, known)
    if reason and form.get("field") in ("location", "department") and "not one" in reason:
        return f"Choose a ConnectWise {form['field']} from the list."
    return reason


def _offer(rule_field: str, value: str):
    from blueprints.mappings.tables import offer
    keys = [value] if rule_field == "location" else None
    return offer(problem_keys.open_records("routing", keys))


def _history(action: str, rule) -> None:
    from blueprints.mappings.history import record
    record("routing", action, f"rule {rule.position}: {FIELDS.get(rule.field, rule.field)} "
           f"{rule.value}, {RECORD_TYPES.get(rule.record_type or '', rule.record_type)} → "
           f"{rule.org.name}", rule.org)


@bp.post("/routing/new")
@role("finance")
def add_rule():
    last = RoutingRule.select().order_by(RoutingRule.position.desc()).first()
    form, org = _read(str((last.position if last else 0) + 1))
    problem = _check(form, org)
    if problem:
        return _answer(422, new_problem=problem, form=form)
    rule = RoutingRule.create(position=int(form["position"]), field=form["field"],
                              value=form["value"], record_type=form["record_type"] or None,
                              org=org)
    _history("added", rule)
    if not is_htmx():
        flash("Rule added at the end of the list.")
        return redirect(url_for(".index", fixed=rule.id, _anchor=f"rule-{rule.id}"))
    return _answer(message="Rule added at the end of the list.",
                   offer=_offer(form["field"], form["value"]))


@bp.route("/routing/<int:rule_id>/edit")
@role("finance")
def edit_rule(rule_id):
    if not is_htmx():
        return redirect(url_for(".index", edit=rule_id, _anchor=f"rule-{rule_id}"))
    return _answer(editing=rule_id)


@bp.post("/routing/<int:rule_id>")
@role("finance")
def save_rule(rule_id):
    rule = RoutingRule.get_or_none(RoutingRule.id == rule_id)
    if rule is None:
        abort(404)
    form, org = _read(str(rule.position))
    problem = _check(form, org)
    if problem:
        return _answer(422, editing=rule_id, problem=problem, form=form)
    rule.field, rule.value, rule.org = form["field"], form["value"], org
    rule.record_type = form["record_type"] or None
    rule.save()
    _history("changed", rule)
    if not is_htmx():
        flash("Rule saved.")
        return redirect(url_for(".index", fixed=rule.id, _anchor=f"rule-{rule.id}"))
    return _answer(message="Rule saved.", offer=_offer(form["field"], form["value"]))


@bp.post("/routing/<int:rule_id>/delete")
@role("finance")
def delete_rule(rule_id):
    rule = RoutingRule.get_or_none(RoutingRule.id == rule_id)
    if rule is not None and not is_htmx() and not request.form.get("confirmed"):
        # Without JavaScript there is no dialog: a page names the rule, Delete or Cancel.
        return render_template(
            "confirm.html", title=f"Delete routing rule {rule.position}?",
            lines=[f"{FIELDS.get(rule.field, rule.field)} "
                   f"{_value_label(rule.field, rule.value)}, "
                   f"{RECORD_TYPES.get(rule.record_type or '', rule.record_type)} → "
                   f"{rule.org.name}"],
            sentence="From the next sync the records it took go to the next rule that "
                     "matches, else to the default organisation (without one they "
                     "become exceptions). Nothing changes in ConnectWise or Xero.",
            action=request.path, fields=[], button="Delete", cancel=url_for(".index"))
    if rule is not None:
        _history("deleted", rule)
    RoutingRule.delete().where(RoutingRule.id == rule_id).execute()
    _renumber(_rules())
    if not is_htmx():
        flash("Rule deleted.")
        return redirect(url_for(".index"))
    return _answer(message="Rule deleted.")


@bp.post("/routing/<int:rule_id>/move")
@role("finance")
def move_rule(rule_id):
    rules = _rules()
    at = next((i for i, r in enumerate(rules) if r.id == rule_id), None)
    if at is None:
        abort(404)
    to = at - 1 if request.form.get("direction") == "up" else at + 1
    if 0 <= to < len(rules):
        rules[at], rules[to] = rules[to], rules[at]
        _history(f"moved {'up' if to < at else 'down'}", rules[to])
    _renumber(rules)
    if not is_htmx():
        return redirect(url_for(".index", _anchor=f"rule-{rule_id}"))
    return _answer()


def _renumber(rules) -> None:
    with db.atomic():
        for position, rule in enumerate(rules, start=1):
            if rule.position != position:
                RoutingRule.update(position=position).where(RoutingRule.id == rule.id
                                                             ).execute()


@bp.post("/routing/default")
@role("finance")
def save_default():
    raw = request.form.get("default_org", "").strip()
    orgs = {str(o.id): o for o in _orgs()}
    if raw and raw not in orgs:
        return _answer(422, new_problem="The default organisation is no longer "
                       "connected; choose one of the organisations listed, or none.")
    Setting.set_value(DEFAULT_ORG_SETTING, int(raw) if raw else None)
    from blueprints.mappings.history import record
    record("routing", "changed", "default organisation: " + (orgs[raw].name if raw else
                                                             "none (exceptions)"))
    message = (f"Records no rule matches now go to {orgs[raw].name}." if raw else
               "Records no rule matches now become exceptions.")
    if not is_htmx():
        flash(message)
        return redirect(url_for(".index"))
    return _answer(message=message, offer=_offer("", "") if raw else None)

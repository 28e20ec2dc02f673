"""The conditions parser agrees with plain Python predicates over generated data, reads
back any quoted string, and turns garbage into a clear 400 in CW's error shape."""
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.connectwise import conditions as cond

from .conftest import body

BASE = datetime(2025, 11, 1, tzinfo=timezone.utc)
NAMES = ["Acme", "acme", "Harbour Dental Group", 'Quote "Q" Ltd', "Zeta [x]", "Ünïcode Pty"]

record_st = st.fixed_dictionaries({
    "id": st.integers(1, 50),
    "name": st.sampled_from(NAMES),
    "total": st.decimals(-1000, 1000, places=2, allow_nan=False, allow_infinity=False),
    "closedFlag": st.booleans(),
    "company": st.fixed_dictionaries({"id": st.integers(1, 5)}),
    "_info": st.fixed_dictionaries({"lastUpdated": st.integers(0, 400).map(
        lambda d: (BASE + timedelta(days=d)).strftime("%Y-%m-%dT%H:%M:%SZ"))}),
})
PATHS = cond.known_paths([{"id": 1, "name": "", "total": Decimal(0), "closedFlag": True,
                           "company": {"id": 1}, "_info": {"lastUpdated": ""}}])


def kw(word: str):
    """Keywords in any case: CW reads AND, and and And alike."""
    return st.sampled_from([word, word.upper(), word.capitalize()])


OPS = {"=": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
       "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}


@st.composite
def comparison(draw):
    """(conditions text, python predicate) for one comparison."""
    choice = draw(st.sampled_from(["id", "total", "name", "date", "flag", "in", "like",
                                   "contains", "company"]))
    op = draw(st.sampled_from(list(OPS)))
    if choice in ("id", "company"):
        value = draw(st.integers(0, 51))
        path = "company/id" if choice == "company" else draw(st.sampled_from(["id", "ID"]))
        get = (lambda r: r["company"]["id"]) if choice == "company" else (lambda r: r["id"])
        return f"{path} {op} {value}", lambda r: OPS[op](get(r), value)
    if choice == "total":
        value = draw(st.decimals(-1000, 1000, places=2, allow_nan=False,
                                 allow_infinity=False))
        return f"total{op}{value}", lambda r: OPS[op](r["total"], value)
    if choice == "name":
        value = draw(st.sampled_from(NAMES))
        return (f"name {op} {cond.quote(value)}",
                lambda r: OPS[op](r["name"].casefold(), value.casefold()))
    if choice == "date":
        when = BASE + timedelta(days=draw(st.integers(0, 400)), hours=draw(st.integers(0, 23)))
        text = when.strftime("%Y-%m-%dT%H:%M:%SZ")
        return (f"_info/lastUpdated {op} [{text}]",
                lambda r: OPS[op](r["_info"]["lastUpdated"], text))
    if choice == "flag":
        value = draw(st.booleans())
        eq = draw(st.sampled_from(["=", "!="]))
        return (f"closedFlag {eq} {draw(kw(str(value).lower()))}",
                lambda r: OPS[eq](r["closedFlag"], value))
    if choice == "in":
        values = draw(st.lists(st.integers(1, 50), min_size=1, max_size=5))
        negate = draw(st.booleans())
        text = f"id {draw(kw('not')) + ' ' if negate else ''}{draw(kw('in'))} " \
               f"({', '.join(map(str, values))})"
        return text, lambda r: (r["id"] in values) != negate
    needle = draw(st.sampled_from(["acme", "DENTAL", '"Q"', "[x]", "ünï", "zz"]))
    if choice == "contains":
        return (f"name {draw(kw('contains'))} {cond.quote(needle)}",
                lambda r: needle.casefold() in r["name"].casefold())
    prefix = needle.strip('"[]')
    return (f"name {draw(kw('like'))} {cond.quote(prefix + '*')}",
            lambda r: r["name"].casefold().startswith(prefix.casefold()))


@st.composite
def expression(draw, depth=0):
    if depth >= 3 or draw(st.integers(0, 2)) == 0:
        return draw(comparison())
    kind = draw(st.sampled_from(["and", "or", "not", "paren"]))
    left_text, left = draw(expression(depth + 1))
    if kind == "not":
        return f"{draw(kw('not'))} ({left_text})", lambda r: not left(r)
    if kind == "paren":
        return f"({left_text})", left
    right_text, right = draw(expression(depth + 1))
    text = f"({left_text}) {draw(kw(kind))} ({right_text})"
    if kind == "and":
        return text, lambda r: left(r) and right(r)
    return text, lambda r: left(r) or right(r)


@settings(deadline=None, max_examples=300)
@given(expression(), st.lists(record_st, min_size=1, max_size=8))
def test_conditions_agree_with_python(expr, records):
    text, predicate = expr
    compiled = cond.compile(text, PATHS)
    assert [compiled(r) for r in records] == [predicate(r) for r in records], text


@settings(deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs",)), max_size=30))
def test_any_quoted_string_reads_back_exactly(text):
    tokens = cond.tokenize(f"name = {cond.quote(text)}")
    assert tokens[2].kind == "string" and tokens[2].value == text
    assert cond.compile(f"name = {cond.quote(text)}", PATHS)({"name": text})


def test_keywords_and_paths_are_case_insensitive():
    record = {"id": 3, "name": "Acme", "total": Decimal("5.00"), "closedFlag": False,
              "company": {"id": 2}, "_info": {"lastUpdated": "2026-01-02T00:00:00Z"}}
    text = 'COMPANY/ID = 2 AnD Name LIKE "ac%" oR _INFO/lastupdated < [2026-01-01T00:00:00Z]'
    assert cond.compile(text, PATHS)(record)


GARBAGE = [
    ('name = "unterminated', "Unterminated string"),
    ("id = ", "Expected a value"),
    ("id == 1", "Expected a value"),
    ("(id = 1", "Missing ')'"),
    ("id = 1)", "Unexpected"),
    ("id in 1,2", "Expected '('"),
    ("nosuchfield = 1", "Unknown field 'nosuchfield'"),
    ("company/nosuch = 1", "Unknown field 'company/nosuch'"),
    ("_info/lastUpdated > [yesterday]", "not a valid datetime"),
    ("name = Acme", "Unquoted value"),
    ("total > \"ten\"", "not a number, not a string"),
    ("and id = 1", "Expected a field name"),
    ("id = 1 and", "Expected a field name"),
    ("id like 5", "needs a quoted string"),
    ("id # 1", "Unexpected character"),
]


@pytest.mark.parametrize("text,fragment", GARBAGE)
def test_garbage_gets_a_clear_400(cw, text, fragment):
    response = cw.client.get("finance/invoices", params={"conditions": text})
    assert response.status_code == 400
    error = body(response)
    assert error["code"] == "InvalidObject"
    detail = error["errors"][0]
    assert any(word in detail["message"] for word in fragment.split(", ")), detail
    assert detail["resource"] == "invoices"


def test_conditions_filter_real_invoices(cw):
    rows = cw.client.get("finance/invoices", params={
        "conditions": 'type = "CreditMemo" and applyToId != null and total < 0',
        "pageSize": 1000}).json()
    assert rows and all(r["type"] == "CreditMemo" and r["total"] < 0 for r in rows)
    since = cw.client.get("finance/invoices", params={
        "conditions": "_info/lastUpdated >= [2026-10-01T00:00:00Z] and locationId in (2)",
        "pageSize": 1000}).json()
    assert since and all(r["_info"]["lastUpdated"] >= "2026-10-01" and r["locationId"] == 2
                         for r in since)

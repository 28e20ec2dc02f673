"""The subset of Xero's `where` filter language a client sends, compiled to a predicate.

Supported: `Field=="x"` (also `=`), `!=`, `<`, `<=`, `>`, `>=`, `AND`/`&&`, `OR`/`||`,
`NOT`/`!`, parentheses, dotted paths (`Contact.ContactID`), `Field.Contains("x")`,
`.StartsWith("x")`, `.EndsWith("x")`, `Guid("...")`, `DateTime(2026, 10, 31[, h, m, s])`,
numbers, `true`, `false`, `null`. Like Xero's (Dynamic LINQ) parser, the literal
keywords ignore case: `guid("...")`, `GUID("...")` and `datetime(...)` are accepted, as
clients written against the real API send them. Strings compare case-insensitively (Xero's filters run
in its database, which does). A predicate receives the record as Xero serialises it.
A filter that does not parse raises `WhereError`, which the API turns into Xero's
`QueryParseException` (ErrorNumber 16).
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Callable

from .dates import parse_timestamp


class WhereError(ValueError):
    """A `where` filter the sandbox cannot read (Xero answers QueryParseException)."""


_TOKEN = re.compile(r"""
    \s*(?:
      (?P<string>"(?:[^"\\]|\\.)*")
    | (?P<number>-?\d+(?:\.\d+)?)
    | (?P<op>==|!=|>=|<=|&&|\|\||=|<|>|!|\(|\)|,)
    | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    )""", re.VERBOSE)

_METHODS = {"Contains", "StartsWith", "EndsWith"}
_KEYWORDS = {"AND": "&&", "OR": "||", "NOT": "!"}


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        found = _TOKEN.match(text, pos)
        if not found or found.end() == pos:
            raise WhereError(f"Syntax error at position {pos} in where clause")
        pos = found.end()
        kind = found.lastgroup
        value = found.group(kind)
        if kind == "ident" and value.upper() in _KEYWORDS:
            kind, value = "op", _KEYWORDS[value.upper()]
        out.append((kind, value))
    return out


class _Parser:
    def __init__(self, text: str, fields: set[str], type_name: str):
        self.tokens = _tokens(text)
        self.pos = 0
        self.fields = fields
        self.type_name = type_name

    def peek(self, value: str | None = None):
        if self.pos >= len(self.tokens):
            return None
        token = self.tokens[self.pos]
        if value is not None and token[1] != value:
            return None
        return token

    def take(self, value: str | None = None):
        token = self.peek(value)
        if token is None:
            want = f"'{value}'" if value else "more input"
            raise WhereError(f"Expected {want} in where clause")
        self.pos += 1
        return token

    def parse(self) -> Callable[[dict], bool]:
        pred = self.expr()
        if self.peek() is not None:
            raise WhereError(f"Unexpected '{self.peek()[1]}' in where clause")
        return pred

    def expr(self):
        left = self.conj()
        while self.peek("||"):
            self.take()
            right = self.conj()
            left = (lambda a, b: lambda r: a(r) or b(r))(left, right)
        return left

    def conj(self):
        left = self.unary()
        while self.peek("&&"):
            self.take()
            right = self.unary()
            left = (lambda a, b: lambda r: a(r) and b(r))(left, right)
        return left

    def unary(self):
        if self.peek("!"):
            self.take()
            inner = self.unary()
            return lambda r: not inner(r)
        if self.peek("("):
            self.take()
            inner = self.expr()
            self.take(")")
            return inner
        return self.comparison()

    def comparison(self):
        kind, path = self.take()
        if kind != "ident":
            raise WhereError(f"Expected a field name, found '{path}'")
        parts = path.split(".")
        method = None
        if parts[-1] in _METHODS and len(parts) > 1:
            method = parts.pop()
        if parts[0] not in self.fields:
            raise WhereError(
                f"No property or field '{parts[0]}' exists in type '{self.type_name}'")
        if method:
            self.take("(")
            needle = self.value()
            self.take(")")
            if not isinstance(needle, str):
                raise WhereError(f"{method} needs a string")
            return _method(parts, method, needle.lower())
        token = self.peek()
        if token and token[1] in {"==", "=", "!=", "<", "<=", ">", ">="}:
            op = self.take()[1]
            literal = self.value()
            return _compare(parts, "==" if op == "=" else op, literal)
        return lambda r: bool(_resolve(r, parts))

    def value(self):
        kind, text = self.take()
        if kind == "string":
            return re.sub(r"\\(.)", r"\1", text[1:-1])
        if kind == "number":
            return Decimal(text)
        if kind == "ident":
            lowered = text.lower()
            if lowered in {"true", "false"}:
                return lowered == "true"
            if lowered == "null":
                return None
            if lowered == "guid":
                self.take("(")
                kind, raw = self.take()
                self.take(")")
                if kind != "string":
                    raise WhereError("Guid() needs a quoted value")
                return raw[1:-1].lower()
            if lowered == "datetime":
                return self.datetime_literal()
        raise WhereError(f"Unexpected '{text}' in where clause")

    def datetime_literal(self) -> datetime:
        self.take("(")
        if self.peek() and self.peek()[0] == "string":
            stamp = parse_timestamp(self.take()[1][1:-1])
            self.take(")")
            if stamp is None:
                raise WhereError("DateTime() could not read that date")
            return stamp
        parts = [int(self.take()[1])]
        while self.peek(","):
            self.take()
            parts.append(int(self.take()[1]))
        self.take(")")
        if len(parts) < 3:
            raise WhereError("DateTime() needs year, month and day")
        try:
            return datetime(*parts, tzinfo=timezone.utc)
        except (TypeError, ValueError) as exc:
            raise WhereError(f"DateTime() is not a date: {exc}") from None


def _resolve(record, parts):
    value = record
    for part in parts:
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _coerce(value, like):
    """The record's value in the literal's terms (dates, numbers, GUIDs, text)."""
    if value is None or like is None:
        return value
    if isinstance(like, datetime):
        return parse_timestamp(value) if isinstance(value, str) else value
    if isinstance(like, bool):
        return value if isinstance(value, bool) else str(value).lower() == "true"
    if isinstance(like, Decimal):
        try:
            return Decimal(str(value))
        except InvalidOperation:
            return None
    return str(value).lower()


def _compare(parts, op, literal):
    if isinstance(literal, str):
        literal = literal.lower()

    def pred(record):
        value = _coerce(_resolve(record, parts), literal)
        if op == "==":
            return value == literal
        if op == "!=":
            return value != literal
        if value is None or literal is None:
            return False
        try:
            return {"<": value < literal, "<=": value <= literal,
                    ">": value > literal, ">=": value >= literal}[op]
        except TypeError:
            return False
    return pred


def _method(parts, method, needle):
    def pred(record):
        value = _resolve(record, parts)
        if value is None:
            return False
        text = str(value).lower()
        if method == "Contains":
            return needle in text
        if method == "StartsWith":
            return text.startswith(needle)
        return text.endswith(needle)
    return pred


def compile_where(text: str, fields: set[str], type_name: str) -> Callable[[dict], bool]:
    """A predicate over serialised records; `fields` are the top-level names allowed."""
    return _Parser(text, fields, type_name).parse()

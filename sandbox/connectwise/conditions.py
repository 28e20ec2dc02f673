"""ConnectWise Manage `conditions=` strings: tokenizer, parser and evaluator.

The grammar CW documents for list filters:

    expr       := term (("or") term)*            (keywords are case-insensitive)
    term       := factor (("and") factor)*
    factor     := "not" factor | "(" expr ")" | comparison
    comparison := path op value
                | path ["not"] ("like" | "contains") value
                | path ["not"] "in" "(" value ("," value)* ")"
    op         := "=" | "!=" | "<" | "<=" | ">" | ">="
    path       := name ("/" name)*                 e.g. company/id, _info/lastUpdated
    value      := "string with \\" escapes" | [2026-01-01T00:00:00Z] | 12.5 | true | false | null

Records are plain dicts in CW's JSON shape (Decimal for numbers, datetimes as
`YYYY-MM-DDTHH:MM:SSZ` strings, so comparing two of them as text orders them in time).
Strings compare case-insensitively, as CW's SQL Server collation does. `compile()` turns a
conditions string into a predicate once, so a 10,000-row list is filtered at Python speed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Callable, Iterable


class ConditionsError(ValueError):
    """A conditions string CW would refuse; `field` names the offending field if any."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class Token:
    kind: str      # name, string, number, datetime, op, lparen, rparen, comma, eof
    value: object
    pos: int


@dataclass(frozen=True)
class DateTimeLiteral:
    text: str      # normalised to YYYY-MM-DDTHH:MM:SSZ


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)*")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_OPS = ("!=", "<=", ">=", "=", "<", ">")
KEYWORDS = {"and", "or", "not", "like", "contains", "in", "true", "false", "null"}


def quote(text: str) -> str:
    """A string literal for `text`, as a client should write it."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _parse_datetime(raw: str, pos: int) -> DateTimeLiteral:
    text = raw.strip()
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConditionsError(f"'{raw}' at position {pos} is not a valid datetime; "
                              "use [2026-01-01T00:00:00Z]") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return DateTimeLiteral(when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch == '"':
            start, i, out = i, i + 1, []
            while True:
                if i >= n:
                    raise ConditionsError(f"Unterminated string starting at position {start}")
                c = text[i]
                if c == "\\" and i + 1 < n:
                    out.append(text[i + 1])
                    i += 2
                elif c == '"':
                    i += 1
                    break
                else:
                    out.append(c)
                    i += 1
            tokens.append(Token("string", "".join(out), start))
            continue
        if ch == "[":
            end = text.find("]", i)
            if end < 0:
                raise ConditionsError(f"Unterminated datetime starting at position {i}")
            tokens.append(Token("datetime", _parse_datetime(text[i + 1:end], i), i))
            i = end + 1
            continue
        if ch == "(":
            tokens.append(Token("lparen", ch, i)); i += 1; continue
        if ch == ")":
            tokens.append(Token("rparen", ch, i)); i += 1; continue
        if ch == ",":
            tokens.append(Token("comma", ch, i)); i += 1; continue
        op = next((o for o in _OPS if text.startswith(o, i)), None)
        if op:
            tokens.append(Token("op", op, i)); i += len(op); continue
        m = _NUMBER.match(text, i)
        if m and (ch != "-" or not tokens or tokens[-1].kind in ("op", "lparen", "comma")):
            tokens.append(Token("number", Decimal(m.group()), i)); i = m.end(); continue
        m = _NAME.match(text, i)
        if m:
            tokens.append(Token("name", m.group(), i)); i = m.end(); continue
        raise ConditionsError(f"Unexpected character {ch!r} at position {i}")
    tokens.append(Token("eof", None, n))
    return tokens


# AST nodes are tuples: ("and", a, b) ("or", a, b) ("not", a)
# ("cmp", op, path, value) ("in", path, [values]) ("like", path, value) ("contains", ...)
class _Parser:
    def __init__(self, text: str):
        self.tokens = tokenize(text)
        self.i = 0

    def peek(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def keyword(self, word: str) -> bool:
        tok = self.peek()
        if tok.kind == "name" and tok.value.lower() == word:
            self.i += 1
            return True
        return False

    def parse(self):
        if self.peek().kind == "eof":
            raise ConditionsError("conditions is empty")
        node = self.expr()
        tok = self.peek()
        if tok.kind != "eof":
            raise ConditionsError(f"Unexpected {tok.value!r} at position {tok.pos}")
        return node

    def expr(self):
        node = self.term()
        while self.keyword("or"):
            node = ("or", node, self.term())
        return node

    def term(self):
        node = self.factor()
        while self.keyword("and"):
            node = ("and", node, self.factor())
        return node

    def factor(self):
        if self.keyword("not"):
            return ("not", self.factor())
        tok = self.peek()
        if tok.kind == "lparen":
            self.take()
            node = self.expr()
            if self.take().kind != "rparen":
                raise ConditionsError(f"Missing ')' for '(' at position {tok.pos}")
            return node
        return self.comparison()

    def comparison(self):
        tok = self.take()
        if tok.kind != "name" or tok.value.lower() in KEYWORDS:
            shown = "end of conditions" if tok.kind == "eof" else repr(tok.value)
            raise ConditionsError(f"Expected a field name at position {tok.pos}, found {shown}")
        path = tok.value
        negate = self.keyword("not")
        if self.keyword("like"):
            node = ("like", path, self.value())
        elif self.keyword("contains"):
            node = ("contains", path, self.value())
        elif self.keyword("in"):
            if self.take().kind != "lparen":
                raise ConditionsError(f"Expected '(' after 'in' for {path}", path)
            values = [self.value()]
            while self.peek().kind == "comma":
                self.take()
                values.append(self.value())
            if self.take().kind != "rparen":
                raise ConditionsError(f"Expected ')' to close the 'in' list for {path}", path)
            node = ("in", path, values)
        elif not negate and self.peek().kind == "op":
            node = ("cmp", self.take().value, path, self.value())
        else:
            nxt = self.peek()
            raise ConditionsError(
                f"Expected an operator after {path} at position {nxt.pos}", path)
        return ("not", node) if negate else node

    def value(self):
        tok = self.take()
        if tok.kind in ("string", "number", "datetime"):
            return tok.value
        if tok.kind == "name":
            word = tok.value.lower()
            if word in ("true", "false"):
                return word == "true"
            if word == "null":
                return None
            raise ConditionsError(
                f"Unquoted value {tok.value!r} at position {tok.pos}; strings go in double quotes")
        shown = "end of conditions" if tok.kind == "eof" else repr(tok.value)
        raise ConditionsError(f"Expected a value at position {tok.pos}, found {shown}")


def parse(text: str):
    return _Parser(text).parse()


def _paths(node) -> Iterable[str]:
    kind = node[0]
    if kind in ("and", "or"):
        yield from _paths(node[1])
        yield from _paths(node[2])
    elif kind == "not":
        yield from _paths(node[1])
    elif kind == "cmp":
        yield node[2]
    else:
        yield node[1]


def _getter(parts: tuple[str, ...]) -> Callable[[dict], object]:
    if len(parts) == 1:                 # most paths: a top-level field
        key = parts[0]
        return lambda record: record.get(key) if isinstance(record, dict) else None

    def get(record):
        value = record
        for part in parts:
            if not isinstance(value, dict):
                return None
            value = value.get(part)
        return value
    return get


def _norm(value):
    """Make a record value and a literal comparable: strings fold case."""
    if isinstance(value, str):
        return value.casefold()
    if isinstance(value, DateTimeLiteral):
        return value.text.casefold()
    return value


def _check_type(path: str, actual, literal) -> None:
    if actual is None or literal is None:
        return
    if isinstance(literal, bool) != isinstance(actual, bool):
        raise ConditionsError(f"{path} cannot be compared with {literal!r}", path)
    if isinstance(literal, Decimal) and not isinstance(actual, (int, Decimal)):
        raise ConditionsError(f"{path} is not a number", path)
    if isinstance(literal, (str, DateTimeLiteral)) and not isinstance(actual, str):
        raise ConditionsError(f"{path} expects a number or boolean, not a string", path)


def _type_kind(literal) -> tuple[bool, bool, bool]:
    """What `_check_type` looks at in a literal."""
    return (isinstance(literal, bool), isinstance(literal, Decimal),
            isinstance(literal, (str, DateTimeLiteral)))


def _type_samples(literals: list) -> list:
    """The first literal of each kind, in list order: checking these raises the same
    error, for the same first literal, as checking every one (None is never checked)."""
    seen, samples = set(), []
    for literal in literals:
        if literal is None:
            continue
        kind = _type_kind(literal)
        if kind not in seen:
            seen.add(kind)
            samples.append(literal)
    return samples


_CMP = {
    "=": lambda a, b: a == b, "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
}


def _like_regex(pattern: str) -> re.Pattern:
    parts = (re.escape(ch) if ch not in "*%" else ".*" for ch in pattern)
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def _build(node, resolve: Callable[[str], tuple[str, ...]]):
    kind = node[0]
    if kind == "and":
        a, b = _build(node[1], resolve), _build(node[2], resolve)
        return lambda r: a(r) and b(r)
    if kind == "or":
        a, b = _build(node[1], resolve), _build(node[2], resolve)
        return lambda r: a(r) or b(r)
    if kind == "not":
        a = _build(node[1], resolve)
        return lambda r: not a(r)
    path = node[2] if kind == "cmp" else node[1]
    get = _getter(resolve(path))
    if kind == "cmp":
        op, literal = node[1], node[3]
        if literal is None:
            if op not in ("=", "!="):
                raise ConditionsError(f"null can only be compared with = or != ({path})", path)
            return (lambda r: get(r) is None) if op == "=" else (lambda r: get(r) is not None)
        want, fn = _norm(literal), _CMP[op]

        def compare(record):
            actual = get(record)
            if actual is None:
                return op == "!="
            _check_type(path, actual, literal)
            return fn(_norm(actual), want)
        return compare
    if kind == "in":
        wanted = [v for v in node[2]]
        normed = {_norm(v) for v in wanted if v is not None}
        has_null = any(v is None for v in wanted)
        samples = _type_samples(wanted)
        fitting: set[type] = set()      # value types the literals were found to fit

        def member(record):
            actual = get(record)
            if actual is None:
                return has_null
            # Whether a literal's type fits depends only on its kind and on the value's
            # type, so the first literal of each kind is checked once per value type:
            # an id-in list of 200 over 20,000 invoices costs a set look-up a record.
            if type(actual) not in fitting:
                for literal in samples:
                    _check_type(path, actual, literal)
                fitting.add(type(actual))
            return _norm(actual) in normed
        return member
    literal = node[2]
    if not isinstance(literal, str):
        raise ConditionsError(f"'{kind}' needs a quoted string for {path}", path)
    if kind == "like":
        regex = _like_regex(literal)
        return lambda r: isinstance(get(r), str) and regex.fullmatch(get(r)) is not None
    needle = literal.casefold()
    return lambda r: isinstance(get(r), str) and needle in get(r).casefold()


def compile(text: str, known_paths: dict[str, tuple[str, ...]]) -> Callable[[dict], bool]:
    """A predicate for `text`. `known_paths` maps each lower-cased path (`company/id`)
    to its key tuple; a path not in it is an unknown field."""
    tree = parse(text)

    def resolve(path: str) -> tuple[str, ...]:
        parts = known_paths.get(path.lower())
        if parts is None:
            raise ConditionsError(f"Unknown field '{path}'", path)
        return parts

    for path in _paths(tree):
        resolve(path)
    return _build(tree, resolve)


def known_paths(records: Iterable[dict]) -> dict[str, tuple[str, ...]]:
    """Every scalar path in `records` (nested dicts joined by '/'), keyed lower-case."""
    out: dict[str, tuple[str, ...]] = {}

    def walk(value: dict, prefix: tuple[str, ...]):
        for key, inner in value.items():
            if key[0] == "_" and key != "_info":
                continue            # the sandbox's private bookkeeping, never served
            parts = prefix + (key,)
            if isinstance(inner, dict):
                walk(inner, parts)
            elif not isinstance(inner, list):
                out["/".join(parts).lower()] = parts
    for record in records:
        walk(record, ())
    # Public clients filter every list with a bare `lastUpdated > [...]` (any case:
    # `LastUpdated >= [...]`), meaning the record's _info/lastUpdated (FIDELITY.md 2.1).
    if "_info/lastupdated" in out:
        out.setdefault("lastupdated", out["_info/lastupdated"])
    return out

"""Mapping tables as CSV files: read one (any bytes a user may upload), check every row,
compare it with what Ferry holds, and write one back out safe to open in a spreadsheet.

Pure: the caller passes the file's bytes, the rows Ferry holds now and, when it knows
them, the codes the APIs offer; it gets a Preview (each row added, changed, unchanged or
rejected with the reason) or a Refused sentence for a file it cannot read at all. An
import adds and changes rows; it never deletes one that the file leaves out.
"""
from __future__ import annotations

import codecs
import csv
from dataclasses import dataclass, field
from typing import Mapping

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
RECORD_TYPES = ("invoice", "credit_note", "bill")
ROUTING_FIELDS = ("location", "department", "member", "tag", "company_type")
SIDES = ("sales", "purchases")
SOURCES = ("location", "department")


@dataclass(frozen=True)
class Kind:
    name: str
    label: str                       # "account mappings", for sentences
    header: tuple[str, ...]
    key: tuple[str, ...]             # the columns that name a row


KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("routing", "routing rules",
         ("position", "field", "value", "record_type", "org"), ("field", "value", "record_type")),
    Kind("accounts", "account mappings", ("cw_gl_account", "xero_account_code"),
         ("cw_gl_account",)),
    Kind("taxes", "tax mappings", ("side", "cw_tax_code", "xero_tax_type"),
         ("side", "cw_tax_code")),
    Kind("tracking", "tracking mappings", ("category", "source", "cw_id", "option"),
         ("category", "cw_id")),
    Kind("items", "item mappings", ("cw_item", "xero_item_code"), ("cw_item",)),
)}


@dataclass(frozen=True)
class Refused:
    """The whole file was refused; nothing in it was considered."""
    sentence: str


@dataclass
class Row:
    line: int                         # the line in the file (the header is line 1)
    values: dict[str, str]
    status: str = "added"             # added | changed | unchanged | rejected
    reason: str | None = None
    old: dict[str, str] | None = None

    def key(self, kind: Kind) -> tuple[str, ...]:
        return tuple(self.values.get(c, "") for c in kind.key)


@dataclass
class Preview:
    kind: Kind
    rows: list[Row]
    notices: list[str] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for r in self.rows if r.status == status)

    @property
    def rejected(self) -> list[Row]:
        return [r for r in self.rows if r.status == "rejected"]

    @property
    def acceptable(self) -> bool:
        """Every row accepted: only then may the file be applied."""
        return not self.rejected

    @property
    def changes(self) -> list[Row]:
        return [r for r in self.rows if r.status in ("added", "changed")]


# -- reading bytes -------------------------------------------------------------------
# Byte-order marks, longest first (a UTF-32 LE mark starts with UTF-16 LE's). Excel's
# "CSV UTF-8" writes UTF-8's; its "Unicode text" (tab-separated) writes UTF-16 LE's.
BOMS = ((codecs.BOM_UTF32_LE, "utf-32-le", "UTF-32"),
        (codecs.BOM_UTF32_BE, "utf-32-be", "UTF-32"),
        (codecs.BOM_UTF8, "utf-8", "UTF-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16"),
        (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16"))
BINARY = ("This is not a CSV text file (it holds binary data, as a .xlsx workbook does). "
          "In your spreadsheet choose Save As, CSV, and upload that file.")


def decode(data: bytes) -> tuple[str, list[str]] | Refused:
    """The file's text, and what Ferry had to assume to read it. A byte-order mark
    names the encoding (UTF-8, UTF-16 or UTF-32); without one the file is UTF-8, or
    else Windows (Excel) text. A NUL in the text is binary data, not a CSV file."""
    if len(data) > MAX_BYTES:
        return Refused(too_big(len(data)))
    bom = next(((mark, codec, name) for mark, codec, name in BOMS
                if data.startswith(mark)), None)
    notices = []
    if bom is not None and bom[2] != "UTF-8":
        mark, codec, name = bom
        try:
            text = data[len(mark):].decode(codec)
        except UnicodeDecodeError:
            return Refused(f"The file starts as {name} text, but Ferry could not read "
                           "all of its characters: part of it is not text. Save it again "
                           "as \"CSV UTF-8\" and upload it again.")
    elif b"\x00" in data:
        if data.strip(b" \t\r\n\x00" + codecs.BOM_UTF8):
            return Refused(BINARY)
        text = ""
    else:
        if bom is not None:
            data = data[len(codecs.BOM_UTF8):]
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            try:
                text = data.decode("cp1252")
            except UnicodeDecodeError:
                return Refused("Ferry could not read the characters in this file: it is "
                               "neither UTF-8 nor Windows (Excel) text. Save it again as "
                               "\"CSV UTF-8\" and upload it again.")
            notices.append("The file is not UTF-8, so Ferry read it as Windows (Excel) "
                           "text; check that names with accents look right below.")
    if not text.strip(" \t\r\n\x00\ufeff"):
        return Refused("The file is empty. Export the mappings first to get a file with "
                       "the right header, fill it in and upload it again.")
    if "\x00" in text:
        return Refused(BINARY)
    return text, notices


def too_big(size: int) -> str:
    return (f"The file is {_size(size)}; a mapping file is at most {_size(MAX_BYTES)}. "
            "Export only the mapping kind you want to change, or split the file, and "
            "upload it again.")


def read_table(kind: Kind, data: bytes) -> tuple[list[Row], list[str]] | Refused:
    """The file's rows under `kind`'s header, each value trimmed; a Refused sentence
    when the file or its header cannot be used."""
    decoded = decode(data)
    if isinstance(decoded, Refused):
        return decoded
    text, notices = decoded
    lines = text.splitlines()
    first = next((ln for ln in lines if ln.strip()), "")
    delimiter = _delimiter(first, kind)
    if delimiter == ";":
        notices.append("The columns are separated by semicolons, as a spreadsheet set to "
                       "a European locale saves them; Ferry read them so.")
    elif delimiter == "\t":
        notices.append("The columns are separated by tabs, as Excel's \u201cUnicode "
                       "text\u201d and tab-delimited text save them; Ferry read them so.")
    try:
        records = list(csv.reader(text.splitlines(keepends=True), delimiter=delimiter,
                                  strict=True))
    except csv.Error as exc:
        return Refused(f"Ferry could not read the file as CSV ({exc}): a quote is "
                       "probably not closed. Open it in a spreadsheet, save it as CSV "
                       "and upload it again.")
    numbered = [(i + 1, r) for i, r in enumerate(records) if any(c.strip() for c in r)]
    if not numbered:
        return Refused("The file is empty. Export the mappings first to get a file with "
                       "the right header, fill it in and upload it again.")
    header_line, header = numbered[0]
    names = [_header_name(c) for c in header]
    expected = ", ".join(kind.header)
    missing = [c for c in kind.header if c not in names]
    extra = [c for c in names if c and c not in kind.header]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"it has no column {_and(missing)}")
        if extra:
            parts.append(f"Ferry does not know the column {_and(extra)}")
        return Refused(f"The first line of a file of {kind.label} must name the columns "
                       f"{expected}; {' and '.join(parts)}. Export the {kind.label} to "
                       "get a file with the right header.")
    doubled = sorted({c for c in names if c and names.count(c) > 1})
    if doubled:
        return Refused(f"The header names the column {_and(doubled)} twice; name each of "
                       f"{expected} once.")
    if len(numbered) - 1 > MAX_ROWS:
        return Refused(f"The file has {len(numbered) - 1:,} rows; Ferry takes at most "
                       f"{MAX_ROWS:,} in one file. Split it and upload each part.")
    rows = []
    for number, cells in numbered[1:]:
        row = Row(number, {})
        if len(cells) != len(names):
            row.values = {c: (cells[i].strip() if i < len(cells) else "")
                          for i, c in enumerate(names) if c}
            row.status = "rejected"
            row.reason = (f"It has {len(cells)} values where the header has "
                          f"{len(names)} columns; a value with a comma in it needs "
                          "quotes around it.")
        else:
            row.values = {c: _plain(cells[i]) for i, c in enumerate(names) if c}
        rows.append(row)
    return rows, notices


# -- checking rows ------------------------------------------------------------------
@dataclass(frozen=True)
class Known:
    """Values the APIs offer, by column (None: not known, not checked), and, for
    routing, the names of the connected Xero organisations."""
    columns: Mapping[str, frozenset[str] | None] = field(default_factory=dict)
    orgs: frozenset[str] = frozenset()
    org_name: str = ""
    tracking_categories: Mapping[str, str] = field(default_factory=dict)  # held: name -> source
    # Values that depend on another column: column -> (that column, {its value: allowed}).
    # A tracking option belongs to its own category, a cw_id to locations or departments;
    # a value missing from the map (its list could not be read) is not checked.
    within: Mapping[str, tuple[str, Mapping[str, frozenset[str]]]] = field(
        default_factory=dict)
    # Sentences for the lists that could not be read, so their columns were not checked.
    unchecked: tuple[str, ...] = ()


def preview(kind_name: str, data: bytes, current: Mapping[tuple, Mapping[str, str]],
            known: Known | None = None) -> Preview | Refused:
    """Read, check and compare a file of `kind_name` with `current` (key -> values)."""
    kind = KINDS.get(kind_name)
    if kind is None:
        return Refused(f"Ferry imports {_and(list(KINDS))}, not {kind_name}.")
    table = read_table(kind, data)
    if isinstance(table, Refused):
        return table
    rows, notices = table
    known = known or Known()
    first_line: dict[tuple, int] = {}
    for row in rows:
        if row.status == "rejected":
            continue
        reason = _formula(row) or _check(kind, row, known)
        if reason:
            row.status, row.reason = "rejected", reason
            continue
        key = row.key(kind)
        folded = tuple(v.casefold() for v in key)
        if folded in first_line:
            row.status = "rejected"
            row.reason = (f"Line {first_line[folded]} already maps "
                          f"{_describe_key(kind, key)}; keep one line per key.")
            continue
        first_line[folded] = row.line
        old = current.get(key)
        if old is None:
            row.status = "added"
        else:
            old = {c: str(old.get(c, "")) for c in kind.header}
            row.old = old
            row.status = "unchanged" if old == {c: row.values.get(c, "") for c in
                                                kind.header} else "changed"
    _check_tracking_categories(kind, rows, known)
    if rows:
        notices.extend(known.unchecked)
    if not rows:
        notices.append("The file has a header and no rows, so there is nothing to "
                       "import.")
    return Preview(kind, rows, notices)


def check_values(kind_name: str, values: dict[str, str], known: Known) -> str | None:
    """The sentence saying why one row typed in the browser cannot be saved (None: it
    can); the same checks as a file's rows. Normalises `values` in place."""
    kind = KINDS[kind_name]
    row = Row(0, {c: (values.get(c) or "").strip() for c in kind.header})
    reason = _check(kind, row, known)
    if reason is None:
        _check_tracking_categories(kind, [row], known)
        reason = row.reason
    values.update(row.values)
    return reason


def _check(kind: Kind, row: Row, known: Known) -> str | None:
    v = row.values
    empty = [c for c in kind.header if not v.get(c) and not (
        kind.name == "routing" and c == "record_type")]
    if empty:
        return f"{_and(empty, 'and')} {'is' if len(empty) == 1 else 'are'} empty."
    too_long = [c for c in kind.header if len(v.get(c, "")) > 255]
    if too_long:
        return f"{_and(too_long)} is longer than 255 characters."
    if kind.name == "routing":
        if not v["position"].isdigit():
            return f"position “{v['position']}” is not a whole number such as 1, 2, 3."
        if v["field"] not in ROUTING_FIELDS:
            return f"field “{v['field']}” is not one of {_and(list(ROUTING_FIELDS), 'or')}."
        if v["field"] in ("location", "department") and not v["value"].isdigit():
            return (f"A {v['field']} is named by its ConnectWise id (a number such as "
                    f"2); “{v['value']}” is not one.")
        if v["record_type"] and v["record_type"] not in RECORD_TYPES:
            return (f"record_type “{v['record_type']}” is not one of "
                    f"{_and(list(RECORD_TYPES), 'or')} (empty: every type).")
        if v["org"] not in known.orgs:
            return (f"No connected Xero organisation is named “{v['org']}”"
                    + (f"; the connected ones are {_and(sorted(known.orgs))}."
                       if known.orgs else "; connect it in Settings first."))
    if kind.name == "taxes":
        v["side"] = v["side"].lower()
        if v["side"] not in SIDES:
            return f"side “{v['side']}” is not sales or purchases."
        v["xero_tax_type"] = v["xero_tax_type"].upper()
    if kind.name == "tracking":
        v["source"] = v["source"].lower()
        if v["source"] not in SOURCES:
            return f"source “{v['source']}” is not location or department."
        if not v["cw_id"].isdigit():
            return (f"cw_id “{v['cw_id']}” is not a ConnectWise {v['source']} id (a "
                    "number such as 2).")
    for column, allowed in known.columns.items():
        if allowed is None or column not in v or not v[column]:
            continue
        if v[column] not in allowed:
            return _unknown(kind, column, v, known, allowed)
    for column, (by, allowed_by) in known.within.items():
        allowed = allowed_by.get(v.get(by, ""))
        if allowed is None or not v.get(column):
            continue
        if v[column] not in allowed:
            return _unknown(kind, column, v, known, allowed)
    return None


def _unknown(kind: Kind, column: str, v: Mapping[str, str], known: Known,
             allowed: frozenset[str] = frozenset()) -> str:
    org = f" org {known.org_name}" if known.org_name else ""
    what = {
        "xero_account_code": f"Xero{org} has no active account with code “{v.get(column)}”",
        "xero_tax_type": f"Xero{org} has no active tax rate “{v.get(column)}”",
        "xero_item_code": f"Xero{org} has no item with code “{v.get(column)}”",
        "cw_gl_account": f"ConnectWise has no GL account “{v.get(column)}”",
        "cw_tax_code": f"ConnectWise has no tax code “{v.get(column)}”",
        "cw_item": f"ConnectWise has no product “{v.get(column)}”",
        "option": (f"Xero{org} has no active option “{v.get(column)}” in tracking "
                   f"category “{v.get('category')}”"),
        "category": f"Xero{org} has no active tracking category “{v.get(column)}”",
        "cw_id": f"ConnectWise has no {v.get('source', 'location')} with id {v.get(column)}",
        "value": f"ConnectWise has no {v.get('field')} with id {v.get(column)}",
    }.get(column, f"{column} “{v.get(column)}” is not known")
    padded = _zero_padded(v.get(column, ""), allowed)
    if padded:
        side = "ConnectWise" if column.startswith("cw_") or column == "value" else "Xero"
        return f"{what}; did a spreadsheet drop a leading zero? {side} has {padded}."
    return what + "; check the spelling, or press Refresh choices if it is new."


def _zero_padded(value: str, allowed: frozenset[str]) -> str | None:
    """The code a spreadsheet turned into `value` by reading it as a number (090 -> 90)."""
    if not value.isdigit():
        return None
    return next((a for a in sorted(allowed) if a != value and a.isdigit()
                 and a.lstrip("0") == value.lstrip("0") and a.endswith(value)), None)


def _check_tracking_categories(kind: Kind, rows: list[Row], known: Known) -> None:
    """Xero puts at most two tracking categories on a line; each is fed by one source."""
    if kind.name != "tracking":
        return
    sources = dict(known.tracking_categories)
    for row in rows:
        if row.status == "rejected":
            continue
        category, source = row.values["category"], row.values["source"]
        if category in sources and sources[category] != source:
            row.status = "rejected"
            row.reason = (f"Tracking category {category} is fed by ConnectWise "
                          f"{sources[category]}s; one category takes one source.")
        elif category not in sources and len(sources) >= 2:
            row.status = "rejected"
            row.reason = (f"Xero allows two tracking categories on a line and "
                          f"{_and(sorted(sources))} are already mapped; {category} would "
                          "be a third.")
        else:
            sources[category] = source


def _formula(row: Row) -> str | None:
    for column, value in row.values.items():
        if value.startswith(FORMULA_STARTS):
            return (f"{column} starts with “{value[0]}”, so a spreadsheet would run it as "
                    "a formula; Ferry does not import formulas. Type the value itself "
                    "(the text a formula shows).")
    return None


# -- writing -------------------------------------------------------------------------
def neutralise(value) -> str:
    """A cell a spreadsheet shows as text: one that would start a formula gets a
    leading apostrophe (OWASP's advice for CSV injection); import strips it again."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def export(kind_name: str, rows: list[Mapping[str, object]]) -> str:
    kind = KINDS[kind_name]
    out = _Text()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(kind.header)
    for row in rows:
        writer.writerow([neutralise(row.get(c, "")) for c in kind.header])
    return "".join(out.parts)


class _Text:
    """What csv.writer writes to: text kept in memory (sync/ opens no file)."""

    def __init__(self):
        self.parts: list[str] = []

    def write(self, text: str) -> None:
        self.parts.append(text)


# -- helpers -------------------------------------------------------------------------
def _plain(cell: str) -> str:
    value = cell.strip()
    if len(value) > 1 and value[0] == "'" and value[1] in "=+-@\t\r":
        return value[1:]           # what export() neutralised comes back as typed
    return value


def _header_name(cell: str) -> str:
    return cell.strip().strip("\ufeff").strip().lower().replace(" ", "_")


def _delimiter(first_line: str, kind: Kind) -> str:
    counts = {d: first_line.count(d) for d in (",", ";", "\t")}
    if counts[","] == 0 and max(counts[";"], counts["\t"]) > 0:
        return ";" if counts[";"] >= counts["\t"] else "\t"
    return ","


def _describe_key(kind: Kind, key: tuple[str, ...]) -> str:
    return ", ".join(f"{c} “{v}”" for c, v in zip(kind.key, key) if v)


def _and(items: list[str], word: str = "and") -> str:
    items = [str(i) for i in items]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {word} " + items[-1]


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{n / 1024:.0f} KB"

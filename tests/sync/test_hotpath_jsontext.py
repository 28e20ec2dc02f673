"""encode_json writes the same text as the recursive encoder it replaced (the Xero
batch Idempotency-Key is a hash of it), on varied values."""
import json
import random
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from connectors.jsontext import decode_json_text, encode_json


def reference(value) -> str:
    """encode_json as it was before it used the json module's C encoder."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k), ensure_ascii=False)}: {reference(v)}"
                               for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(reference(v) for v in value) + "]"
    if isinstance(value, (date, datetime)):
        return json.dumps(value.isoformat())
    return json.dumps(value, ensure_ascii=False)


DECIMALS = [Decimal("1E+2"), Decimal("-1E+2"), Decimal("1E-7"), Decimal("-0.000"),
            Decimal("0"), Decimal("123.4500"), Decimal("-98765432109876543210.0123456789"),
            Decimal("0.1") + Decimal("0.2"), Decimal("5E+30"), Decimal("NaN"),
            Decimal("Infinity"), Decimal("-Infinity"), Decimal(1) / Decimal(3)]
CASES = [
    None, True, False, 0, -7, 2 ** 70, 1.5, -0.0, float("inf"), float("nan"), "", "plain",
    "naïve café ✓ 日本 \U0001F600", 'quote " backslash \\ tab \t nl \n nul \x00 \x1f',
    *DECIMALS, date(2026, 10, 31), datetime(2026, 10, 31, 12, 0, 5, 123),
    datetime(2026, 10, 31, 12, tzinfo=timezone.utc), (), [], {}, (1, (2, Decimal("3.0"))),
    {"Invoices": [{"InvoiceNumber": "INV-1", "Date": date(2026, 1, 2), "LineItems": [
        {"UnitAmount": Decimal("10.005"), "Quantity": Decimal("1E+1"), "Tracking": None,
         "Description": "Großhandel — 50% off: \"special\"", "TaxAmount": Decimal("-0.01")}],
        "Total": Decimal("100.10"), "SentToContact": False, "Nested": {"a": {"b": ()}}}]},
    # keys written as str(key): odd keys, and strings holding the encoder's mark
    {7: "seven", 2.5: "x", None: 1, True: 2, False: 3, float("inf"): 4, float("nan"): 5,
     Decimal("1E+2"): 6, date(2026, 1, 1): 7, datetime(2026, 1, 1, 1): 8, (1, 2): 9},
    {"null": 1, "true": 2, "IsTrue": 3, "NaN": Decimal("4.0")},
    {"a": "\x00Decimal\x01", "b": Decimal("1.0")},
    {"\x00Decimal\x01": Decimal("2.50"), "c": ["\x00Decimal\x011\x00Decimal\x01"]},
    ["\x00Decimal\x01", "\x00Decimal\x01"],
    "\x00Decimal\x011.5\x00Decimal\x01",
]


@pytest.mark.parametrize("value", CASES, ids=range(len(CASES)))
def test_the_same_text_as_the_reference(value):
    assert encode_json(value) == reference(value)


def test_random_nested_payloads():
    rng = random.Random(7)
    leaves = DECIMALS + [None, True, False, 3, -2.25, "x", "ü \" \\", date(2026, 2, 3),
                         "\x00Decimal\x01"]

    def make(depth):
        if depth == 0 or rng.random() < 0.3:
            return rng.choice(leaves)
        if rng.random() < 0.5:
            return {rng.choice(["A", "b", "Ç", "1", "null", "x y"]) + str(i): make(depth - 1)
                    for i in range(rng.randint(0, 4))}
        seq = [make(depth - 1) for _ in range(rng.randint(0, 4))]
        return tuple(seq) if rng.random() < 0.3 else seq

    for _ in range(500):
        value = make(5)
        assert encode_json(value) == reference(value)


def test_decimals_read_back_exactly():
    value = {"Amounts": [Decimal("1E+2"), Decimal("-0.10"), Decimal("12345678901234.56")]}
    assert decode_json_text(encode_json(value)) == {
        "Amounts": [100, Decimal("-0.10"), Decimal("12345678901234.56")]}


@pytest.mark.parametrize("value", [{1, 2}, {"a": object()}, [b"bytes"]])
def test_what_json_refuses_is_refused_as_before(value):
    with pytest.raises(TypeError):
        reference(value)
    with pytest.raises(TypeError):
        encode_json(value)

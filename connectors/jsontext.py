"""JSON text with exact decimals, both ways: amounts never pass through float."""
from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal


def encode_json(value) -> str:
    """JSON text with Decimal written as an exact number (the json module refuses
    Decimal, and going through float could change an amount)."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k), ensure_ascii=False)}: {encode_json(v)}"
                               for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(encode_json(v) for v in value) + "]"
    if isinstance(value, (date, datetime)):
        return json.dumps(value.isoformat())
    return json.dumps(value, ensure_ascii=False)


def decode_json_text(text: str):
    """Parse JSON with every number that has a fraction as Decimal."""
    return json.loads(text, parse_float=Decimal)

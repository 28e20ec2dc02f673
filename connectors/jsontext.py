"""JSON text with exact decimals, both ways: amounts never pass through float."""
from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from json.encoder import c_make_encoder, encode_basestring

# A Decimal goes through the C encoder as the string MARK + digits + MARK, and the
# quotes and marks around it are then taken out. The mark cannot overlap itself (one
# \x00, first), so counting it tells whether some string of the value held it too.
_MARK = "\x00Decimal\x01"
_ESCAPED = '\\u0000Decimal\\u0001'
# What the C encoder writes for a key None, True, False or a non-finite float, where
# the encoding below writes str(key): such a value is encoded the slow way.
_ODD_KEYS = ('null": ', 'true": ', 'false": ', 'Infinity": ', 'NaN": ')


def encode_json(value) -> str:
    """JSON text with Decimal written as an exact number (the json module refuses
    Decimal, and going through float could change an amount): the same text as
    _encode_json_slowly, written by the json module's C encoder."""
    if c_make_encoder is None:
        return _encode_json_slowly(value)
    decimals = 0

    def default(o):
        nonlocal decimals
        if isinstance(o, Decimal):
            decimals += 1
            return _MARK + format(o, "f") + _MARK
        if isinstance(o, (date, datetime)):
            return o.isoformat()
        raise TypeError

    encoder = c_make_encoder(None, default, encode_basestring, None, ": ", ", ",
                             False, False, True)
    try:
        text = "".join(encoder(value, 0))
    except TypeError:       # a key or value the json module refuses: as before
        return _encode_json_slowly(value)
    if any(odd in text for odd in _ODD_KEYS):
        return _encode_json_slowly(value)
    if decimals:
        if text.count(_ESCAPED) != 2 * decimals:      # a string held the mark
            return _encode_json_slowly(value)
        text = text.replace('"' + _ESCAPED, "").replace(_ESCAPED + '"', "")
    return text


def _encode_json_slowly(value) -> str:
    """The reference encoding, one value at a time (keys written as str(key))."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k), ensure_ascii=False)}: "
                               f"{_encode_json_slowly(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_encode_json_slowly(v) for v in value) + "]"
    if isinstance(value, (date, datetime)):
        return json.dumps(value.isoformat())
    return json.dumps(value, ensure_ascii=False)


def decode_json_text(text: str):
    """Parse JSON with every number that has a fraction as Decimal."""
    return json.loads(text, parse_float=Decimal)

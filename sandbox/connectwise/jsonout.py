"""JSON as ConnectWise writes it: Decimal amounts as exact JSON numbers, null fields
left out, and the sandbox's private bookkeeping keys (leading underscore other than
`_info`) never served."""
from __future__ import annotations

from decimal import Decimal
from json.encoder import encode_basestring

_LITERALS = {True: "true", False: "false"}


def _write(value, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(encode_basestring(value))
    elif value is True or value is False:
        out.append(_LITERALS[value])
    elif isinstance(value, Decimal):
        # Normalise -0 and exponents ("1E+2") away: CW writes plain decimals.
        out.append(format(value + 0, "f"))
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, dict):
        out.append("{")
        first = True
        for key, inner in value.items():
            if inner is None or (key[0] == "_" and key != "_info"):
                continue
            if not first:
                out.append(",")
            first = False
            out.append(encode_basestring(key))
            out.append(":")
            _write(inner, out)
        out.append("}")
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for i, inner in enumerate(value):
            if i:
                out.append(",")
            _write(inner, out)
        out.append("]")
    elif value is None:
        out.append("null")
    else:
        raise TypeError(f"cannot serialize {type(value).__name__}")


def dumps(value) -> str:
    out: list[str] = []
    _write(value, out)
    return "".join(out)


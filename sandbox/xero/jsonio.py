"""JSON in and out with money kept as Decimal end to end.

Requests are parsed with every number as a Decimal; responses write Decimals as exact
JSON numbers (`46.00`, not `46.0`), as Xero does."""
from __future__ import annotations

import json
import re
from decimal import Decimal

from flask import Response

_MARK = "\u0000dec:"
_MARKED = re.compile(r'"\\u0000dec:(-?[0-9.]+)"')


class _Encoder(json.JSONEncoder):
    def default(self, o):
        if isinstance(o, Decimal):
            return _MARK + format(o, "f")
        return super().default(o)


def dumps(data) -> str:
    return _MARKED.sub(lambda found: found.group(1), json.dumps(data, cls=_Encoder))


def loads(text: str | bytes):
    return json.loads(text, parse_float=Decimal, parse_int=Decimal)


def respond(data, status: int = 200, headers: dict | None = None) -> Response:
    return Response(dumps(data), status=status, headers=headers or {},
                    mimetype="application/json")

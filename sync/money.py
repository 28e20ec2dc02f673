"""Decimal helpers shared by the mappers: Xero keeps money to the cent, units to 4 dp."""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
UNIT_4DP = Decimal("0.0001")
ZERO = Decimal("0.00")


def to_decimal(value) -> Decimal:
    """A CW number as Decimal. The client parses JSON with parse_float=Decimal, but
    integers arrive as int and a missing amount as None."""
    if value is None:
        return Decimal(0)
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        raise TypeError("money must never be a float; parse CW JSON with parse_float=Decimal")
    return Decimal(value)


def cents(value: Decimal) -> Decimal:
    """Round to the cent the way Xero does (half away from zero)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def decimal_places(value: Decimal) -> int:
    """Significant decimal places: 12.5000 has 1, 12.3456 has 4, 100 has 0."""
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def plain(value: Decimal) -> Decimal:
    """The same number without trailing zeros or exponent: 12.5000 -> 12.5, 1E+2 -> 100."""
    normal = value.normalize()
    if normal == 0:
        return Decimal(0)
    sign, digits, exponent = normal.as_tuple()
    return normal.quantize(Decimal(1)) if exponent > 0 else normal

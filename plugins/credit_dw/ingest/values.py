"""Parsing of typed source values: dates, timestamps, amounts, year-months, integers.

Each parser returns the typed value or raises ``ValueError`` with a short reason; the row
validator turns that into a reason code and a message naming file, row and field. Amounts are
``Decimal`` end to end: a fine of 0.35 (10,000 CNY) is exactly 3500.00 CNY, never a float.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

_DATE_RE = re.compile(r"^(\d{4})(?:([-/])(\d{1,2})\2(\d{1,2})|(\d{2})(\d{2}))$")
_TIMESTAMP_FORMATS = (
    "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y/%m/%d %H:%M:%S", "%Y%m%d%H%M%S",
    "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S.%f",
)
_YEAR_MONTH_RE = re.compile(r"^(\d{4})[-/]?(\d{1,2})$")
_AMOUNT_RE = re.compile(r"^\d+(\.\d+)?$")
_TEN_THOUSAND = Decimal(10000)
_FEN = Decimal("0.01")
_MAX_AMOUNT = Decimal("1e16")  # numeric(18, 2)


def parse_date(text: str) -> date:
    """``YYYY-MM-DD``, ``YYYY/MM/DD`` or ``YYYYMMDD`` (one-digit month/day tolerated with separators)."""
    match = _DATE_RE.match(text)
    if not match:
        raise ValueError("expected YYYY-MM-DD, YYYY/MM/DD or YYYYMMDD")
    year, _, month, day, compact_month, compact_day = match.groups()
    try:  # regex + date() rather than strptime: this runs for every date of every row
        return date(int(year), int(month or compact_month), int(day or compact_day))
    except ValueError as exc:
        raise ValueError("not a calendar date") from exc


def parse_timestamp(text: str) -> datetime:
    """Date-times in the usual separators; a bare date means midnight."""
    for fmt in _TIMESTAMP_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    return datetime.combine(parse_date(text), datetime.min.time())


def parse_year_month(text: str) -> date:
    """``YYYY-MM`` (or ``YYYYMM``, ``YYYY/MM``) as the first day of that month."""
    match = _YEAR_MONTH_RE.match(text)
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ValueError("expected YYYY-MM")
    return date(int(match.group(1)), int(match.group(2)), 1)


def parse_amount(text: str, unit: Decimal = Decimal(1)) -> Decimal:
    """A non-negative decimal times ``unit``, exact to the fen (0.01 CNY), else ``ValueError``."""
    cleaned = text.replace(",", "") if re.fullmatch(r"\d{1,3}(,\d{3})+(\.\d+)?", text) else text
    if not _AMOUNT_RE.match(cleaned):
        raise ValueError("expected a non-negative decimal number such as 1.5")
    try:
        value = Decimal(cleaned) * unit
    except InvalidOperation as exc:  # pragma: no cover - regex already guards
        raise ValueError("not a number") from exc
    if value != value.quantize(_FEN):
        raise ValueError(f"{value} CNY has fractions of a fen")
    if value >= _MAX_AMOUNT:
        raise ValueError("amount out of range")
    return value.quantize(_FEN)


def parse_amount_wan(text: str) -> Decimal:
    """An amount delivered in units of 10,000 CNY, as exact CNY."""
    return parse_amount(text, _TEN_THOUSAND)


def parse_int(text: str) -> int:
    if not re.fullmatch(r"[+-]?\d+", text):
        raise ValueError("expected a whole number")
    value = int(text)
    if abs(value) >= 2**31:
        raise ValueError("out of range")
    return value

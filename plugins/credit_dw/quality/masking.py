"""Mask anything that looks like a clear personal ID number before it is stored or shown.

Validation samples and rejected rows are read by stewards and land in Data Docs and the report;
Art. 8 keeps clear resident ID numbers out of all of them. The pattern is the same one the mart
suites use to detect leaks (18 characters ``\\d{17}[\\dXx]`` or 15 digits, not part of a longer
alphanumeric run), so what the gate would flag is exactly what we mask. It also masks all-digit
organisation codes of the same length (e.g. a USCC like ``121200004013590816``): for display,
over-masking is the safe side.
"""

from __future__ import annotations

import re
from typing import Any

from credit_dw.identifiers import mask_id

# PostgreSQL ARE and Python re both accept this (lookaround, classes); keep it portable.
CLEAR_ID_REGEX = r"(?<![0-9A-Za-z])([0-9]{17}[0-9Xx]|[0-9]{15})(?![0-9A-Za-z])"
_CLEAR_ID = re.compile(CLEAR_ID_REGEX)


def mask_text(text: str) -> str:
    """``'身份证 110101199003071234'`` → ``'身份证 1101**********1234'``."""
    return _CLEAR_ID.sub(lambda m: mask_id(m.group(1)), text)


def mask_values(value: Any) -> Any:
    """Mask recursively inside JSON-like data (dicts, lists, strings); other values unchanged."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: mask_values(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_values(v) for v in value]
    return value

"""Defects the validators must catch, and harmless variants they must accept.

Each defect class corrupts exactly one row in a way one validator rejects; the generator
records how many it wrote per file so tests can compare with what ingestion quarantined.
Variants (full-width, lower case, padded identifiers) are valid after normalisation and
must load; they are counted separately.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum

from credit_dw.identifiers import USCC_ALPHABET, is_valid_resident_id


class Defect(StrEnum):
    BAD_USCC_CHECK = "bad_uscc_check"  # 18 valid symbols, wrong check character
    MALFORMED_USCC = "malformed_uscc"  # wrong length or a letter outside the set (I O S V Z)
    MISSING_REQUIRED = "missing_required"  # a required field (the key or the name) is empty
    BAD_DATE = "bad_date"  # impossible calendar date, e.g. 2023-02-29
    BAD_AMOUNT = "bad_amount"  # non-numeric amount, e.g. 壹万元
    UNKNOWN_ENUM = "unknown_enum"  # value outside the field's closed list
    DUPLICATE_KEY = "duplicate_key"  # an extra row repeating the previous row's natural key
    BAD_RESIDENT_ID = "bad_resident_id"  # clear resident ID failing GB 11643
    UNKNOWN_AUTHORITY = "unknown_authority"  # legacy CF_XZJG name not in the department directory
    BAD_ORG_CODE = "bad_org_code"  # organisation code failing GB 11714
    BAD_REGISTRATION_NUMBER = "bad_registration_number"  # 注册号 failing ISO 7064 MOD 11,10
    UNDECODABLE_BYTES = "undecodable_bytes"  # raw bytes invalid in the file's encoding
    BAD_YEAR_MONTH = "bad_year_month"  # 欠缴起始/截止年月 not a valid YYYY-MM


class Variant(StrEnum):
    FULLWIDTH = "fullwidth"
    LOWERCASE = "lowercase"
    WHITESPACE = "whitespace"
    REGISTER_ANOMALY = "register_anomaly"  # registration carries a USCC failing its check: accepted, flagged


@dataclass
class Tally:
    """What was written to one file."""

    rows: int = 0
    defects: Counter[str] = field(default_factory=Counter)
    variants: Counter[str] = field(default_factory=Counter)


def choose(r: random.Random, rate: float, applicable: list[Defect]) -> Defect | None:
    """Draw whether this row is defective (probability ``rate``) and, if so, which way."""
    if r.random() < rate and applicable:
        return r.choice(applicable)
    return None


def vary(r: random.Random, rate: float, code: str) -> tuple[str, Variant | None]:
    """Sometimes present a valid identifier the way sloppy exports do (still valid)."""
    if not code or r.random() >= rate:
        return code, None
    kind = r.choice((Variant.FULLWIDTH, Variant.LOWERCASE, Variant.WHITESPACE))
    if kind is Variant.LOWERCASE and code.lower() == code:
        kind = Variant.FULLWIDTH
    if kind is Variant.FULLWIDTH:
        return "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else c for c in code), kind
    if kind is Variant.LOWERCASE:
        return code.lower(), kind
    return f" {code} ", kind


def bad_check_uscc(code: str, r: random.Random) -> str:
    """Same 17 symbols, a different (wrong) check character; never a valid resident ID either."""
    while True:
        wrong = USCC_ALPHABET[(USCC_ALPHABET.index(code[17]) + 1 + r.randrange(30)) % 31]
        candidate = code[:17] + wrong
        if not is_valid_resident_id(candidate):
            return candidate


def malformed_uscc(code: str, r: random.Random) -> str:
    how = r.randrange(3)
    if how == 0:
        return code[:17]  # truncated
    if how == 1:
        return code + r.choice("0123456789")  # 19 characters
    pos = r.randrange(8, 17)
    return code[:pos] + r.choice("IOSVZ") + code[pos + 1 :]  # letter outside the set


def bad_check_digit(code: str) -> str:
    """Replace the last digit/X by another value of the same alphabet (any check scheme fails)."""
    last = code[-1]
    replacement = "0" if last in "X9" else str(int(last) + 1)
    return code[:-1] + replacement


def bad_org_code(code: str) -> str:
    plain = code.replace("-", "")
    corrupted = bad_check_digit(plain)
    return f"{corrupted[:8]}-{corrupted[8]}" if "-" in code else corrupted


def bad_date(r: random.Random, fmt: str = "%Y-%m-%d") -> str:
    y = r.randint(2019, 2026)
    impossible = r.choice(((2, 30), (2, 29 if y % 4 else 31), (4, 31), (13, 5), (0, 12), (6, 31)))
    return fmt.replace("%Y", str(y)).replace("%m", f"{impossible[0]:02d}").replace("%d", f"{impossible[1]:02d}")


def bad_amount(r: random.Random) -> str:
    return r.choice(("壹万元", "约1.5", "1.2.3", "五千", "N/A", "12O0"))


def bad_year_month(r: random.Random) -> str:
    y = r.randint(2020, 2026)
    return r.choice((f"{y}-13", f"{y}-00", f"{y}-1a", f"{y}年13月"))

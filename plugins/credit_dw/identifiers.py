"""Identifier checks exactly as the Chinese standards define them.

Why our own code and not ``python-stdnum``: its ``cn.uscc`` only accepts digits in positions
1-8, but GB 32100-2015 draws positions 1-2 from the full 31-symbol set (e.g. ``N`` for rural
collectives, ``A`` for agriculture authorities). The standard is the reference; the tests use
the standard's worked example and codes with letters in positions 1-2.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # GB 32100 Table 1: no I, O, S, V, Z
_USCC_VALUE = {c: i for i, c in enumerate(USCC_ALPHABET)}
USCC_WEIGHTS = [pow(3, i, 31) for i in range(17)]  # w_i = 3^(i-1) mod 31

ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)  # GB 11714-1997
RESIDENT_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)  # GB 11643-1999
RESIDENT_ID_CHECK = "10X98765432"


def normalise(value: str | None) -> str:
    """Trim, fold full-width to half-width (NFKC) and upper-case; never 'fix' O to 0."""
    if value is None:
        return ""
    return unicodedata.normalize("NFKC", value).strip().upper()


def uscc_check_char(first17: str) -> str:
    total = sum(_USCC_VALUE[c] * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def uscc_shape_ok(code: str) -> bool:
    """18 symbols of the set, positions 3-8 digits (division code)."""
    return len(code) == 18 and all(c in _USCC_VALUE for c in code) and code[2:8].isdigit()


def is_valid_uscc(code: str) -> bool:
    """Shape and check character per GB 32100-2015 (the embedded org code check is not required)."""
    return uscc_shape_ok(code) and uscc_check_char(code[:17]) == code[17]


def org_code_check_char(first8: str) -> str:
    total = sum(org_symbol_value(c) * w for c, w in zip(first8, ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def org_symbol_value(c: str) -> int:
    if c.isdigit():
        return int(c)
    return ord(c) - ord("A") + 10


def is_valid_org_code(code: str) -> bool:
    """GB 11714 organisation code, with or without the printed hyphen (``XXXXXXXX-C``)."""
    code = code.replace("-", "")
    if len(code) != 9 or not all(c.isdigit() or "A" <= c <= "Z" for c in code[:8]):
        return False
    return org_code_check_char(code[:8]) == code[8]


def mod_11_10_check_digit(first14: str) -> str:
    """ISO 7064 MOD 11,10 check digit (business registration numbers)."""
    product = 10
    for c in first14:
        total = (int(c) + product) % 10 or 10
        product = (total * 2) % 11
    return str((11 - product) % 10)


def is_valid_registration_number(code: str) -> bool:
    """15-digit business registration number (注册号), pre-2015."""
    return len(code) == 15 and code.isdigit() and mod_11_10_check_digit(code[:14]) == code[14]


def resident_id_check_char(first17: str) -> str:
    total = sum(int(c) * w for c, w in zip(first17, RESIDENT_ID_WEIGHTS, strict=True))
    return RESIDENT_ID_CHECK[total % 11]


def is_valid_resident_id(code: str) -> bool:
    """18-character resident ID per GB 11643-1999 (ISO 7064 MOD 11-2)."""
    return (
        len(code) == 18
        and code[:17].isdigit()
        and resident_id_check_char(code[:17]) == code[17]
    )


def is_masked_id(code: str) -> bool:
    return "*" in code


def mask_id(code: str) -> str:
    """Display form: first 4 and last 4 characters, the rest starred (as published lists show)."""
    if len(code) <= 8:
        return "*" * len(code)
    return code[:4] + "*" * (len(code) - 8) + code[-4:]


def pii_hash(code: str, key: bytes) -> str:
    """Keyed hash (HMAC-SHA256, hex) used to join on a person without the clear number."""
    return hmac.new(key, code.encode(), hashlib.sha256).hexdigest()


def uscc_from_org_code(uscc: str) -> str:
    """Positions 9-17 of a USCC are the organisation code body plus its check."""
    return uscc[8:17]


def normalise_org_code(code: str) -> str:
    """Organisation codes are stored as 9 symbols without the printed hyphen."""
    return code.replace("-", "")


def taxpayer_number_kind(code: str) -> str | None:
    """What a taxpayer identification number (纳税人识别号) is: ``uscc``, ``resident_id``, ``legacy``.

    Since 2015 it is the USCC. Older numbers are 15 characters (division + organisation code),
    18 (a resident ID: individual businesses) or 20 (resident ID + 2 digits). An 18-character
    number that is neither a valid USCC nor a valid resident ID is ``None`` (invalid).
    """
    if len(code) == 18:
        if is_valid_uscc(code):
            return "uscc"
        if is_valid_resident_id(code):
            return "resident_id"
        return None
    if len(code) == 20 and is_valid_resident_id(code[:18]):
        return "resident_id"
    if len(code) in (15, 20) and code.isalnum() and code.isascii():
        return "legacy"
    return None


def looks_like_resident_id(code: str) -> bool:
    """17 digits + digit/X with a plausible birth date: personal data even if the check fails."""
    if len(code) != 18 or not code[:17].isdigit() or code[17] not in "0123456789X":
        return False
    year, month, day = int(code[6:10]), int(code[10:12]), int(code[12:14])
    return 1900 <= year <= 2099 and 1 <= month <= 12 and 1 <= day <= 31


_PROVINCES = frozenset({11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46,
                        50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82})


def looks_like_old_resident_id(code: str) -> bool:
    """15-digit first-generation ID (1984-1999): division (province first), YYMMDD, sequence."""
    if len(code) != 15 or not code.isdigit() or int(code[:2]) not in _PROVINCES:
        return False
    month, day = int(code[8:10]), int(code[10:12])
    return 1 <= month <= 12 and 1 <= day <= 31


def is_plausible_resident_id(code: str) -> bool:
    """A valid GB 11643 number with a plausible birth date: what a person's ID would be."""
    return looks_like_resident_id(code) and is_valid_resident_id(code)


def embedded_org_code_ok(uscc: str) -> bool:
    """GB 32100 positions 9-17 are a GB 11714 organisation code with its own check character."""
    return len(uscc) == 18 and is_valid_org_code(uscc_from_org_code(uscc))


def ambiguous_uscc(code: str) -> bool:
    """Both a valid USCC and a plausible resident ID (about 3 % of resident IDs are)."""
    return is_plausible_resident_id(code) and is_valid_uscc(code)

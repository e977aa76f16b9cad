"""Stable reason codes for quarantined rows and failed files (documented in docs/reason-codes.md).

Codes are part of the interface: stewards filter ``quality.rejected_rows.reason_codes`` by them,
GX suites and the nightly report count them. Rename nothing; add new codes at the end.
"""

from __future__ import annotations

from dataclasses import dataclass

# Row level: the record goes to quality.rejected_rows.
MISSING_REQUIRED = "MISSING_REQUIRED"
INVALID_USCC = "INVALID_USCC"
INVALID_ORG_CODE = "INVALID_ORG_CODE"
INVALID_REG_NUMBER = "INVALID_REG_NUMBER"
INVALID_RESIDENT_ID = "INVALID_RESIDENT_ID"
INVALID_TAXPAYER_NUMBER = "INVALID_TAXPAYER_NUMBER"
INVALID_DATE = "INVALID_DATE"
INVALID_TIMESTAMP = "INVALID_TIMESTAMP"
INVALID_YEAR_MONTH = "INVALID_YEAR_MONTH"
INVALID_AMOUNT = "INVALID_AMOUNT"
INVALID_INTEGER = "INVALID_INTEGER"
UNKNOWN_ENUM = "UNKNOWN_ENUM"
UNKNOWN_AUTHORITY = "UNKNOWN_AUTHORITY"
DUPLICATE_KEY = "DUPLICATE_KEY"
ENCODING = "ENCODING"
MALFORMED_ROW = "MALFORMED_ROW"
NUL_BYTE = "NUL_BYTE"                          # a field holds 0x00 / \u0000, which text cannot store
DATE_AFTER_DELIVERY = "DATE_AFTER_DELIVERY"    # a decision date later than the delivery date
PERSON_ID_AS_USCC = "PERSON_ID_AS_USCC"        # an organisation-code field holds a person's ID number

# Row level, warning only: the record loads, the batch counts it in rows_warned.
USCC_CHECK_FAILED = "USCC_CHECK_FAILED"

# File level: the whole file fails (manifest status 'failed', nothing loaded).
EMPTY_FILE = "EMPTY_FILE"
NO_HEADER = "NO_HEADER"
UNKNOWN_FIELD_SET = "UNKNOWN_FIELD_SET"
UNREADABLE_FILE = "UNREADABLE_FILE"
UNEXPECTED_FILE = "UNEXPECTED_FILE"
SNAPSHOT_OUT_OF_ORDER = "SNAPSHOT_OUT_OF_ORDER"
SYMLINK = "SYMLINK"                    # a symbolic link in the delivery: never followed
SUB_FOLDER = "SUB_FOLDER"              # a folder inside the delivery: its files are not loaded
FILE_CHANGED = "FILE_CHANGED"          # the file changed while (or after) it was read
DATABASE_ERROR = "DATABASE_ERROR"      # the warehouse failed mid-load (connection lost, ...)
SNAPSHOT_TOO_SMALL = "SNAPSHOT_TOO_SMALL"

# File level, warning only: reported in the manifest message, the file still loads.
FIELD_DRIFT = "FIELD_DRIFT"


@dataclass(frozen=True)
class Issue:
    """One problem with one field of one record; ``message`` says what is wrong and what to do."""

    code: str
    field: str | None
    message: str
    warning: bool = False


class FileFailure(Exception):
    """The whole file cannot be loaded; ``code`` is a file-level reason code."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

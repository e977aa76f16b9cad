"""Field drift recorded as rows (``quality.field_drift``), not only as manifest text.

Why a table: "which files of which feed carry an unknown column, since when" is a steward's
question across nights; one row per batch and field answers it in SQL and in the report, and the
field name is a header (masked all the same: a header-less file's "header" is a data row).
"""

from __future__ import annotations

import psycopg

from credit_dw.quality.masking import mask_text


def record_drift(conn: psycopg.Connection, batch_id: int, feed: str, source_file: str, file_kind: str,
                 field_set: str, fields: set[str]) -> None:
    """Store each unknown field of one loaded file (inside the file's loading transaction)."""
    if not fields:
        return
    with conn.cursor() as cur:
        cur.executemany(
            "insert into quality.field_drift (batch_id, feed, source_file, field, file_kind, field_set)"
            " values (%s, %s, %s, %s, %s, %s) on conflict do nothing",
            [(batch_id, feed, source_file, mask_text(name), file_kind, field_set) for name in sorted(fields)],
        )

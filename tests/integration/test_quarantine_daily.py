"""``quality.quarantine_daily`` counts rejected rows by feed, day and reason, for stewards."""

from __future__ import annotations

from datetime import date

import psycopg

from credit_dw.commands.demo import SAMPLES, stage_samples
from credit_dw.ingest import ingest_delivery


def test_counts_match_the_quarantine(fresh_dsn, landing_root):
    stage_samples(SAMPLES, landing_root)
    day = date(2026, 11, 20)
    ingest_delivery("penalty", day)
    with psycopg.connect(fresh_dsn) as conn:
        per_reason = dict(conn.execute(
            "select reason_code, rows_rejected from quality.quarantine_daily"
            " where feed = 'penalty' and delivery_date = %s", (day,)).fetchall())
        expected = dict(conn.execute(
            "select code, count(*) from quality.rejected_rows, unnest(reason_codes) code"
            " where feed = 'penalty' group by code").fetchall())
        conn.execute("set role steward")
        readable = conn.execute("select count(*) from quality.quarantine_daily").fetchone()[0]
    assert per_reason == expected and per_reason, per_reason
    assert readable == len(per_reason)

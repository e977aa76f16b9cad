"""Helpers shared by the ingest integration tests (no tests here).

``deliver`` writes a delivery folder the way departments do (data files, then ``_DONE``);
``batch_rows`` / ``rejected`` read back what a load recorded.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import psycopg

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"


def deliver(landing_root: Path, feed: str, day: date, files: dict[str, Path | bytes | str],
            done: bool = True) -> Path:
    folder = landing_root / feed / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        target = folder / name
        if isinstance(content, Path):
            shutil.copyfile(content, target)
        elif isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")
    if done:
        (folder / "_DONE").touch()
    return folder


def query(dsn: str, sql: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql, params).fetchall()


def rejected(dsn: str, batch_id: int) -> list[tuple]:
    """(source_row, reason_codes, message, raw_record) of one batch, in row order."""
    return query(dsn, "select source_row, reason_codes, message, raw_record from quality.rejected_rows"
                      " where batch_id = %s order by source_row", (batch_id,))


def manifest(dsn: str, batch_id: int) -> dict:
    with psycopg.connect(dsn) as conn:
        cur = conn.execute("select * from quality.batch_manifest where batch_id = %s", (batch_id,))
        names = [d.name for d in cur.description]
        return dict(zip(names, cur.fetchone(), strict=True))


def assert_reconciled(dsn: str) -> None:
    """Every loaded batch: read = loaded + rejected, and the counts match the stored rows."""
    bad = query(dsn, """
        select m.batch_id from quality.batch_manifest m
        where m.status = 'loaded' and (m.rows_read <> m.rows_loaded + m.rows_rejected
          or m.rows_rejected <> (select count(*) from quality.rejected_rows r where r.batch_id = m.batch_id))
    """)
    assert bad == [], f"batches not reconciled: {bad}"

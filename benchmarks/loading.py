"""Ingest many deliveries with ``credit_dw.ingest.ingest_delivery``, a few at a time.

Why processes: each ingest is one Python process streaming rows into COPY (CPU-bound in
Python), while PostgreSQL does the set-based work; the Airflow deployment likewise runs one
DAG per feed side by side. Different feeds write different raw tables, so they never wait on
each other.
"""

from __future__ import annotations

import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path


def ingest_one(feed: str, day: date, dsn: str, root: Path) -> dict:
    """One delivery; returns its totals, wall time and the snapshot changes (judicial)."""
    from credit_dw.ingest import ingest_delivery

    started = time.perf_counter()
    result = ingest_delivery(feed, day, dsn=dsn, landing_root=root)
    seconds = time.perf_counter() - started
    totals = result.totals()
    notes = [f.message for f in result.files if f.message]
    return {
        "feed": feed,
        "day": day.isoformat(),
        "files": len(result.files),
        **totals,
        "seconds": round(seconds, 3),
        "rows_per_s": round(totals["rows_read"] / seconds) if seconds else None,
        "notes": notes,
    }


def ingest_all(deliveries: list[tuple[str, date]], dsn: str, root: Path, jobs: int) -> list[dict]:
    """Ingest ``(feed, day)`` deliveries; the same feed's days stay in date order (snapshots)."""
    by_feed: dict[str, list[date]] = {}
    for feed, day in deliveries:
        by_feed.setdefault(feed, []).append(day)
    if jobs <= 1:
        return [ingest_one(f, d, dsn, root) for f, days in by_feed.items() for d in sorted(days)]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(_ingest_feed, feed, sorted(days), dsn, root) for feed, days in by_feed.items()]
        results = []
        for future in futures:
            for r in future.result():
                results.append(r)
                print(f"    ingested {r['feed']} {r['day']}: {r['rows_read']} rows in {r['seconds']:.0f} s "
                      f"({r['rows_per_s']} rows/s)", file=sys.stderr, flush=True)
        return results


def _ingest_feed(feed: str, days: list[date], dsn: str, root: Path) -> list[dict]:
    return [ingest_one(feed, day, dsn, root) for day in days]

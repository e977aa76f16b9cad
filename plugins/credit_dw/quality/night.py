"""Which batches a night's feed validation covers, and the row-count bounds they must meet.

Row-count bounds come from the feed spec's ``count_bounds`` (ingest package, see
``credit_dw.feeds``): a delivery must load between ``min_ratio_to_median`` and
``max_ratio_to_median`` times the median of the previous ``trailing_deliveries`` deliveries.
Counts are the manifest's ``rows_loaded`` summed per delivery date, i.e. what the ingestion
accounted for; for the judicial full snapshot that is the snapshot size, not the interval delta.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any

import psycopg

from credit_dw.quality.suites import DEFAULT_FEED_TABLES, DEFAULT_MAX_DELIVERY_AGE_DAYS


@dataclass(frozen=True)
class CountBounds:
    min_ratio_to_median: float = 0.5
    max_ratio_to_median: float = 3.0
    trailing_deliveries: int = 7


@dataclass(frozen=True)
class RowBounds:
    """Bounds for one feed's deliveries tonight; ``None`` when there is no history yet."""

    median: float | None
    min_rows: int | None
    max_rows: int | None
    history: int          # how many earlier deliveries the median is taken over


def _spec(feed: str) -> Any | None:
    """The feed spec from the ingest package, or None while that package is absent."""
    try:
        from credit_dw.feeds import load_spec
    except ImportError:
        return None
    try:
        return load_spec(feed)
    except Exception: # an unknown feed falls back to the defaults below
        return None


def _get(spec: Any, key: str) -> Any:
    if spec is None:
        return None
    if isinstance(spec, dict):
        return spec.get(key)
    return getattr(spec, key, None)


def count_bounds(feed: str) -> CountBounds:
    raw = _get(_spec(feed), "count_bounds") or {}
    if not isinstance(raw, dict):
        raw = {k: getattr(raw, k) for k in CountBounds.__dataclass_fields__ if hasattr(raw, k)}
    known = {k: v for k, v in raw.items() if k in CountBounds.__dataclass_fields__}
    return CountBounds(**known)


def max_delivery_age_days(feed: str) -> int:
    return int(_get(_spec(feed), "max_delivery_age_days") or DEFAULT_MAX_DELIVERY_AGE_DAYS)


def feed_tables(feed: str) -> tuple[str, ...]:
    """Raw tables (without schema) a feed writes: spec ``raw_tables`` or the built-in map."""
    tables = _get(_spec(feed), "raw_tables")
    if tables:
        return tuple(str(t).removeprefix("raw.") for t in tables)
    return DEFAULT_FEED_TABLES.get(feed, ())


def night_batches(conn: psycopg.Connection, batch_ids: list[int] | None) -> dict[str, list[int]]:
    """Loaded batches per feed: the given ids, or each feed's latest delivery when ``None``."""
    if batch_ids is None:
        rows = conn.execute(
            "select feed, batch_id from quality.batch_manifest m where status = 'loaded' and"
            " delivery_date = (select max(delivery_date) from quality.batch_manifest l"
            "                  where l.feed = m.feed and l.status = 'loaded')"
            " order by feed, batch_id"
        ).fetchall()
    else:
        rows = conn.execute(
            "select feed, batch_id from quality.batch_manifest"
            " where status = 'loaded' and batch_id = any(%s) order by feed, batch_id",
            ([int(b) for b in batch_ids],),
        ).fetchall()
    night: dict[str, list[int]] = {}
    for feed, batch_id in rows:
        night.setdefault(feed, []).append(batch_id)
    return night


def row_bounds(conn: psycopg.Connection, feed: str, batch_ids: list[int], bounds: CountBounds) -> RowBounds:
    """Median of ``rows_loaded`` per delivery over the deliveries before tonight's first one."""
    history = [
        r[0]
        for r in conn.execute(
            "select sum(rows_loaded) from quality.batch_manifest"
            " where feed = %s and status = 'loaded' and delivery_date <"
            "   (select min(delivery_date) from quality.batch_manifest where batch_id = any(%s))"
            " group by delivery_date order by delivery_date desc limit %s",
            (feed, batch_ids, bounds.trailing_deliveries),
        ).fetchall()
    ]
    if not history:
        return RowBounds(median=None, min_rows=None, max_rows=None, history=0)
    median = float(statistics.median(history))
    return RowBounds(
        median=median,
        min_rows=math.ceil(median * bounds.min_ratio_to_median),   # below 50% fails
        max_rows=math.floor(median * bounds.max_ratio_to_median),  # above 300% fails
        history=len(history),
    )

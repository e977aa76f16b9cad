"""Which batches a night's feed validation covers, and the row-count bounds they must meet.

Row-count bounds come from the feed spec's ``count_bounds`` (ingest package, see
``credit_dw.feeds``): a delivery must load between ``min_ratio_to_median`` and
``max_ratio_to_median`` times the median of the previous ``trailing_deliveries`` deliveries.
Counts are the manifest's ``rows_loaded`` of the files that load one raw table (the spec's file
kind, with its own bounds), summed per delivery date: what the ingestion accounted for. For the
judicial full snapshot that is the snapshot size, not the interval delta.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import psycopg

from credit_dw.feeds import SPEC_DIR, CountBounds, FeedSpec, RejectionBounds, load_spec
from credit_dw.quality.suites import DEFAULT_FEED_TABLES, DEFAULT_MAX_DELIVERY_AGE_DAYS


@dataclass(frozen=True)
class RowBounds:
    """Bounds for one feed's deliveries tonight; ``None`` when there is no history yet."""

    median: float | None
    min_rows: int | None
    max_rows: int | None
    history: int          # how many earlier deliveries the median is taken over


def _spec(feed: str) -> FeedSpec | None:
    """The feed spec, or None for a feed without one (it then gets the defaults below)."""
    # Only a feed without a spec file gets the defaults: a broken spec must fail loudly,
    # not quietly loosen the row-count bounds.
    if not (SPEC_DIR / f"{feed}.yaml").exists():
        return None
    return load_spec(feed)


def count_bounds(feed: str, table: str) -> CountBounds:
    """The bounds of the file kind that loads ``raw.<table>`` (the feed's, or the defaults)."""
    spec = _spec(feed)
    return CountBounds() if spec is None else spec.count_bounds_for(f"raw.{table}")


def table_of(feed: str, source_file: str) -> str | None:
    """Which raw table a delivered file loads (spec file kinds; one-table feeds need no spec)."""
    spec = _spec(feed)
    if spec is not None:
        kind = spec.kind_for(PurePosixPath(source_file).name)
        if kind is not None:
            return kind.raw_table.removeprefix("raw.")
    tables = feed_tables(feed)
    return tables[0] if len(tables) == 1 else None


def rejection_bounds(feed: str) -> RejectionBounds:
    """The feed's rejected-row bounds (the defaults for a feed without a spec)."""
    spec = _spec(feed)
    return RejectionBounds() if spec is None else spec.rejection_bounds


def pending_batches(conn: psycopg.Connection) -> list[int]:
    """Loaded batches no build has gated yet: what every build validates, however it was started.

    A batch stops being pending once every feed validation covering it passed in a build that
    reached a verdict, or a steward accepted it (view ``quality.pending_batch``). So a late
    delivery is gated by the next build, and a batch whose gate failed blocks each build until
    it is replaced and accepted: nothing ungated is ever published silently.
    """
    return [r[0] for r in conn.execute("select batch_id from quality.pending_batch order by batch_id")]


_REJECTION_COLUMNS = (
    "select batch_id, source_file, delivery_date, rows_read, rows_rejected,"
    " case when rows_read >= {min_rows} then round(rows_rejected::numeric / rows_read, 4) end"
    "   as file_rejected_share,"
    " round(sum(rows_rejected) over night::numeric / nullif(sum(rows_read) over night, 0), 4) as night_rejected_share"
    " from quality.batch_manifest where batch_id in ({ids})"
    " window night as (partition by delivery_date)"
)


def rejection_query(batch_ids: list[int], bounds: RejectionBounds) -> str:
    """SQL of the ``rejects_<table>`` asset: one row per file with its and its night's share."""
    return _REJECTION_COLUMNS.format(min_rows=int(bounds.min_rows), ids=", ".join(str(int(b)) for b in batch_ids))


def rejection_breaches(conn: psycopg.Connection, batch_ids: list[int], bounds: RejectionBounds) -> list[str]:
    """One line per file or night over its bound, with the top reasons: what the alert says.

    The GX suite gives the verdict; these lines give the steward the file and why, so the
    message can be acted on without opening the results (personal IDs never appear: only
    reason codes, counts and file names).
    """
    rows = conn.execute(rejection_query(batch_ids, bounds)).fetchall()
    lines: list[str] = []
    nights: dict[Any, tuple[float, list[int]]] = {}
    for batch_id, source_file, day, read, rejected, file_share, night_share in rows:
        if file_share is not None and file_share > bounds.max_share_per_file:
            lines.append(f"{source_file}: {rejected} of {read} rows rejected ({file_share:.0%}, limit "
                         f"{bounds.max_share_per_file:.0%}); top reasons {_top_reasons(conn, [batch_id])}")
        if night_share is not None and night_share > bounds.max_share_per_night:
            nights.setdefault(day, (float(night_share), []))[1].append(batch_id)
    for day, (share, ids) in sorted(nights.items()):
        lines.append(f"delivery of {day}: {share:.0%} of its rows rejected (limit {bounds.max_share_per_night:.0%})"
                     f" over {len(ids)} file(s); top reasons {_top_reasons(conn, ids)}")
    return lines


def _top_reasons(conn: psycopg.Connection, batch_ids: list[int], limit: int = 3) -> str:
    rows = conn.execute(
        "select code, count(*) from quality.rejected_rows r cross join lateral unnest(r.reason_codes) as code"
        " where r.batch_id = any(%s) group by code order by count(*) desc, code limit %s",
        (batch_ids, limit),
    ).fetchall()
    return ", ".join(f"{code} {n}" for code, n in rows) or "none recorded"


def max_delivery_age_days(feed: str) -> int:
    """How old the newest delivery of ``feed`` may be; feed specs carry no per-feed age yet."""
    return DEFAULT_MAX_DELIVERY_AGE_DAYS


def feed_tables(feed: str) -> tuple[str, ...]:
    """Raw tables (without schema) a feed writes: spec ``raw_tables`` or the built-in map."""
    spec = _spec(feed)
    if spec is not None and spec.raw_tables:
        return tuple(t.removeprefix("raw.") for t in spec.raw_tables)
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


def split_by_table(conn: psycopg.Connection, feed: str, batch_ids: list[int]) -> dict[str, list[int]]:
    """Tonight's batches of a feed grouped by the raw table their file loads."""
    by_table: dict[str, list[int]] = {}
    for batch_id, source_file in conn.execute(
        "select batch_id, source_file from quality.batch_manifest where batch_id = any(%s) order by batch_id",
        (batch_ids,),
    ).fetchall():
        table = table_of(feed, source_file)
        if table is not None:
            by_table.setdefault(table, []).append(batch_id)
    return by_table


def row_bounds(conn: psycopg.Connection, feed: str, table: str, batch_ids: list[int],
               bounds: CountBounds) -> RowBounds:
    """Bounds for tonight's deliveries into ``raw.<table>``.

    The median is over ``rows_loaded`` per earlier delivery date (files of the same kind summed);
    the ratio bounds are clipped by the spec's absolute ``min_rows`` / ``max_rows``.
    """
    rows = conn.execute(
        "with dates as (select distinct delivery_date from quality.batch_manifest"
        "   where feed = %(feed)s and status = 'loaded' and delivery_date <"
        "     (select min(delivery_date) from quality.batch_manifest where batch_id = any(%(ids)s))"
        "   order by delivery_date desc limit %(limit)s)"
        " select delivery_date, source_file, rows_loaded from quality.batch_manifest"
        " where feed = %(feed)s and status = 'loaded' and delivery_date in (select delivery_date from dates)",
        # several file kinds may share a date: look back far enough to find N of this kind
        {"feed": feed, "ids": batch_ids, "limit": bounds.trailing_deliveries * 4},
    ).fetchall()
    per_day: dict[Any, int] = {}
    for day, source_file, loaded in rows:
        if table_of(feed, source_file) == table:
            per_day[day] = per_day.get(day, 0) + loaded
    history = [per_day[d] for d in sorted(per_day, reverse=True)[: bounds.trailing_deliveries]]
    if not history:
        return RowBounds(median=None, min_rows=bounds.min_rows, max_rows=bounds.max_rows, history=0)
    median = float(statistics.median(history))
    if len(history) < bounds.min_history:
        return RowBounds(median=median, min_rows=bounds.min_rows, max_rows=bounds.max_rows, history=len(history))
    low = math.ceil(median * bounds.min_ratio_to_median)     # below 50% fails
    high = math.floor(median * bounds.max_ratio_to_median)   # above 300% fails
    return RowBounds(
        median=median,
        min_rows=max(low, bounds.min_rows),
        max_rows=high if bounds.max_rows is None else min(high, bounds.max_rows),
        history=len(history),
    )

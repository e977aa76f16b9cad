"""Daily full snapshots → validity intervals (e.g. raw.judicial_listing), set-based.

Courts publish the whole current list every day. Storing a million-row copy per night would
make "when was this debtor removed?" a diff over copies; instead each version of an entry is one
row with ``first_seen_on`` / ``last_seen_on`` / ``removed_on``. The snapshot of the day is
already in the temporary stage table; four statements apply it:

1. open entries carried unchanged (same key, same ``content_hash``) → ``last_seen_on = day``;
2. open entries not carried unchanged (changed or gone) → ``removed_on = day``, except entries
   whose record was quarantined today: we cannot tell whether they changed, so they stay open
   until a snapshot carries a valid version or omits them. A quarantined record stands for the
   open entries that agree with it on every natural-key column it still carries (at least one);
   the key comes from the spec, so any ``daily_snapshot`` feed merges the same way;
3. snapshot entries without an open version (new, or just changed) → new version from ``day``.

Removal is a status change, never a delete (DOMAIN.md §3).

A corrected snapshot for a day already applied (a truncated export re-delivered whole) replaces
the wrong one exactly: ``undo_day`` first takes back what that day's snapshot did — versions it
opened are deleted (they existed only because of it), versions it closed are reopened, versions
it carried get back their previous ``last_seen_on`` (kept in ``previous_seen_on`` by statement 1)
— and the corrected snapshot is then applied as if it had come first. ``first_seen_on`` of every
listing is what it was before the wrong snapshot.
"""

from __future__ import annotations

import math
import statistics
from datetime import date

import psycopg
from psycopg import sql

from credit_dw.feeds import CountBounds
from credit_dw.ingest import reasons
from credit_dw.ingest.reasons import FileFailure


def guard_order(conn: psycopg.Connection, table: str, day: date, file_label: str) -> None:
    """Refuse a snapshot older than one already applied: intervals must be built in day order."""
    conn.execute(sql.SQL("lock table {} in share row exclusive mode").format(_ident(table)))
    latest = conn.execute(
        sql.SQL("select max(greatest(last_seen_on, removed_on)) from {}").format(_ident(table))
    ).fetchone()[0]
    if latest is not None and latest > day:
        raise FileFailure(
            reasons.SNAPSHOT_OUT_OF_ORDER,
            f"{file_label} is the snapshot of {day} but {table} already holds the snapshot of {latest}; "
            "snapshots must be applied in date order (rebuild the intervals from the earliest day)",
        )


def guard_size(conn: psycopg.Connection, feed: str, batch_id: int, bounds: CountBounds, file_label: str) -> None:
    """Refuse a snapshot far smaller than the trailing ones before it can close any listing.

    A truncated export (a court's job stopped half-way) looks like thousands of removals; once
    applied, the closed intervals would reach the marts. So the accepted entries in ``_stage``
    must reach ``min_ratio_to_median`` of the median of the previous ``trailing_deliveries``
    loaded snapshots (once ``min_history`` of them exist). The build's delivery suite checks the
    same bounds again, but by then the merge would already have happened.
    """
    history = [n for (n,) in conn.execute(
        "select rows_loaded from quality.batch_manifest where feed = %s and status = 'loaded'"
        " and batch_id <> %s order by delivery_date desc, batch_id desc limit %s",
        (feed, batch_id, bounds.trailing_deliveries),
    )]
    if len(history) < bounds.min_history:
        return
    accepted = conn.execute("select count(*) from _stage where _reasons is null").fetchone()[0]
    median = statistics.median(history)
    floor = math.ceil(median * bounds.min_ratio_to_median)
    if accepted < floor:
        raise FileFailure(
            reasons.SNAPSHOT_TOO_SMALL,
            f"{file_label} holds {accepted} valid entries, below {floor} ({bounds.min_ratio_to_median:.0%} of the "
            f"median {median:g} of the last {len(history)} snapshots); applying it would close the listings it "
            "lacks, so nothing was applied. Ask the court for the complete snapshot and deliver it again",
        )


def apply_snapshot(conn: psycopg.Connection, table: str, key: tuple[str, ...], columns: list[str],
                   day: date) -> dict[str, int]:
    """Merge the accepted rows of ``_stage`` into ``table``; returns counts per kind of change."""
    t = _ident(table)
    key_eq = sql.SQL(" and ").join(
        sql.SQL("j.{k} = s.{k}").format(k=sql.Identifier(k)) for k in key
    )
    # a quarantined record protects the open entries it may be: those agreeing with it on every
    # key column it still carries (an invalid party leaves the party key empty, not the case)
    carried = sql.SQL(", ").join(sql.SQL("s.{}").format(sql.Identifier(k)) for k in key)
    partial_eq = sql.SQL(" and ").join(
        sql.SQL("(s.{k} is null or s.{k} = j.{k})").format(k=sql.Identifier(k)) for k in key
    )
    cur = conn.execute(sql.SQL(
        "update {t} j set previous_seen_on = j.last_seen_on, last_seen_on = %(day)s from _stage s"
        " where s._reasons is null and j.removed_on is null and {key_eq}"
        " and j.content_hash = s.content_hash"
    ).format(t=t, key_eq=key_eq), {"day": day})
    unchanged = cur.rowcount
    cur = conn.execute(sql.SQL(
        "update {t} j set removed_on = %(day)s where j.removed_on is null"
        " and not exists (select 1 from _stage s where s._reasons is null and {key_eq}"
        "                 and s.content_hash = j.content_hash)"
        " and not exists (select 1 from _stage s where s._reasons is not null"
        "                 and not ('DUPLICATE_KEY' = any(s._reasons))"
        "                 and num_nonnulls({carried}) > 0 and {partial_eq})"
    ).format(t=t, key_eq=key_eq, carried=carried, partial_eq=partial_eq), {"day": day})
    closed = cur.rowcount
    cols = sql.SQL(", ").join(map(sql.Identifier, columns))
    cur = conn.execute(sql.SQL(
        "insert into {t} ({cols}, first_seen_on, last_seen_on, removed_on)"
        " select {cols}, %(day)s, %(day)s, null from _stage s where s._reasons is null"
        " and not exists (select 1 from {t} j where j.removed_on is null and {key_eq})"
    ).format(t=t, cols=cols, key_eq=key_eq), {"day": day})
    inserted = cur.rowcount
    # Entries opened today whose key was also closed today changed rather than came or went.
    # Asked as a set operation on purpose: right after the insert the table's statistics are
    # stale (the loader may not ANALYZE), and a correlated EXISTS planned as a nested loop
    # with a sequential scan per new entry was quadratic in the snapshot size.
    keys = sql.SQL(", ").join(map(sql.Identifier, key))
    changed = conn.execute(sql.SQL(
        "select count(*) from ("
        " select {keys} from {t} where first_seen_on = %(day)s and removed_on is null"
        " intersect"
        " select {keys} from {t} where removed_on = %(day)s) as both_days"
    ).format(t=t, keys=keys), {"day": day}).fetchone()[0]
    return {"new": inserted - changed, "changed": changed, "unchanged": unchanged,
            "removed": closed - changed}


def undo_day(conn: psycopg.Connection, table: str, day: date, previous_day: date | None) -> dict[str, int]:
    """Take back the snapshot of ``day`` (the latest applied); returns counts per kind of undo.

    ``previous_day`` (the snapshot applied before ``day``) is the fallback for versions carried
    before ``previous_seen_on`` existed.
    """
    t = _ident(table)
    params = {"day": day, "previous": previous_day}
    opened = conn.execute(sql.SQL("delete from {t} where first_seen_on = %(day)s").format(t=t), params).rowcount
    reopened = conn.execute(sql.SQL("update {t} set removed_on = null where removed_on = %(day)s")
                            .format(t=t), params).rowcount
    carried = conn.execute(sql.SQL(
        "update {t} set last_seen_on = coalesce(previous_seen_on, %(previous)s::date, first_seen_on),"
        " previous_seen_on = null where last_seen_on = %(day)s"
    ).format(t=t), params).rowcount
    return {"withdrawn": opened, "reopened": reopened, "carried": carried}


def _ident(table: str) -> sql.Identifier:
    return sql.Identifier(*table.split("."))

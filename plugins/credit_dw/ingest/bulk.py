"""A load that is large against its raw table builds the table's indexes once, at its end.

Why: a row COPYed into a raw table is also inserted into each of its B-trees at a random place.
While the indexes fit the server's cache that costs little, but a register's first delivery
(millions of distinct USCCs, registration numbers and organisation codes, five B-trees) made the
store seven times the COPY: 43.0 s against 5.8 s for 974k rows, and worse as the indexes
outgrow the cache. Building an index sorts once (16 s for all five over the same rows). So a
file at least ``REBUILD_SHARE`` of the table's current size has the table's non-unique indexes
dropped in its transaction and built again before it commits (``raw.defer_indexes`` and
``raw.restore_indexes``, V140: the loader role runs no DDL of its own); the night's deltas, a
sliver of their tables, keep them. PostgreSQL's own advice for bulk loads ("Populating a
Database: remove indexes"), in the load's transaction so that a failed load loses nothing.

The price: the dropped indexes take the table's exclusive lock until the load commits, so a
reader of that raw table (a build) waits for a large load instead of reading beside it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

# rebuild when the file's bytes are at least this share of the table's (heap) bytes: a raw row
# takes about 1.3 bytes of heap per byte of CSV, so this is a file of at least ~40 % of the
# table's rows; at 1M register rows rebuilding paid from ~45 % (16 s against 36 s per 1M rows)
REBUILD_SHARE = 0.5


def large_against(conn: psycopg.Connection, table: str, file_bytes: int) -> bool:
    """Is a file of ``file_bytes`` large against ``table`` as it stands (an empty table: always)?"""
    heap = conn.execute("select pg_relation_size(%s::regclass)", (table,)).fetchone()[0]
    return file_bytes >= REBUILD_SHARE * heap


@contextmanager
def indexes_built_at_end(conn: psycopg.Connection, table: str, rebuild: bool) -> Iterator[int]:
    """Inside the load's transaction: with ``rebuild``, drop ``table``'s non-unique indexes and
    build them again when the block ends normally; yields how many were dropped.

    On an exception nothing is rebuilt: the transaction rolls back, and the drop with it.
    """
    dropped = 0
    if rebuild:
        dropped = conn.execute("select raw.defer_indexes(%s::regclass)", (table,)).fetchone()[0]
    yield dropped
    if dropped:
        conn.execute("select raw.restore_indexes(%s::regclass)", (table,))

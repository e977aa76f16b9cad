"""A large load builds its raw table's indexes again at its end; nothing can lose them (V140).

``credit_dw.ingest.bulk``: a file large against its table has the table's non-unique indexes
dropped in the load's transaction and built again before it commits. The loader role does that
only through ``raw.defer_indexes`` and ``raw.restore_indexes``; these tests hold it to the
guarantees the migration states: the same indexes after the load, none lost by a load that
forgets to restore or rolls back, nothing outside ``raw``, and no way for the caller to change
what is rebuilt.
"""

from __future__ import annotations

from datetime import date

import psycopg
import pytest
from test_ingest_support import query

from credit_dw.config import PROJECT_ROOT
from credit_dw.ingest import bulk, ingest_delivery

SAMPLES = PROJECT_ROOT / "samples" / "landing"


def _indexes(dsn: str, table: str) -> dict[str, tuple[int, str]]:
    """name -> (oid, definition) of ``table``'s indexes: a rebuilt index has a new oid."""
    return {name: (oid, definition) for name, oid, definition in query(
        dsn, "select c.relname, c.oid::int, pg_get_indexdef(c.oid) from pg_index i join pg_class c"
             " on c.oid = i.indexrelid where i.indrelid = %s::regclass", (table,))}


def test_a_large_load_builds_the_same_indexes_again_and_a_small_one_keeps_them(fresh_dsn, monkeypatch):
    before = _indexes(fresh_dsn, "raw.registration")
    assert len(before) >= 5
    ingest_delivery("registration", date(2026, 11, 20), dsn=fresh_dsn, landing_root=SAMPLES)
    after_first = _indexes(fresh_dsn, "raw.registration")
    # into an empty table: rebuilt, under the same names with the same definitions
    assert {n: d for n, (_, d) in after_first.items()} == {n: d for n, (_, d) in before.items()}
    assert all(after_first[n][0] != before[n][0] for n in before)
    plan = query(fresh_dsn, "explain select * from raw.registration where registration_number = 'x'")
    assert "registration_regno" in str(plan)  # the rebuilt index is valid and used
    with psycopg.connect(fresh_dsn) as conn:
        assert not bulk.large_against(conn, "raw.registration", 10)
    monkeypatch.setattr(bulk, "REBUILD_SHARE", 10.0**9)  # the next day is a small delta of a large table
    ingest_delivery("registration", date(2026, 11, 21), dsn=fresh_dsn, landing_root=SAMPLES)
    assert _indexes(fresh_dsn, "raw.registration") == after_first
    loaded = query(fresh_dsn, "select count(*) from raw.registration")[0][0]
    manifest = query(fresh_dsn, "select sum(rows_loaded) from quality.batch_manifest where feed = 'registration'")
    assert loaded == manifest[0][0] > 0


def test_the_loader_cannot_commit_a_table_without_its_indexes(fresh_dsn):
    before = _indexes(fresh_dsn, "raw.penalty")
    with psycopg.connect(fresh_dsn) as conn:
        conn.execute("set role loader")
        assert conn.execute("select raw.defer_indexes('raw.penalty')").fetchone()[0] == len(before)
        with pytest.raises(psycopg.errors.RaiseException, match="dropped for a bulk load and not built again"):
            conn.commit()
    assert _indexes(fresh_dsn, "raw.penalty") == before
    with psycopg.connect(fresh_dsn) as conn:  # a load that fails rolls the drop back
        conn.execute("set role loader")
        conn.execute("select raw.defer_indexes('raw.penalty')")
        conn.rollback()
    assert _indexes(fresh_dsn, "raw.penalty") == before


def test_the_loader_can_neither_defer_outside_raw_nor_change_what_is_rebuilt(fresh_dsn):
    with psycopg.connect(fresh_dsn) as conn:
        conn.execute("set role loader")
        with pytest.raises(psycopg.errors.RaiseException, match="is not a raw table"):
            conn.execute("select raw.defer_indexes('quality.batch_manifest')")
        conn.rollback()
        conn.execute("set role loader")
        conn.execute("select raw.defer_indexes('raw.penalty')")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("insert into pg_temp.deferred_index values ('raw.penalty'::regclass, 'drop table raw.tax')")
        conn.rollback()
        conn.execute("set role loader")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select raw.check_indexes_restored()")
        conn.rollback()
    assert len(_indexes(fresh_dsn, "raw.penalty")) >= 2

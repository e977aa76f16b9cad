"""The feed specs against what the warehouse really has: raw tables, GX rules, purge keys, sources.

Each check names the difference, so a spec and a migration (or a hand-kept list) cannot drift apart
without a failing test that says which column, value or key disagrees.
"""

from __future__ import annotations

import re

import psycopg
import pytest

from credit_dw.feeds import all_specs, schema

TABLES = schema.file_kinds()


def _columns(dsn: str, table: str) -> dict[str, tuple[str, bool, str | None]]:
    schema_name, name = table.split(".")
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "select a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid)"
            " from pg_attribute a left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum"
            " where a.attrelid = %s::regclass and a.attnum > 0 and not a.attisdropped order by a.attnum",
            (f"{schema_name}.{name}",),
        ).fetchall()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def _normalise_default(expr: str | None) -> str | None:
    return None if expr is None else re.sub(r"::[a-z\[\] ]+$", "", expr)


@pytest.mark.parametrize("table", sorted(TABLES))
def test_raw_table_matches_its_spec(warehouse_dsn, table):
    """Columns, types, NOT NULL and defaults of the migrated table equal what the spec implies."""
    _, kind = TABLES[table]
    have = _columns(warehouse_dsn, table)
    want = schema.raw_columns(kind)
    problems = [f"{table}.{c}: in the spec, not in the table" for c in want if c not in have]
    problems += [f"{table}.{c}: in the table, not mapped by the spec (map it, or drop it in a migration)"
                 for c in have if c not in want]
    for name, col in want.items():
        if name not in have:
            continue
        sql_type, not_null, default = have[name]
        if sql_type != col.sql_type:
            problems.append(f"{table}.{name}: table type {sql_type}, spec implies {col.sql_type}")
        if not_null != col.not_null:
            problems.append(f"{table}.{name}: table {'NOT NULL' if not_null else 'nullable'}, spec implies "
                            f"{'NOT NULL (set in every field set)' if col.not_null else 'nullable'}")
        if _normalise_default(default) != col.default:
            problems.append(f"{table}.{name}: table default {default}, spec implies {col.default}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("table", sorted(TABLES))
def test_raw_check_constraints_list_the_spec_values(warehouse_dsn, table):
    """A CHECK (col in (...)) in a migration must allow exactly the spec's values (defined once, there)."""
    _, kind = TABLES[table]
    with psycopg.connect(warehouse_dsn) as conn:
        checks = [r[0] for r in conn.execute(
            "select pg_get_constraintdef(oid) from pg_constraint where conrelid = %s::regclass and contype = 'c'",
            (table,)).fetchall()]
    spec_values = schema.value_sets(kind)
    problems = []
    for check in checks:
        m = re.match(r"CHECK \(\(?(\w+) = ANY \(ARRAY\[(.*)\]\)\)?\)", check)
        if not m:
            continue
        column, values = m.group(1), re.findall(r"'([^']*)'::text", m.group(2))
        if set(values) != set(spec_values.get(column, ())):
            problems.append(f"{table}.{column}: CHECK allows {sorted(values)}, "
                            f"the spec {sorted(spec_values.get(column, ()))}")
    assert not problems, "\n".join(problems)


def test_generated_ddl_creates_the_table_the_spec_describes(warehouse_dsn):
    """create_table_sql (what init runs for a feed without a table) yields exactly raw_columns."""
    with psycopg.connect(warehouse_dsn) as conn:
        for table, (_, kind) in TABLES.items():
            conn.execute("create schema if not exists ddl_check")
            ddl = schema.create_table_sql(kind).replace(f"{table} ", f"ddl_check.{table.split('.')[1]} ")
            ddl = ddl.replace(f"on {table} (", f"on ddl_check.{table.split('.')[1]} (")
            conn.execute(ddl)
        conn.commit()
    try:
        for table, (_, kind) in TABLES.items():
            have = _columns(warehouse_dsn, f"ddl_check.{table.split('.')[1]}")
            want = {c.name: (c.sql_type, c.not_null, c.default) for c in schema.raw_columns(kind).values()}
            assert {n: (t, nn, _normalise_default(d)) for n, (t, nn, d) in have.items()} == want, table
    finally:
        with psycopg.connect(warehouse_dsn) as conn:
            conn.execute("drop schema ddl_check cascade")


def test_every_feed_has_a_raw_table_after_init(warehouse_dsn):
    with psycopg.connect(warehouse_dsn) as conn:
        missing = [t for spec in all_specs() for t in spec.raw_tables
                   if conn.execute("select to_regclass(%s)", (t,)).fetchone()[0] is None]
    assert not missing

"""Database connections and the warehouse bootstrap (database, schemas, roles, migrations).

Why a small migration runner instead of Alembic or Flyway: the non-dbt schema is a handful of
plain SQL files that DBAs review as SQL; a 40-line runner keeps them ordered (``V###__*.sql``,
applied once, recorded with a checksum in ``governance.schema_migration``) and re-applies the
repeatable ``R__*.sql`` files (grants) on every run. A feed whose raw table does not exist
yet gets the table its spec describes (``credit_dw.feeds.schema``) before the grants. Flyway
needs a JVM; Alembic would wrap the same SQL in Python. Everything runs under an advisory
lock, so concurrent inits are safe.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from credit_dw import cluster
from credit_dw.config import LocalCluster, external_dsn, warehouse_dsn
from credit_dw.feeds.schema import create_missing_raw_tables

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_MIGRATION_LOCK = 0x63726477  # "crdw"


def connect(dsn: str | None = None, **kwargs) -> psycopg.Connection:
    return psycopg.connect(dsn or warehouse_dsn(), **kwargs)


@contextmanager
def transaction(dsn: str | None = None, role: str | None = None) -> Iterator[psycopg.Connection]:
    """One transaction; with ``role`` the work runs under that least-privilege role."""
    with connect(dsn) as conn, conn.transaction():
        if role:
            conn.execute(sql.SQL("set local role {}").format(sql.Identifier(role)))
        yield conn


def ensure_server() -> str:
    """Start the local cluster unless WAREHOUSE_DSN points elsewhere; returns the warehouse DSN."""
    if external_dsn() is None:
        cluster.start(LocalCluster.from_env())
    return warehouse_dsn()


def ensure_database(dsn: str) -> bool:
    """Create the DSN's database if missing (connecting to the server's maintenance db)."""
    params = conninfo_to_dict(dsn)
    dbname = params.get("dbname") or "postgres"
    admin = make_conninfo(dsn, dbname="postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        if conn.execute("select 1 from pg_database where datname = %s", (dbname,)).fetchone():
            return False
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(dbname)))
        return True


def migrate(dsn: str) -> list[str]:
    """Apply pending versioned migrations and all repeatable ones; returns what was applied."""
    applied: list[str] = []
    with psycopg.connect(dsn) as conn:
        conn.execute("select pg_advisory_lock(%s)", (_MIGRATION_LOCK,))
        conn.execute("create schema if not exists governance")
        conn.execute(
            "create table if not exists governance.schema_migration ("
            " version text primary key, checksum text not null,"
            " applied_at timestamptz not null default now())"
        )
        conn.commit()
        done = dict(conn.execute("select version, checksum from governance.schema_migration").fetchall())
        for path in sorted(MIGRATIONS_DIR.glob("V*__*.sql")):
            text = path.read_text()
            checksum = hashlib.sha256(text.encode()).hexdigest()
            version = path.stem
            if version in done:
                if done[version] != checksum:
                    raise RuntimeError(
                        f"Migration {path.name} changed after it was applied. Add a new V###__ file "
                        "instead of editing an applied one."
                    )
                continue
            with conn.transaction():
                conn.execute(text)
                conn.execute(
                    "insert into governance.schema_migration (version, checksum) values (%s, %s)",
                    (version, checksum),
                )
            applied.append(path.name)
        # a feed without a table yet gets the one its spec describes (before the grants)
        with conn.transaction():
            applied += [f"raw table {t} from its feed spec" for t in create_missing_raw_tables(conn)]
        for path in sorted(MIGRATIONS_DIR.glob("R__*.sql")):
            with conn.transaction():
                conn.execute(path.read_text())
            applied.append(path.name)
        conn.execute("select pg_advisory_unlock(%s)", (_MIGRATION_LOCK,))
    return applied


def init_warehouse(dsn: str | None = None) -> list[str]:
    """Bootstrap or upgrade the configured warehouse idempotently."""
    dsn = dsn or ensure_server()
    ensure_database(dsn)
    return migrate(dsn)

"""Shared fixtures: every test session gets freshly created databases on a real PostgreSQL.

The server is the one ``WAREHOUSE_DSN`` names, or the project-managed cluster (started here if
needed). Each session creates ``credit_dw_test_<random>`` (and its Airflow metadata sibling),
bootstraps it with the real migrations and drops it afterwards.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from credit_dw import db


def _server_dsn() -> str:
    return db.ensure_server()


def edit_xlsx_sheet(path: Path, edit: Callable[[bytes], bytes]) -> None:
    """Rewrite the first sheet's XML of the workbook at ``path`` (as other writers leave it)."""
    with zipfile.ZipFile(path) as src:
        parts = {info.filename: src.read(info) for info in src.infolist()}
    parts["xl/worksheets/sheet1.xml"] = edit(parts["xl/worksheets/sheet1.xml"])
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for name, data in parts.items():
            out.writestr(name, data)


def create_fresh_database(prefix: str = "credit_dw_test") -> str:
    """Create an empty, bootstrapped warehouse database and return its DSN."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    dsn = make_conninfo(_server_dsn(), dbname=name)
    db.ensure_database(dsn)
    db.migrate(dsn)
    return dsn


def drop_database(dsn: str) -> None:
    name = psycopg.conninfo.conninfo_to_dict(dsn)["dbname"]
    with psycopg.connect(make_conninfo(dsn, dbname="postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


@pytest.fixture(scope="session", autouse=True)
def _test_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Secrets and folders the code expects, never the developer's own state under var/."""
    os.environ.setdefault("CREDIT_DW_PII_KEY", "test-only-key-" + secrets.token_hex(8))
    os.environ["CREDIT_DW_REPORTS"] = str(tmp_path_factory.mktemp("reports"))
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    yield


@pytest.fixture(scope="session")
def warehouse_dsn() -> Iterator[str]:
    """A fresh, migrated warehouse database for the whole session; WAREHOUSE_DSN points at it."""
    dsn = create_fresh_database()
    previous = os.environ.get("WAREHOUSE_DSN")
    os.environ["WAREHOUSE_DSN"] = dsn
    yield dsn
    if previous is None:
        os.environ.pop("WAREHOUSE_DSN", None)
    else:
        os.environ["WAREHOUSE_DSN"] = previous
    drop_database(dsn)


@pytest.fixture
def fresh_dsn(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh, migrated warehouse database for one test (for tests that need an empty slate)."""
    dsn = create_fresh_database()
    monkeypatch.setenv("WAREHOUSE_DSN", dsn)
    yield dsn
    drop_database(dsn)


@pytest.fixture
def landing_root(tmp_path, monkeypatch: pytest.MonkeyPatch):
    root = tmp_path / "landing"
    root.mkdir()
    monkeypatch.setenv("LANDING_ROOT", str(root))
    return root


@pytest.fixture(scope="module")
def airflow_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Environment for real ``airflow dags test`` runs, on a warehouse of the module's own.

    A fresh warehouse database (so DAG runs neither see nor disturb other tests' data) and
    Airflow's metadata in ``<warehouse db>_airflow`` on the same server (never SQLite),
    migrated once per module; both dropped afterwards. ``env["WAREHOUSE_DSN"]`` names it.
    """
    from credit_dw.airflow_env import airflow_environment, metadata_dsn
    from credit_dw.commands.airflow import airflow_executable
    from credit_dw.orchestration.dbt_group import ensure_manifest

    dsn = create_fresh_database("credit_dw_dagtest")
    # the bundled samples are November 2026 nights: schedule from before them
    base = {**os.environ, "WAREHOUSE_DSN": dsn, "CREDIT_DW_START_DATE": "2026-11-01",
            "AIRFLOW_HOME": str(tmp_path_factory.mktemp("airflow_home"))}
    saved = dict(os.environ)
    os.environ.update(base)
    try:
        env = airflow_environment()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    db.ensure_database(metadata_dsn(dsn))
    subprocess.run([airflow_executable(), "db", "migrate"], env=env, check=True, capture_output=True)
    ensure_manifest()  # the build DAG renders from the manifest
    yield env
    drop_database(metadata_dsn(dsn))
    drop_database(dsn)


def run_dag(env: dict[str, str], dag_id: str, day: str, log_dir) -> subprocess.CompletedProcess:
    """``airflow dags test DAG DAY``; the log is kept next to the test's tmp files."""

    from credit_dw.commands.airflow import airflow_executable

    conf = ["--conf", f'{{"as_of": "{day}"}}'] if dag_id == "build_warehouse" else []
    done = subprocess.run([airflow_executable(), "dags", "test", dag_id, day, *conf], env=env,
                          capture_output=True, text=True, timeout=1200)
    (log_dir / f"{dag_id}_{day}.log").write_text(done.stdout + done.stderr)
    return done

"""``credit-dw airflow ARGS...``: run any Airflow command in the project's environment.

Starts the warehouse if needed, creates and migrates Airflow's metadata database, then runs
``airflow ARGS`` with the environment from ``credit_dw.airflow_env`` (e.g.
``credit-dw airflow standalone`` or ``credit-dw airflow dags test ingest_penalty 2026-11-20``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

from credit_dw import db
from credit_dw.airflow_env import airflow_environment, metadata_dsn


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("airflow", help="run an Airflow command with the project's environment")
    p.add_argument("airflow_args", nargs=argparse.REMAINDER, help="arguments for `airflow`")
    p.set_defaults(handler=_airflow)


def airflow_executable() -> str:
    here = Path(sys.executable).parent / "airflow"
    return str(here) if here.exists() else (shutil.which("airflow") or "airflow")


def prepare_airflow() -> dict[str, str]:
    """Warehouse up, PII key, dbt manifest, metadata db migrated (idempotent); returns the env."""
    from credit_dw.config import ensure_local_pii_key, record_deployment_date
    from credit_dw.orchestration.dbt_group import ensure_manifest

    db.ensure_server()
    ensure_local_pii_key()
    record_deployment_date()  # the first night the ingest DAGs schedule, unless CREDIT_DW_START_DATE says
    ensure_manifest()
    env = airflow_environment()
    if db.ensure_database(metadata_dsn()) or not _migrated(env):
        subprocess.run([airflow_executable(), "db", "migrate"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        Path(env["AIRFLOW_HOME"], ".migrated").write_text(metadata_dsn())
    return env


def _migrated(env: dict[str, str]) -> bool:
    marker = Path(env["AIRFLOW_HOME"], ".migrated")
    return marker.exists() and marker.read_text() == metadata_dsn()


def run_airflow(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([airflow_executable(), *args], env=prepare_airflow(), **kwargs)


def _airflow(args: argparse.Namespace) -> int:
    env = prepare_airflow()
    os.execvpe(airflow_executable(), [airflow_executable(), *args.airflow_args], env)
    return 0  # not reached

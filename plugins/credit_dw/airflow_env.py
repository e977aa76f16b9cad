"""The environment Airflow runs in, derived from the warehouse settings.

Airflow is configured only through environment variables: static ones come from the Makefile,
the database-dependent ones are derived here from the same DSN the CLI uses, so a user who sets
``WAREHOUSE_DSN`` moves ingestion, dbt, GX and Airflow's own metadata together. The metadata
database sits on the same server as the warehouse (``<warehouse db>_airflow``), never SQLite.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from urllib.parse import quote

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from credit_dw.config import PROJECT_ROOT, var_dir, warehouse_dsn

STATIC = {
    "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
    "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__DEFAULT_TIMEZONE": "Asia/Shanghai",
    "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
    "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
    "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "GX_ANALYTICS_ENABLED": "false",
}


def metadata_dsn(dsn: str | None = None) -> str:
    """libpq DSN of Airflow's metadata database: ``<warehouse db>_airflow`` on the same server."""
    dsn = dsn or warehouse_dsn()
    name = conninfo_to_dict(dsn).get("dbname") or "credit_dw"
    return make_conninfo(dsn, dbname=f"{name}_airflow")


def sqlalchemy_url(dsn: str) -> str:
    p = conninfo_to_dict(dsn)
    auth = quote(p.get("user", "postgres"), safe="")
    if p.get("password"):
        auth += ":" + quote(p["password"], safe="")
    return f"postgresql+psycopg://{auth}@{p.get('host', '127.0.0.1')}:{p.get('port', 5432)}/{p['dbname']}"


def connection_uri(dsn: str) -> str:
    """``AIRFLOW_CONN_WAREHOUSE``: the warehouse as an Airflow connection URI."""
    p = conninfo_to_dict(dsn)
    auth = quote(p.get("user", "postgres"), safe="")
    # Cosmos' Postgres profile mapping insists on a password; trust auth ignores it.
    auth += ":" + quote(p.get("password") or "unused", safe="")
    return f"postgres://{auth}@{p.get('host', '127.0.0.1')}:{p.get('port', 5432)}/{p['dbname']}"


def airflow_environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """Full process environment for an Airflow command (CLI, standalone, dags test)."""
    env = dict(os.environ if base is None else base)
    for key, value in STATIC.items():
        env.setdefault(key, value)
    env.setdefault("AIRFLOW_HOME", str(var_dir() / "airflow"))
    dsn = warehouse_dsn()
    env["WAREHOUSE_DSN"] = dsn
    env.setdefault("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", sqlalchemy_url(metadata_dsn(dsn)))
    env["AIRFLOW_CONN_WAREHOUSE"] = connection_uri(dsn)
    # dbt's profile (used by Cosmos tasks too) reads DBT_*: derive them from the same DSN, or
    # dbt would quietly build in the profile's default database instead of this warehouse.
    from credit_dw.dbt import dbt_env

    env.update(dbt_env(dsn))
    # `airflow standalone` starts its components as `airflow …` from PATH: put this venv first.
    venv_bin = str(Path(sys.executable).parent)
    if venv_bin not in env.get("PATH", "").split(os.pathsep):
        env["PATH"] = os.pathsep.join(filter(None, [venv_bin, env.get("PATH")]))
    plugins = str(PROJECT_ROOT / "plugins")
    if plugins not in env.get("PYTHONPATH", "").split(os.pathsep):
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [plugins, env.get("PYTHONPATH")]))
    Path(env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    return env

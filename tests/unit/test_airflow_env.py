"""The environment Airflow runs in is derived from the warehouse settings, nothing else."""

from __future__ import annotations

import sys
from pathlib import Path

from credit_dw.airflow_env import airflow_environment


def test_environment_follows_warehouse_dsn(monkeypatch, tmp_path):
    monkeypatch.setenv("WAREHOUSE_DSN", "postgresql://dw:s3cret@db.example:6543/credit")
    monkeypatch.setenv("CREDIT_DW_VAR", str(tmp_path))
    monkeypatch.delenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", raising=False)
    monkeypatch.delenv("AIRFLOW_HOME", raising=False)
    env = airflow_environment()
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == "postgresql+psycopg://dw:s3cret@db.example:6543/credit_airflow"
    assert env["AIRFLOW_CONN_WAREHOUSE"] == "postgres://dw:s3cret@db.example:6543/credit"
    assert (env["DBT_HOST"], env["DBT_PORT"], env["DBT_DBNAME"]) == ("db.example", "6543", "credit")
    assert env["AIRFLOW__CORE__DEFAULT_TIMEZONE"] == "Asia/Shanghai"
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    assert env["AIRFLOW_HOME"] == str(tmp_path / "airflow")
    # `airflow standalone` starts its components from PATH: this venv's airflow must come first
    assert env["PATH"].split(":")[0] == str(Path(sys.executable).parent)

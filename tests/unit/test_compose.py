"""docker-compose.yml cannot be started here (no Docker engine), so its wiring is checked."""

from __future__ import annotations

import re

import yaml

from credit_dw.config import PROJECT_ROOT

COMPOSE = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
AIRFLOW_SERVICES = ["airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"]


def test_services_present():
    assert {"warehouse", "airflow-init", *AIRFLOW_SERVICES} <= set(COMPOSE["services"])


def test_airflow_services_share_one_environment_and_secret():
    envs = [COMPOSE["services"][s]["environment"] for s in AIRFLOW_SERVICES]
    assert all(e == envs[0] for e in envs)
    env = envs[0]
    assert env["AIRFLOW__API_AUTH__JWT_SECRET"].startswith("${")  # from the environment, not a literal
    assert env["AIRFLOW__CORE__DEFAULT_TIMEZONE"] == "Asia/Shanghai"
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    assert "postgresql" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]  # metadata not in SQLite


def test_no_literal_secrets():
    text = (PROJECT_ROOT / "docker-compose.yml").read_text()
    for match in re.finditer(r"^\s*[A-Z_]*(PASSWORD|SECRET|PII_KEY)[A-Z_]*:\s*(\S+)", text, re.MULTILINE):
        assert match.group(2).startswith("${"), match.group(0)


def test_mounted_paths_exist_in_repo():
    for volume in COMPOSE["x-airflow-common"]["volumes"]:
        source = volume.split(":")[0]
        if source.startswith("./"):
            assert (PROJECT_ROOT / source).exists(), source

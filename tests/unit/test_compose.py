"""docker-compose.yml cannot be started here (no Docker engine), so its wiring is checked.

Values are interpolated the way compose does (``${VAR}``, ``${VAR:-default}``, ``${VAR:?error}``,
``$$``) with the variables of ``.env.example``, so the checks see what the containers would see.
The init service's command itself runs for real in tests/integration/test_deploy_init.py.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
import yaml

from credit_dw.config import PROJECT_ROOT

TEXT = (PROJECT_ROOT / "docker-compose.yml").read_text()
COMPOSE = yaml.safe_load(TEXT)
SERVICES = COMPOSE["services"]
AIRFLOW_SERVICES = ["airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer",
                    "airflow-worker"]
_VARIABLE = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:-|:\?)(?P<arg>[^}]*))?\}")


def _env_example() -> dict[str, str]:
    pairs = {}
    for line in (PROJECT_ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            pairs[key.strip()] = value.strip()
    return pairs


def interpolate(value, env: dict[str, str]):
    """Compose's variable substitution, recursively; a missing ``${X:?msg}`` raises KeyError."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def one(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group("name", "op", "arg")
        if env.get(name):
            return env[name]
        if op == ":?":
            raise KeyError(f"{name}: {arg}")
        return arg if op == ":-" else ""

    return _VARIABLE.sub(one, value)


ENV = _env_example()
SEEN = interpolate(SERVICES, ENV)


def test_services_present():
    assert {"postgres", "redis", "airflow-init", *AIRFLOW_SERVICES} <= set(SERVICES)


def test_celery_executor_with_redis_broker_and_postgres_results():
    env = SEEN["airflow-scheduler"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    broker = urlsplit(env["AIRFLOW__CELERY__BROKER_URL"])
    assert broker.scheme == "redis" and broker.hostname == "redis"
    assert broker.password == ENV["REDIS_PASSWORD"]
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"] == "db+" + env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg://")
    assert SERVICES["airflow-worker"]["command"] == ["airflow", "celery", "worker"]


def test_worker_scales_out():
    worker = SERVICES["airflow-worker"]
    assert "container_name" not in worker and "ports" not in worker  # replicas would collide
    assert "celery@$${HOSTNAME}" in " ".join(worker["healthcheck"]["test"])  # each replica pings itself
    for name in AIRFLOW_SERVICES:
        assert "container_name" not in SERVICES[name], name


def test_every_airflow_service_sees_the_same_environment():
    envs = {name: SEEN[name]["environment"] for name in AIRFLOW_SERVICES}
    first = envs["airflow-apiserver"]
    for name, env in envs.items():
        assert env == first, name
    init = SEEN["airflow-init"]["environment"]
    assert set(init) - set(first) == {"WAREHOUSE_ADMIN_DSN", "AIRFLOW_ADMIN_USERNAME", "AIRFLOW_ADMIN_PASSWORD"}
    assert all(init[key] == value for key, value in first.items())


def test_components_share_the_jwt_secret_and_reach_the_api_server():
    env = SEEN["airflow-worker"]["environment"]
    assert env["AIRFLOW__API_AUTH__JWT_SECRET"] == ENV["AIRFLOW_JWT_SECRET"]
    api = urlsplit(env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
    assert api.hostname == "airflow-apiserver" and api.path == "/execution/"
    published = SEEN["airflow-apiserver"]["ports"][0].rsplit(":", 1)[1]
    assert api.port == int(published)  # the container port the api-server listens on


def test_one_warehouse_login_everywhere_and_it_is_not_the_superuser():
    env = SEEN["airflow-worker"]["environment"]
    dsn = urlsplit(env["WAREHOUSE_DSN"])
    conn = urlsplit(env["AIRFLOW_CONN_WAREHOUSE"])
    for url in (dsn, conn):
        assert (url.hostname, url.port or 5432, url.username, url.password) == (
            env["DBT_HOST"], int(env["DBT_PORT"]), env["DBT_USER"], env["DBT_PASSWORD"])
        assert url.path.lstrip("/") == env["DBT_DBNAME"]
    superuser = SEEN["postgres"]["environment"]["POSTGRES_USER"]
    assert dsn.username != superuser
    admin = urlsplit(SEEN["airflow-init"]["environment"]["WAREHOUSE_ADMIN_DSN"])
    assert admin.username == superuser
    metadata = urlsplit(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    assert metadata.username not in (superuser, dsn.username)  # Airflow's login cannot touch the warehouse
    assert metadata.path.lstrip("/") == f"{env['DBT_DBNAME']}_airflow"


def test_init_runs_the_bootstrap_command_that_exists():
    from credit_dw.cli import build_parser

    command = SERVICES["airflow-init"]["command"]
    assert command == ["credit-dw", "bootstrap"]
    assert build_parser().parse_args(command[1:]).command == "bootstrap"
    for name in AIRFLOW_SERVICES:
        depends = SERVICES[name]["depends_on"]
        assert depends["airflow-init"]["condition"] == "service_completed_successfully", name


def test_ports_bind_to_localhost_unless_configured():
    published = [(name, port) for name, svc in SERVICES.items() for port in svc.get("ports", [])]
    assert published
    for name, port in published:
        assert re.match(r"\$\{[A-Z_]+_BIND:-127\.0\.0\.1\}:", port), (name, port)
    assert SEEN["airflow-apiserver"]["ports"] == ["127.0.0.1:8080:8080"]
    moved = interpolate(SERVICES["airflow-apiserver"]["ports"], {**ENV, "AIRFLOW_API_BIND": "0.0.0.0"})
    assert moved == ["0.0.0.0:8080:8080"]
    assert "ports" not in SERVICES["redis"]


def test_no_literal_secrets():
    """Every password, secret, key and credential in a URL comes from a variable."""
    for line in TEXT.splitlines():
        key, sep, value = line.strip().partition(":")
        if not sep or line.strip().startswith("#"):
            continue
        value = value.strip()
        if re.search(r"PASSWORD|SECRET|_KEY|AUTH$", key):
            assert value.startswith("${"), line
        for userinfo in re.findall(r"://([^@/\s]*)@", value):
            password = userinfo.partition(":")[2]
            assert not password or password.startswith("${"), line


def test_every_required_variable_is_in_env_example():
    required = {m.group("name") for m in _VARIABLE.finditer(TEXT) if m.group("op") == ":?"}
    assert required <= set(ENV), required - set(ENV)
    with pytest.raises(KeyError, match="WAREHOUSE_PASSWORD"):
        interpolate(SERVICES, {k: v for k, v in ENV.items() if k != "WAREHOUSE_PASSWORD"})


def test_image_builds_from_this_repo():
    assert SERVICES["airflow-worker"]["build"] == "."
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    assert "requirements/constraints.txt" in dockerfile and "dbt parse" in dockerfile
    ignored = (PROJECT_ROOT / ".dockerignore").read_text().split()
    assert {".venv", "var", ".env"} <= set(ignored)  # no local state or secrets in the image

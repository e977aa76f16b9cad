"""The compose deployment beyond parsing: its init command and a Celery worker, for real.

docker-compose.yml's ``airflow-init`` runs ``credit-dw bootstrap``; here the same command runs
with the compose file's variables pointed at this machine's PostgreSQL (throw-away databases and
roles with random names, dropped afterwards), then the worker service's command
(``airflow celery worker``) starts against Redis (``credit_dw.broker``: a configured
``CELERY_BROKER_URL`` or a private redis-server) and answers the worker healthcheck's ping.
Passwords are set but not checked (the test server trusts local connections): the roles'
privileges are.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from conftest import _server_dsn, drop_database
from credit_dw import broker
from credit_dw.bootstrap import FAB_AUTH_MANAGER, conninfo_from_url
from credit_dw.commands.airflow import airflow_executable
from credit_dw.commands.demo import stage_samples
from credit_dw.config import PROJECT_ROOT

pytestmark = pytest.mark.slow
CELERY_APP = "airflow.providers.celery.executors.celery_executor.app"  # as in the worker healthcheck


def _url(user: str, password: str, server: dict, dbname: str, scheme: str) -> str:
    return f"{scheme}://{user}:{password}@{server.get('host', '127.0.0.1')}:{server.get('port', 5432)}/{dbname}"


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The compose services' environment, on throw-away databases and roles of this server."""
    admin = _server_dsn()
    server = conninfo_to_dict(admin)
    tag = secrets.token_hex(4)
    warehouse, pipeline, meta = f"credit_dw_deploy_{tag}", f"credit_dw_pipeline_{tag}", f"airflow_{tag}"
    metadata_url = _url(meta, secrets.token_hex(8), server, f"{warehouse}_airflow", "postgresql+psycopg")
    env = {
        **os.environ,
        "WAREHOUSE_ADMIN_DSN": make_conninfo(admin, dbname="postgres"),
        "WAREHOUSE_DSN": _url(pipeline, secrets.token_hex(8), server, warehouse, "postgresql"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url,
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + metadata_url,
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CORE__AUTH_MANAGER": FAB_AUTH_MANAGER,
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW_ADMIN_USERNAME": "admin",
        "AIRFLOW_ADMIN_PASSWORD": secrets.token_hex(8),
        "AIRFLOW_HOME": str(tmp_path_factory.mktemp("airflow_home")),
        "PYTHONPATH": str(PROJECT_ROOT / "plugins"),
    }
    env.pop("AIRFLOW_CONN_WAREHOUSE", None)
    try:
        yield env
    finally:
        drop_database(make_conninfo(admin, dbname=f"{warehouse}_airflow"))
        drop_database(make_conninfo(admin, dbname=warehouse))
        with psycopg.connect(make_conninfo(admin, dbname="postgres"), autocommit=True) as conn:
            for role in (pipeline, meta):
                conn.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(role)))


def _bootstrap(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "credit_dw.cli", "bootstrap"], env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def bootstrapped(deployment) -> dict[str, str]:
    first = _bootstrap(deployment)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "login role credit_dw_pipeline_" in first.stdout and "admin user admin: created" in first.stdout
    return deployment


def test_bootstrap_creates_databases_least_privileged_logins_and_the_admin(bootstrapped):
    pipeline = bootstrapped["WAREHOUSE_DSN"]
    with psycopg.connect(pipeline) as conn:
        row = conn.execute("select rolsuper, rolcreatedb, rolcreaterole from pg_roles where rolname = current_user")
        assert row.fetchone() == (False, False, False)
        granted = conn.execute(
            "select array_agg(b.rolname::text order by b.rolname) from pg_auth_members m"
            " join pg_roles b on b.oid = m.roleid where m.member = current_user::regrole").fetchone()[0]
        assert granted == ["pipeline"]
        for role in ("loader", "transformer", "steward"):  # what the pipeline's steps SET ROLE to
            conn.execute(sql.SQL("set role {}").format(sql.Identifier(role)))
            conn.execute("reset role")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("set role analyst")
    metadata = conninfo_from_url(bootstrapped["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    with psycopg.connect(metadata) as conn:
        owner = conn.execute("select pg_get_userbyid(datdba) from pg_database where datname = current_database()")
        assert owner.fetchone()[0] == conninfo_to_dict(metadata)["user"]
        admins = conn.execute("select u.username from ab_user u join ab_user_role ur on ur.user_id = u.id"
                              " join ab_role r on r.id = ur.role_id where r.name = 'Admin'").fetchall()
        assert admins == [("admin",)]
    with pytest.raises(psycopg.OperationalError, match="permission denied"):  # tasks cannot read Airflow's db
        psycopg.connect(make_conninfo(pipeline, dbname=conninfo_to_dict(metadata)["dbname"]))


def test_the_pipeline_login_can_ingest(bootstrapped, tmp_path):
    """The least-privileged login does a real ingest (loader) and reads its manifest (steward)."""
    landing = tmp_path / "landing"
    stage_samples(PROJECT_ROOT / "samples" / "landing", landing)
    env = {**bootstrapped, "LANDING_ROOT": str(landing)}
    done = subprocess.run([sys.executable, "-m", "credit_dw.cli", "ingest", "registration", "--date", "2026-11-20"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    with psycopg.connect(bootstrapped["WAREHOUSE_DSN"]) as conn:
        loaded = conn.execute("select sum(rows_loaded) from quality.batch_manifest where feed = 'registration'")
        assert loaded.fetchone()[0] > 0


def test_bootstrap_again_changes_nothing(bootstrapped):
    again = _bootstrap(bootstrapped)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "applied: R__grants.sql" in again.stdout  # only the repeatable grants
    assert "admin user admin: exists" in again.stdout


def test_bootstrap_refuses_a_superuser_pipeline_login(bootstrapped):
    """Tasks must never run as a superuser: one clear line, exit status 2, nothing done."""
    superuser = f"su_{secrets.token_hex(4)}"
    with psycopg.connect(bootstrapped["WAREHOUSE_ADMIN_DSN"], autocommit=True) as conn:
        conn.execute(sql.SQL("create role {} superuser").format(sql.Identifier(superuser)))
    try:
        wrong = make_conninfo(bootstrapped["WAREHOUSE_DSN"], user=superuser)
        out = _bootstrap({**bootstrapped, "WAREHOUSE_DSN": wrong})
        assert out.returncode == 2, out.stdout + out.stderr
        assert out.stderr.count("\n") == 1 and "is a superuser" in out.stderr, out.stderr
    finally:
        with psycopg.connect(bootstrapped["WAREHOUSE_ADMIN_DSN"], autocommit=True) as conn:
            conn.execute(sql.SQL("drop role {}").format(sql.Identifier(superuser)))


def _stop(process: subprocess.Popen) -> None:
    """Warm shutdown of the worker's process group (SIGTERM), SIGKILL after 30 s."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def test_celery_worker_comes_up_on_redis_and_answers_the_healthcheck(bootstrapped, tmp_path):
    with broker.celery_broker(tmp_path / "redis") as found:
        if found is None:
            pytest.skip("no Redis: CELERY_BROKER_URL is unset and no redis-server binary is installed")
        print(f"broker: {found.origin}")
        name = f"credit-dw-test-{secrets.token_hex(4)}@localhost"
        env = {**bootstrapped, "AIRFLOW__CELERY__BROKER_URL": found.url}
        log = tmp_path / "worker.log"
        with log.open("w") as out:
            # a queue of its own: on a shared broker it takes no one else's tasks
            worker = subprocess.Popen(
                [airflow_executable(), "celery", "worker", "--queues", f"test_{secrets.token_hex(4)}",
                 "--concurrency", "1", "--celery-hostname", name, "--skip-serve-logs"],
                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + 120
            while f"{name} ready." not in log.read_text(errors="replace"):
                assert worker.poll() is None, "worker exited:\n" + log.read_text()[-3000:]
                assert time.monotonic() < deadline, "worker not ready in 120 s:\n" + log.read_text()[-3000:]
                time.sleep(0.5)
            celery = str(Path(airflow_executable()).with_name("celery"))
            ping = subprocess.run([celery, "--app", CELERY_APP, "inspect", "ping", "-d", name],
                                  env=env, capture_output=True, text=True, timeout=120)
            assert ping.returncode == 0 and "pong" in ping.stdout, ping.stdout + ping.stderr
        finally:
            _stop(worker)
        assert worker.returncode is not None

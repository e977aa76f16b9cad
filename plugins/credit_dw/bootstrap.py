"""Set up or upgrade a deployment: what the compose init service runs (``credit-dw bootstrap``).

Every step is idempotent and reads only the environment, so the same command prepares a
Docker deployment, a bare-metal one, or a test's throw-away databases:

1. the warehouse database named by ``WAREHOUSE_DSN`` exists and its migrations are applied,
   connected as ``WAREHOUSE_ADMIN_DSN`` (a superuser: the migrations create roles, schemas and
   the ``pg_trgm`` extension);
2. ``WAREHOUSE_DSN``'s user is a login role with that DSN's password and membership in
   ``pipeline`` only (``V090__pipeline_role.sql``): tasks never connect as the superuser;
3. Airflow's metadata database (``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN``) exists, owned by a
   login role of its own that has no access to the warehouse, and nobody else may connect;
4. the dbt manifest exists (Cosmos renders the build DAG from it);
5. ``airflow db migrate``;
6. with the FAB auth manager (the compose deployment), the admin user
   ``AIRFLOW_ADMIN_USERNAME`` (default ``admin``) exists with password ``AIRFLOW_ADMIN_PASSWORD``.

Passwords are re-applied on every run, so rotating a secret is: change the env file, rerun.
Without ``WAREHOUSE_ADMIN_DSN`` (one machine, the project-managed cluster) the warehouse DSN's
own user does everything, as ``credit-dw init`` does.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from credit_dw import db
from credit_dw.config import external_dsn, warehouse_dsn

PIPELINE_GROUP = "pipeline"
FAB_AUTH_MANAGER = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"


class BootstrapError(RuntimeError):
    """A setting is missing or wrong; the message names it and what to do."""


@dataclass(frozen=True)
class Login:
    """One database login taken from a DSN: who connects, with what, to which database."""

    user: str
    password: str | None
    dbname: str

    @classmethod
    def from_dsn(cls, dsn: str) -> Login:
        params = conninfo_to_dict(dsn)
        user = params.get("user") or os.environ.get("PGUSER") or _os_user()
        return cls(user=user, password=params.get("password") or None, dbname=params.get("dbname") or user)


def _os_user() -> str:
    import getpass

    return getpass.getuser()


def admin_dsn() -> str:
    """``WAREHOUSE_ADMIN_DSN``, else the warehouse DSN itself (starting the local cluster)."""
    if admin := os.environ.get("WAREHOUSE_ADMIN_DSN"):
        return admin
    return db.ensure_server() if external_dsn() is None else warehouse_dsn()


def metadata_url() -> str:
    """Airflow's metadata URL: ``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN`` or the derived default."""
    from credit_dw.airflow_env import metadata_dsn, sqlalchemy_url

    return os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN") or sqlalchemy_url(metadata_dsn())


def conninfo_from_url(url: str) -> str:
    """libpq DSN of a SQLAlchemy PostgreSQL URL (``postgresql+psycopg://…``)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    params = {"host": parsed.host, "port": parsed.port, "user": parsed.username,
              "password": parsed.password, "dbname": parsed.database}
    return make_conninfo(**{key: value for key, value in params.items() if value})


def metadata_login(url: str) -> Login:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if not parsed.drivername.startswith("postgresql") or not parsed.database:
        raise BootstrapError(
            f"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN must be a PostgreSQL URL with a database name "
            f"(postgresql+psycopg://user:password@host:5432/dbname), not {parsed.render_as_string()}"
        )
    return Login(user=parsed.username or _os_user(), password=parsed.password, dbname=parsed.database)


def ensure_login_role(conn: psycopg.Connection, login: Login, member_of: str | None = None) -> str:
    """Create or update a login role (password from the DSN); returns 'created' or 'updated'."""
    role = sql.Identifier(login.user)
    password = sql.SQL(" password {}").format(sql.Literal(login.password)) if login.password else sql.SQL("")
    exists = conn.execute("select 1 from pg_roles where rolname = %s", (login.user,)).fetchone()
    verb = sql.SQL("alter role {} with login" if exists else "create role {} login")
    conn.execute(verb.format(role) + sql.SQL(" nosuperuser nocreatedb nocreaterole inherit") + password)
    if member_of:
        conn.execute(sql.SQL("grant {} to {}").format(sql.Identifier(member_of), role))
    return "updated" if exists else "created"


def ensure_owned_database(conn: psycopg.Connection, login: Login) -> bool:
    """Create ``login.dbname`` owned by ``login.user`` if missing; only its owner may connect."""
    name = sql.Identifier(login.dbname)
    created = not conn.execute("select 1 from pg_database where datname = %s", (login.dbname,)).fetchone()
    if created:
        conn.execute(sql.SQL("create database {} owner {}").format(name, sql.Identifier(login.user)))
    conn.execute(sql.SQL("revoke connect, temporary on database {} from public").format(name))
    return created


def _is_superuser(conn: psycopg.Connection, user: str) -> bool:
    row = conn.execute("select rolsuper from pg_roles where rolname = %s", (user,)).fetchone()
    return bool(row and row[0])


def bootstrap(say: Callable[[str], None] = print) -> None:
    """Run steps 1-6 of the module docstring against the configured servers."""
    admin = admin_dsn()
    pipeline = Login.from_dsn(warehouse_dsn())
    admin_user = Login.from_dsn(admin).user
    warehouse_as_admin = make_conninfo(admin, dbname=pipeline.dbname)
    server = make_conninfo(admin, dbname="postgres")
    with psycopg.connect(server) as conn:
        if pipeline.user != admin_user and _is_superuser(conn, pipeline.user):
            raise BootstrapError(
                f"WAREHOUSE_DSN's user {pipeline.user} is a superuser: give the pipeline a login of its "
                "own (e.g. credit_dw_pipeline); the superuser belongs in WAREHOUSE_ADMIN_DSN only."
            )

    created = db.ensure_database(warehouse_as_admin)
    applied = db.migrate(warehouse_as_admin)
    say(f"warehouse {pipeline.dbname}: {'created, ' if created else ''}migrations applied: "
        f"{', '.join(applied) or 'nothing new'}")

    meta = metadata_login(metadata_url())
    with psycopg.connect(server, autocommit=True) as conn:
        if pipeline.user == admin_user:
            say(f"pipeline connects as {admin_user}, the admin user: no separate login role "
                "(set WAREHOUSE_ADMIN_DSN and a WAREHOUSE_DSN user of its own for least privilege)")
        else:
            verb = ensure_login_role(conn, pipeline, member_of=PIPELINE_GROUP)
            say(f"login role {pipeline.user} {verb}: member of {PIPELINE_GROUP} only")
        if meta.user not in (admin_user, pipeline.user):
            verb = ensure_login_role(conn, meta)
            say(f"login role {meta.user} {verb}: owns Airflow's metadata database only")
        created = ensure_owned_database(conn, meta)
        say(f"Airflow metadata database {meta.dbname}: {'created' if created else 'exists'}, owner {meta.user}")

    from credit_dw.orchestration.dbt_group import ensure_manifest

    ensure_manifest()
    say("dbt manifest ready")
    from credit_dw.config import record_deployment_date, start_date

    record_deployment_date()  # the default first night, kept in the var volume across upgrades
    say(f"ingest DAGs schedule from {start_date()} (CREDIT_DW_START_DATE, else the day of deployment)")
    env = _airflow_env()
    _airflow(["db", "migrate"], env)
    say("airflow db migrate: done")
    _ensure_admin_user(env, say)


def _airflow_env() -> dict[str, str]:
    from credit_dw.airflow_env import airflow_environment

    return airflow_environment()


def _airflow(args: list[str], env: dict[str, str]) -> str:
    from credit_dw.commands.airflow import airflow_executable

    done = subprocess.run([airflow_executable(), *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise BootstrapError(f"`airflow {args[0]} {args[1]}` failed: " + " | ".join(tail))
    return done.stdout


def _ensure_admin_user(env: dict[str, str], say: Callable[[str], None]) -> None:
    if env.get("AIRFLOW__CORE__AUTH_MANAGER") != FAB_AUTH_MANAGER:
        say("admin user: not managed here (SimpleAuthManager: users from "
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS, passwords generated by the api-server)")
        return
    username = env.get("AIRFLOW_ADMIN_USERNAME") or "admin"
    password = env.get("AIRFLOW_ADMIN_PASSWORD")
    if not password:
        raise BootstrapError("AIRFLOW_ADMIN_PASSWORD is not set: put the admin's password in the env file.")
    if _fab_user_exists(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], username):  # one Airflow start saved
        _airflow(["users", "reset-password", "--username", username, "--password", password], env)
        say(f"admin user {username}: exists, password set from AIRFLOW_ADMIN_PASSWORD")
        return
    _airflow(["users", "create", "--username", username, "--password", password, "--role", "Admin",
              "--firstname", "Airflow", "--lastname", "Admin",
              "--email", env.get("AIRFLOW_ADMIN_EMAIL") or f"{username}@localhost"], env)
    say(f"admin user {username}: created")


def _fab_user_exists(url: str, username: str) -> bool:
    """Whether FAB's user table (``ab_user``, created by ``airflow db migrate``) has the user."""
    with psycopg.connect(conninfo_from_url(url)) as conn:
        if conn.execute("select to_regclass('ab_user')").fetchone()[0] is None:
            return False
        return conn.execute("select 1 from ab_user where username = %s", (username,)).fetchone() is not None

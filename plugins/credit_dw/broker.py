"""Where the Celery broker (Redis) comes from: the way the warehouse's PostgreSQL does.

A configured broker wins: ``CELERY_BROKER_URL``, else Airflow's own
``AIRFLOW__CELERY__BROKER_URL`` (what a deployment sets). Without one, the project starts a
private ``redis-server`` (Debian's ``redis-server`` package) on a free port of 127.0.0.1, with
its files under ``var/redis/<port>/`` and no persistence, and stops it when done: like the
project-managed PostgreSQL cluster, nothing on the machine is shared or left behind. Where
neither exists, :func:`find_broker` returns ``None`` and callers fall back to the LocalExecutor
and say so.

Why a private server rather than "whatever answers on 6379": several checkouts and test runs
share a machine; Celery workers on one Redis database consume each other's task messages.

The API is small on purpose::

    from credit_dw import broker

    with broker.celery_broker() as found:        # Broker | None, stopped on exit if private
        if found is None:
            ...                                   # no Redis here: LocalExecutor
        env["AIRFLOW__CELERY__BROKER_URL"] = found.url
        print(found.origin)                       # for test output / logs

``find_broker()`` and ``start_private()`` are the same without the context manager (call
``Broker.stop()`` yourself); ``answers(url)`` pings any Redis URL.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from credit_dw.config import var_dir

CONFIG_VARIABLES = ("CELERY_BROKER_URL", "AIRFLOW__CELERY__BROKER_URL")
_PR_SET_PDEATHSIG = 1


class BrokerError(RuntimeError):
    """The configured broker cannot be used; the message says what to do."""


@dataclass
class Broker:
    """A Redis broker that answered a PING.

    ``url`` is what Celery/Airflow need (``AIRFLOW__CELERY__BROKER_URL``); ``origin`` says where
    it came from, in words, for logs and test output. ``process`` is set only for a private
    server this module started; :meth:`stop` ends it (a no-op for a configured broker).
    """

    url: str
    origin: str
    process: subprocess.Popen | None = field(default=None, repr=False)
    folder: Path | None = None

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop a private server (SIGTERM, then SIGKILL) and remove its folder; idempotent."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)


def configured_url() -> str | None:
    """The broker URL a user or deployment configured, if any."""
    for name in CONFIG_VARIABLES:
        if value := os.environ.get(name):
            return value
    return None


def answers(url: str, timeout_s: float = 2.0) -> bool:
    """Whether a Redis server at ``url`` answers a PING within ``timeout_s``."""
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except (redis.RedisError, OSError, ValueError):
        return False


def redis_server_binary() -> str | None:
    """``redis-server`` from ``CREDIT_DW_REDIS_SERVER`` or PATH (Debian: /usr/bin/redis-server)."""
    if explicit := os.environ.get("CREDIT_DW_REDIS_SERVER"):
        return explicit if Path(explicit).exists() else None
    return shutil.which("redis-server")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the starting process dies, so a crash leaves no server."""
    with contextlib.suppress(OSError):  # not glibc: the caller's stop() still ends it
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def start_private(base_dir: Path | None = None, timeout_s: float = 10.0) -> Broker | None:
    """Start a private ``redis-server`` on a free 127.0.0.1 port; ``None`` without the binary.

    Files (log, working dir) go to ``<base_dir>/<port>/`` (default ``var/redis``). The server
    runs as a child of this process and also dies with it. Raises :class:`BrokerError` when the
    binary exists but the server does not come up (the message quotes its log).
    """
    binary = redis_server_binary()
    if binary is None:
        return None
    base = Path(base_dir) if base_dir is not None else var_dir() / "redis"
    last_log = ""
    for _attempt in range(3):  # a free port can be taken between probe and bind: try another
        port = _free_port()
        folder = base / str(port)
        folder.mkdir(parents=True, exist_ok=True)
        log = folder / "redis.log"
        process = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder),
             "--logfile", str(log), "--save", "", "--appendonly", "no", "--daemonize", "no"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )
        broker = Broker(url=f"redis://127.0.0.1:{port}/0", process=process, folder=folder,
                        origin=f"private redis-server on 127.0.0.1:{port} (files in {folder})")
        deadline = time.monotonic() + timeout_s
        while process.poll() is None and time.monotonic() < deadline:
            if answers(broker.url, timeout_s=0.5):
                return broker
            time.sleep(0.05)
        last_log = log.read_text(errors="replace")[-1500:] if log.exists() else ""
        broker.stop()
    raise BrokerError(f"{binary} did not start (3 attempts); its log ends:\n{last_log}")


def find_broker(base_dir: Path | None = None) -> Broker | None:
    """The configured broker, else a private server (the caller stops it), else ``None``.

    A configured URL that does not answer is an error, not a reason to start another server:
    the user asked for that broker.
    """
    if url := configured_url():
        if not answers(url):
            raise BrokerError(
                f"the configured Celery broker {_redact(url)} does not answer a PING: start it, or "
                "unset CELERY_BROKER_URL/AIRFLOW__CELERY__BROKER_URL to let the project run its own."
            )
        return Broker(url=url, origin=f"configured broker {_redact(url)}")
    return start_private(base_dir)


@contextmanager
def celery_broker(base_dir: Path | None = None) -> Iterator[Broker | None]:
    """:func:`find_broker` as a context manager: a private server is stopped on exit, always."""
    found = find_broker(base_dir)
    try:
        yield found
    finally:
        if found is not None:
            found.stop()


def _redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))

"""A real Airflow deployment for the scheduler-driven tests: api-server, scheduler,
dag-processor and a Celery worker on Redis, as separate processes, as deployed.

No ``airflow dags test``, no ``standalone``: each component is the command an operator runs
(see ``docker-compose.yml``). The Redis broker comes from :mod:`credit_dw.broker` (a configured
one, else a private ``redis-server``); without Redis the same deployment runs the
LocalExecutor and says so. Every process is started in its own process group and killed with
it, also when the test fails.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

COMPONENTS = ("api-server", "scheduler", "dag-processor")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Deployment:
    env: dict[str, str]
    logs: Path
    metadata_dsn: str
    executor: str
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def start(self, airflow: str) -> None:
        port = int(self.env["AIRFLOW__API__PORT"])
        for name in COMPONENTS:
            args = [airflow, name] + (["--port", str(port)] if name == "api-server" else [])
            self._spawn(name, args)
        if self.executor == "CeleryExecutor":
            self._spawn("celery-worker", [airflow, "celery", "worker", "--concurrency",
                                          self.env.get("CREDIT_DW_TEST_WORKER_CONCURRENCY", "3")])
        self._wait_for_api(port)

    def _spawn(self, name: str, args: list[str]) -> None:
        log = (self.logs / f"{name}.log").open("w")
        self.processes[name] = subprocess.Popen(args, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                                stdin=subprocess.DEVNULL, start_new_session=True)

    def _wait_for_api(self, port: int, timeout_s: float = 120) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.assert_alive()
            url = f"http://127.0.0.1:{port}/api/v2/monitor/health"
            with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2):
                return
            time.sleep(1)
        raise TimeoutError(f"the api-server did not answer within {timeout_s:.0f} s; see {self.logs}")

    def assert_alive(self) -> None:
        dead = {n: p.returncode for n, p in self.processes.items() if p.poll() is not None}
        if dead:
            raise RuntimeError(f"Airflow component(s) exited: {dead}; logs in {self.logs}")

    def stop(self) -> None:
        for process in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for process in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)

    def metadata(self, query: str, params: object = None) -> list[tuple]:
        """Read Airflow's own metadata database: what the scheduler actually did."""
        with psycopg.connect(self.metadata_dsn) as conn:
            return conn.execute(query, params).fetchall()

    def airflow(self, airflow: str, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([airflow, *args], env=self.env, capture_output=True, text=True, timeout=300)


@contextlib.contextmanager
def deployment(base_env: dict[str, str], logs: Path, metadata_dsn: str, airflow: str,
               broker_dir: Path) -> Iterator[Deployment]:
    """Start the components with ``base_env`` (Airflow env from ``credit_dw.airflow_env``)."""
    from credit_dw import broker as brokers
    from credit_dw.airflow_env import sqlalchemy_url

    with brokers.celery_broker(broker_dir) as found:
        port = _free_port()
        env = {
            **base_env,
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(16),
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "True",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
            # a busy 2-core machine answers the task API slowly; 5 s (the default) lost tasks
            "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "30",
        }
        if found is None:
            executor = "LocalExecutor"
            print("no Redis broker here (no CELERY_BROKER_URL, no redis-server): running the LocalExecutor")
        else:
            executor = "CeleryExecutor"
            result_backend = "db+" + sqlalchemy_url(metadata_dsn).replace("postgresql+psycopg://", "postgresql://")
            env.update({
                "AIRFLOW__CELERY__BROKER_URL": found.url,
                "AIRFLOW__CELERY__RESULT_BACKEND": result_backend,
            })
            print(f"CeleryExecutor on {found.origin}")
        env["AIRFLOW__CORE__EXECUTOR"] = executor
        deployed = Deployment(env=env, logs=logs, metadata_dsn=metadata_dsn, executor=executor)
        try:
            deployed.start(airflow)
            yield deployed
        finally:
            deployed.stop()

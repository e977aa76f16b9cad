"""What every benchmark script shares: environment, a fresh warehouse, the machine, statistics.

Why a fresh database per run: timings on a warehouse that already holds other runs' batches
(or a half-built ``marts_candidate``) measure someone else's state. Each run creates
``credit_dw_bench_<random>`` on the server ``WAREHOUSE_DSN`` names (else the project-managed
cluster, started if needed), migrates it like ``credit-dw init`` and drops it afterwards.
"""

from __future__ import annotations

import json
import os
import platform
import secrets
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def prepare_environment() -> None:
    """Make ``credit_dw`` importable and give it the settings it insists on (never real secrets).

    The PII key only pseudonymises the generated people of this throw-away database; a fixed
    benchmark key keeps runs comparable. Everything else is what the Makefile exports.
    """
    plugins = str(PROJECT_ROOT / "plugins")
    if plugins not in sys.path:
        sys.path.insert(0, plugins)
    os.environ.setdefault("CREDIT_DW_PII_KEY", "benchmark-only-key")
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


@contextmanager
def fresh_database(prefix: str = "credit_dw_bench", keep: bool = False) -> Iterator[str]:
    """A created and migrated warehouse database for one run; dropped afterwards unless ``keep``."""
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import make_conninfo

    from credit_dw import db

    name = f"{prefix}_{secrets.token_hex(4)}"
    dsn = make_conninfo(db.ensure_server(), dbname=name)
    db.ensure_database(dsn)
    db.migrate(dsn)
    try:
        yield dsn
    finally:
        if keep:
            print(f"kept database {name} ({dsn})", file=sys.stderr)
        else:
            with psycopg.connect(make_conninfo(dsn, dbname="postgres"), autocommit=True) as conn:
                conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


def machine() -> dict[str, Any]:
    """CPU, memory and OS of the host: numbers mean little without them."""
    cpu_model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        cpu_model = next((line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                          if line.startswith("model name")), "")
    mem_kb = 0
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        mem_kb = int(next(line.split()[1] for line in meminfo.read_text().splitlines()
                          if line.startswith("MemTotal")))
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model,
        "memory_gib": round(mem_kb / 2**20, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


_SERVER_SETTINGS = ("shared_buffers", "work_mem", "maintenance_work_mem", "effective_cache_size",
                    "max_parallel_workers_per_gather", "synchronous_commit", "fsync", "jit")


def server(dsn: str) -> dict[str, Any]:
    """PostgreSQL version and the settings that move these numbers."""
    import psycopg

    with psycopg.connect(dsn) as conn:
        version = conn.execute("select version()").fetchone()[0]
        settings = dict(conn.execute(
            "select name, current_setting(name) from pg_settings where name = any(%s) order by name",
            (list(_SERVER_SETTINGS),),
        ).fetchall())
    return {"version": version, "settings": settings}


@contextmanager
def timed(into: dict[str, float], key: str) -> Iterator[None]:
    """Wall-clock seconds of the block, stored under ``key`` (also when it raises)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        into[key] = round(time.perf_counter() - started, 3)
        print(f"  {key}: {into[key]:.1f} s", file=sys.stderr, flush=True)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100): p99 of 1000 samples is the 990th smallest."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, round(q / 100 * len(ordered) + 0.4999))
    return ordered[min(rank, len(ordered)) - 1]


def latency_summary(seconds: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in seconds]
    return {
        "n": len(ms),
        "median_ms": round(statistics.median(ms), 3) if ms else float("nan"),
        "p99_ms": round(percentile(ms, 99), 3),
        "max_ms": round(max(ms), 3) if ms else float("nan"),
    }


def write_json(path: Path, payload: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, ensure_ascii=False, indent=2, default=str) + "\n")
    return path


def markdown_table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def human(n: float) -> str:
    """1000000 -> 1M, 250000 -> 250k (labels for sizes)."""
    for unit, size in (("M", 1_000_000), ("k", 1_000)):
        if n >= size:
            value = n / size
            return f"{value:.0f}{unit}" if value == int(value) else f"{value:.1f}{unit}"
    return str(int(n))


class PeakMemory:
    """Peak memory while a phase runs, sampled every ``interval`` seconds in a thread.

    Two figures, because the work is split between processes: ``client_mib`` is the summed
    proportional set size (PSS: shared pages counted once) of this process and its children
    (generator and ingest workers, dbt runs in-process); ``server_mib`` the PSS of the
    PostgreSQL backends serving ``dbname`` (the server's shared buffers are counted in
    proportion, so this is the sessions' own memory, not the whole cluster's). ``used_mib`` is
    the machine's used memory (total − available), which includes anything else running.
    """

    def __init__(self, dsn: str | None, interval: float = 1.0) -> None:
        import threading

        self._dsn = dsn
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.peaks = {"client_mib": 0.0, "server_mib": 0.0, "used_mib": 0.0}

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peaks = {k: round(v, 1) for k, v in self.peaks.items()}

    def _run(self) -> None:
        import psutil

        me = psutil.Process()
        dbname = None
        if self._dsn:
            from psycopg.conninfo import conninfo_to_dict

            dbname = conninfo_to_dict(self._dsn).get("dbname")
        while True:
            client = _pss_mib([me, *me.children(recursive=True)])
            server = _pss_mib(_backends(dbname)) if dbname else 0.0
            vm = psutil.virtual_memory()
            for key, value in (("client_mib", client), ("server_mib", server),
                               ("used_mib", (vm.total - vm.available) / 2**20)):
                self.peaks[key] = max(self.peaks[key], value)
            if self._stop.wait(self._interval):
                return


def _pss_mib(processes: list) -> float:
    import psutil

    total = 0
    for p in processes:
        try:
            info = p.memory_full_info()
            total += getattr(info, "pss", info.rss)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return total / 2**20


def _backends(dbname: str) -> list:
    """PostgreSQL processes serving ``dbname``: their command line names the database."""
    import psutil

    found = []
    for p in psutil.process_iter(["name", "cmdline"]):
        cmdline = " ".join(p.info.get("cmdline") or [])
        if p.info.get("name") == "postgres" and f" {dbname} " in f" {cmdline} ":
            found.append(p)
    return found


@contextmanager
def phase(times: dict[str, float], memory: dict[str, dict], key: str, dsn: str | None) -> Iterator[None]:
    """``timed`` plus the phase's peak memory (``PeakMemory``) stored under ``memory[key]``."""
    with PeakMemory(dsn) as meter, timed(times, key):
        yield
    memory[key] = meter.peaks
    print(f"    peak memory: {meter.peaks}", file=sys.stderr, flush=True)


def directory_bytes(path: Path) -> int:
    """Bytes of the regular files under ``path`` (the deliveries on disk)."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())

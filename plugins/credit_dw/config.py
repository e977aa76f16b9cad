"""Settings from the environment, in one place.

Every entry point (CLI, Airflow tasks, tests, dbt profiles) reads configuration through this
module so that ``WAREHOUSE_DSN`` and ``LANDING_ROOT`` mean the same thing everywhere.
Secrets (the PII hashing key, DSN passwords) only ever come from the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATABASE = "credit_dw"
DEFAULT_PG_PORT = 54329
TIMEZONE = "Asia/Shanghai"


def var_dir() -> Path:
    """Git-ignored working folder for the local cluster, Airflow home, landing and reports."""
    return Path(os.environ.get("CREDIT_DW_VAR", PROJECT_ROOT / "var"))


def landing_root() -> Path:
    """Where departments drop deliveries: ``<root>/<feed>/<YYYY-MM-DD>/`` with ``_DONE``."""
    return Path(os.environ.get("LANDING_ROOT", var_dir() / "landing"))


def reports_dir() -> Path:
    return Path(os.environ.get("CREDIT_DW_REPORTS", var_dir() / "reports"))


def start_date() -> date:
    """The first delivery night the ingest DAGs schedule (Asia/Shanghai calendar day).

    ``CREDIT_DW_START_DATE`` when set; else the day this checkout first ran Airflow, recorded once
    in ``var/deployed_on`` by :func:`record_deployment_date`; else today. Why not a date in the
    feed spec: a deployment catching up from a fixed date in the past fails one run per feed
    and night before the first real delivery, each with an alert. Read at DAG-parse time, so it
    must be cheap and offline: an environment variable or a file, never the database.
    """
    configured = os.environ.get("CREDIT_DW_START_DATE")
    if configured:
        try:
            return date.fromisoformat(configured.strip())
        except ValueError:
            raise ValueError(f"CREDIT_DW_START_DATE={configured!r} is not a date; use YYYY-MM-DD") from None
    recorded = var_dir() / "deployed_on"
    if recorded.exists():
        return date.fromisoformat(recorded.read_text().strip())
    return today()


def record_deployment_date() -> date:
    """Write ``var/deployed_on`` (today) unless it exists; the default of :func:`start_date`."""
    recorded = var_dir() / "deployed_on"
    if not recorded.exists():
        recorded.parent.mkdir(parents=True, exist_ok=True)
        recorded.write_text(today().isoformat() + "\n")
    return date.fromisoformat(recorded.read_text().strip())


def today() -> date:
    """Today in Asia/Shanghai, the calendar every delivery date and as-of date is in."""
    return datetime.now(ZoneInfo(TIMEZONE)).date()


def external_dsn() -> str | None:
    """The user's own server, if any; when set the project starts no cluster of its own."""
    return os.environ.get("WAREHOUSE_DSN") or None


class ConfigError(RuntimeError):
    """A setting is missing or wrong; the message is one line saying which and how to set it."""


# Placeholders shipped in .env.example: a key everybody can read pseudonymises nothing.
PLACEHOLDER_PII_KEYS = frozenset({"change-me-to-a-long-random-string", "change-me"})


def pii_hash_key() -> bytes:
    """Key of the HMAC that pseudonymises personal ID numbers (Art. 8).

    Read from ``CREDIT_DW_PII_KEY``; an Airflow deployment sets it from a connection or secret
    backend. The demo Makefile generates one per checkout under ``var/`` so no key is in code.
    """
    key = os.environ.get("CREDIT_DW_PII_KEY")
    local = var_dir() / "pii.key"
    if not key and local.exists():
        key = local.read_text().strip()
    if not key:
        raise ConfigError(
            "CREDIT_DW_PII_KEY is not set: personal ID numbers cannot be pseudonymised. "
            "Set it to a long random secret (e.g. `export CREDIT_DW_PII_KEY=$(openssl rand -hex 32)`); "
            "`make demo` and `make airflow` create one under var/pii.key."
        )
    if key.strip() in PLACEHOLDER_PII_KEYS:
        raise ConfigError(
            "CREDIT_DW_PII_KEY is the placeholder from .env.example: anyone could recompute the "
            "pseudonyms. Set it to a long random secret (`openssl rand -hex 32`) before loading data."
        )
    return key.encode()


def ensure_local_pii_key() -> None:
    """For a local checkout (demo, ``make airflow``): create ``var/pii.key`` once, mode 600.

    Deployments set ``CREDIT_DW_PII_KEY`` from their secret store instead; then this does nothing.
    Rotating the key changes every person's subject key, so it is created once and kept.
    """
    if os.environ.get("CREDIT_DW_PII_KEY"):
        return
    import secrets

    local = var_dir() / "pii.key"
    if not local.exists():
        local.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(local, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    os.environ["CREDIT_DW_PII_KEY"] = local.read_text().strip()


@dataclass(frozen=True)
class LocalCluster:
    """Where the project-managed PostgreSQL cluster lives."""

    data_dir: Path
    socket_dir: Path
    port: int

    @classmethod
    def from_env(cls) -> LocalCluster:
        """``CREDIT_DW_PG_PORT`` wins; else the port this checkout's cluster was created with
        (recorded in ``var/pg/port``, see ``cluster.claim_port``); else the default 54329."""
        base = Path(os.environ.get("CREDIT_DW_PGDATA_ROOT", var_dir() / "pg"))
        recorded = base / "port"
        port = os.environ.get("CREDIT_DW_PG_PORT") or (recorded.read_text().strip() if recorded.exists() else "")
        return cls(data_dir=base / "data", socket_dir=base / "run", port=int(port or DEFAULT_PG_PORT))

    @property
    def port_file(self) -> Path:
        return self.data_dir.parent / "port"

    def dsn(self, database: str = DEFAULT_DATABASE) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"


def warehouse_dsn() -> str:
    """DSN of the warehouse database: ``WAREHOUSE_DSN`` or the local cluster's."""
    return external_dsn() or LocalCluster.from_env().dsn()

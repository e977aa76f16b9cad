"""Run the project's dbt build in-process, against the warehouse the rest of the code uses.

Why a wrapper: dbt's profile (``dbt_project/profiles.yml``) reads only ``DBT_*`` environment
variables, so the CLI, the tests and Cosmos share one profile file; this module derives those
variables from ``WAREHOUSE_DSN`` (``credit_dw.config.warehouse_dsn``) so nobody configures the
connection twice. dbt always ``SET ROLE transformer`` (profile ``role``), which may read ``raw``
and ``governance`` but never ``restricted``.
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from psycopg.conninfo import conninfo_to_dict

from credit_dw.config import PROJECT_ROOT, warehouse_dsn

if TYPE_CHECKING:
    from dbt.cli.main import dbtRunnerResult

DBT_PROJECT_DIR: Path = PROJECT_ROOT / "dbt_project"
AS_OF_ENV = "CREDIT_DW_AS_OF_DATE"  # read by the macro as_of_date
PROFILE_NAME = "credit_dw"
TARGET_NAME = "warehouse"

# statuses of dbt node results that mean the node did not do its job
_FAILED = {"error", "fail", "runtime error"}


class DbtRunError(RuntimeError):
    """A dbt invocation failed; the message names the failed nodes and what they said."""


def dbt_env(dsn: str | None = None) -> dict[str, str]:
    """``DBT_HOST``, ``DBT_PORT``, ``DBT_USER``, ``DBT_PASSWORD``, ``DBT_DBNAME`` for a DSN, and
    ``PGOPTIONS`` with ``jit=off`` for dbt's own sessions.

    Defaults follow libpq: port 5432, user = the OS user, dbname = user.

    Why no JIT: a night's statements read a few thousand rows by index from million-row tables;
    the planner's cost estimate still crosses ``jit_above_cost``, and compiling the plan then
    takes longer than running it (2.1 s of a 2.6 s `int_night__changed_records` statement at 1M
    records; 0.5 s without). dbt's profile has no field for server settings, so libpq's
    environment carries it: to dbt's connections, and in the Airflow processes (which run dbt
    through Cosmos) to their other connections too, none of which reads enough rows to gain
    from JIT.
    """
    params = conninfo_to_dict(dsn or warehouse_dsn())
    user = str(params.get("user") or getpass.getuser())
    return {
        "DBT_HOST": str(params.get("host") or params.get("hostaddr") or "127.0.0.1"),
        "DBT_PORT": str(params.get("port") or 5432),
        "DBT_USER": user,
        "DBT_PASSWORD": str(params.get("password") or ""),
        "DBT_DBNAME": str(params.get("dbname") or user),
        "PGOPTIONS": _without_jit(os.environ.get("PGOPTIONS", "")),
    }


def as_of_env(as_of: date | None) -> dict[str, str]:
    """The environment naming a build's as-of day to dbt (macro ``as_of_date``).

    Why not ``--vars``: dbt re-parses the whole project whenever its vars differ from the last
    parse, which a new night's date always does (2 s of a 6 s sample night, on every invocation);
    the macro reads this variable only when SQL is compiled, so a new night re-parses nothing.
    """
    return {AS_OF_ENV: as_of.isoformat()} if as_of else {}


def _without_jit(options: str) -> str:
    """libpq's PGOPTIONS as given, plus ``-c jit=off`` once."""
    return options if "jit=off" in options else " ".join(filter(None, [options, "-c jit=off"]))


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """dbt's env_var() reads os.environ: set the values for one invocation, then restore."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def cheap_behavior_flag_source(*_context: object) -> None:
    """Make dbt's adapter start-up cheap in a deep call stack; idempotent, and usable as an
    Airflow ``pre_execute`` hook (it ignores the context it is given).

    Why: dbt-common names the module that declared each behavior flag with ``inspect.stack()``
    (``BehaviorFlagRendered._default_source``), and evaluates it for every flag, every time an
    adapter registers, even when the flag names its source. ``inspect.stack()`` reads the source
    lines of every frame and maps each file to its module by scanning ``sys.modules``. Cosmos
    resets dbt's adapters after every invocation, so each dbt task of a night pays it again, deep
    in Airflow's stack, in a process holding Airflow, dbt and GX: measured with py-spy over two
    demo nights, 18 % of the build process's samples, about 25 s a night, and growing from task
    to task. The replacement gives the same answer (the first calling module that is not
    dbt-common's own) from the frames' globals, without reading any source.
    """
    from dbt_common import behavior_flags

    flag = behavior_flags.BehaviorFlagRendered
    if getattr(flag._default_source, "cheap", False):
        return

    def _default_source() -> str:
        frame = sys._getframe(1)
        while frame is not None:
            module = frame.f_globals.get("__name__")
            if module and module in sys.modules and module != behavior_flags.__name__:
                return module
            frame = frame.f_back
        return "Unknown"

    _default_source.cheap = True  # type: ignore[attr-defined]
    flag._default_source = staticmethod(_default_source)


def _with_project_flags(args: list[str]) -> list[str]:
    flags = list(args)
    if "--project-dir" not in flags:
        flags += ["--project-dir", str(DBT_PROJECT_DIR)]
    if "--profiles-dir" not in flags:
        flags += ["--profiles-dir", str(DBT_PROJECT_DIR)]
    return flags


def skipped_nodes(result: dbtRunnerResult) -> int:
    """How many nodes dbt skipped (downstream of a failure)."""
    results = getattr(result.result, "results", None) or []
    return sum(1 for r in results if str(getattr(r.status, "value", r.status)).lower() == "skipped")


def failed_nodes(result: dbtRunnerResult) -> list[str]:
    """``unique_id [status]: first line of dbt's message`` for every node that errored or failed."""
    results = getattr(result.result, "results", None) or []
    lines = []
    for node_result in results:
        status = str(getattr(node_result.status, "value", node_result.status)).lower()
        if status in _FAILED:
            node = getattr(node_result, "node", None)
            name = getattr(node, "unique_id", None) or getattr(node_result, "unique_id", "?")
            message = (node_result.message or status).strip().splitlines()
            lines.append(f"{name} [{status}]: {message[0] if message else status}")
    return lines


def run_dbt(args: list[str], dsn: str | None = None, as_of: date | None = None) -> dbtRunnerResult:
    """Invoke dbt (e.g. ``["build", "--selector", "nightly"]``) on the project, for the as-of day
    ``as_of`` when given (``AS_OF_ENV``; otherwise dbt's var, else today in Asia/Shanghai).

    Raises ``DbtRunError`` naming each failed node when the invocation does not succeed, so a
    caller (Airflow task, CLI) fails with the reason in its log rather than "dbt failed".
    """
    from dbt.cli.main import dbtRunner

    cheap_behavior_flag_source()
    with _environment({**dbt_env(dsn), **as_of_env(as_of)}):
        result = dbtRunner().invoke(_with_project_flags(args))
    if result.success:
        return result
    failures = failed_nodes(result)
    command = " ".join(args[:1]) or "dbt"
    if failures:
        detail = "\n  ".join(failures)
        skipped = skipped_nodes(result)
        tail = f"\n  ({skipped} downstream node(s) skipped)" if skipped else ""
        raise DbtRunError(f"dbt {command} failed on {len(failures)} node(s):\n  {detail}{tail}")
    reason = result.exception or "see dbt's log output above"
    raise DbtRunError(f"dbt {command} failed before running nodes: {reason}")

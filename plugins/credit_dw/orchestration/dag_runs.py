"""Run DAGs with ``dag.test()`` one after another in ONE process: ``airflow dags test`` without
paying Airflow's start-up for every run.

Why: each ``airflow dags test`` process imports Airflow and its providers, parses the DAG folder
and starts the in-process execution API (about 10 s on 2 cores) before its first task runs; the
demo replays 21 DAG runs, so start-up was most of ``make demo``. Here the imports and the
execution API are paid once. Each run is still the very ``dag.test`` the CLI calls: the same
task code, XCom, Asset events and metadata database, task after task as dependencies allow.

Usage (with the Airflow environment, ``credit_dw.airflow_env``)::

    python -m credit_dw.orchestration.dag_runs PLAN.json

``PLAN.json`` is a list of ``{"dag_id", "logical_date", "conf", "log"}``. Each run's output
(Airflow's and the tasks') goes to its own ``log`` file; one JSON line per run is printed on
stdout: ``{"dag_id", "logical_date", "ok", "state", "seconds", "log"}``.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def output_to(log: Path) -> Iterator[None]:
    """Send this process's stdout and stderr (file descriptors 1 and 2, so also what Airflow's
    log handlers and child processes write) to ``log`` for the duration of one run."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with log.open("w") as fh:
        os.dup2(fh.fileno(), 1)
        os.dup2(fh.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def run_all(plan: list[dict[str, Any]], report: Any) -> int:
    """Run the plan's DAG runs in order; ``report(line)`` gets each result. Returns failures."""
    from airflow.utils import timezone
    from airflow.utils.cli import get_bagged_dag
    from airflow.utils.state import DagRunState

    dags: dict[str, Any] = {}
    failures = 0
    for item in plan:
        log = Path(item["log"])
        started = time.monotonic()
        state = "failed"
        # Cosmos calls gc.collect() after every dbt invocation (to release dbt's adapters). In
        # this long-lived process that walked every object Airflow, dbt and GX had created, about
        # 0.6 s per mart task; what is alive between runs is moved out of the collector's way.
        gc.collect()
        gc.freeze()
        with output_to(log):
            try:
                dag = dags.get(item["dag_id"]) or get_bagged_dag(None, item["dag_id"])
                dags[item["dag_id"]] = dag
                run = dag.test(logical_date=timezone.parse(item["logical_date"]), run_conf=item.get("conf"))
                state = str(run.state)  # DagRunState is a str enum: "success", "failed"
            except Exception:  # a broken run is reported and the next one still runs, as with the CLI
                traceback.print_exc()
        ok = state == DagRunState.SUCCESS
        failures += not ok
        report({"dag_id": item["dag_id"], "logical_date": item["logical_date"], "ok": ok, "state": state,
                "seconds": round(time.monotonic() - started, 1), "log": str(log)})
    return failures


def main(argv: list[str] | None = None) -> int:
    from airflow.utils.providers_configuration_loader import providers_configuration_loaded

    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 1:
        print("usage: python -m credit_dw.orchestration.dag_runs PLAN.json", file=sys.stderr)
        return 2
    plan = json.loads(Path(args[0]).read_text())
    out = os.fdopen(os.dup(1), "w", buffering=1)  # results stay on the real stdout

    def report(line: dict[str, Any]) -> None:
        out.write(json.dumps(line) + "\n")

    return 1 if providers_configuration_loaded(run_all)(plan, report) else 0


if __name__ == "__main__":
    sys.exit(main())

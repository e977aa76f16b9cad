"""The build DAG runs exactly the nodes of a night (``dbt build --selector nightly``), no more.

The nightly selector is what ``credit-dw build`` and the build benchmark run; the DAG splits the
same night into Cosmos tasks (``dbt_foundation``, one task per mart, ``dbt_disclosure_views``,
``dbt_tests``). Each task's selection is listed with ``dbt ls`` as its command would read it, and
the union must equal the selector: a folder selected in a ``dbt build`` also selects the tests
declared in its YAML, which once ran 86 data tests and 10 unit tests in ``dbt_foundation`` every
night, unseen by the benchmark.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from credit_dw.airflow_env import STATIC
from credit_dw.config import PROJECT_ROOT
from credit_dw.dbt import run_dbt

_PROBE = r"""
import json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
dag = bag.dags["build_warehouse"]
tasks = []
for t in dag.tasks:
    if not hasattr(t, "base_cmd") or not hasattr(t, "indirect_selection"):
        continue
    listify = lambda v: [v] if isinstance(v, str) else list(v or [])
    tasks.append({"task_id": t.task_id, "command": t.base_cmd[0], "select": listify(t.select),
                  "exclude": listify(t.exclude), "selector": t.selector,
                  "indirect_selection": t.indirect_selection})
print(json.dumps(tasks))
"""
# what each dbt command runs of what its selection lists
RUNS = {"run": {"model"}, "snapshot": {"snapshot"}, "seed": {"seed"}, "test": {"test", "unit_test"},
        "build": {"model", "snapshot", "seed", "test", "unit_test"}}


def _dbt_tasks() -> list[dict]:
    env = {**os.environ, **STATIC, "PYTHONPATH": str(PROJECT_ROOT / "plugins"),
           "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql+psycopg://nobody@127.0.0.1:1/none"}
    out = subprocess.run([sys.executable, "-c", _PROBE, str(PROJECT_ROOT / "dags" / "build_warehouse.py")],
                         capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def _ls(args: list[str], resource_types: set[str]) -> set[str]:
    result = run_dbt(["ls", "--output", "json", "--output-keys", "unique_id resource_type", "--quiet", *args])
    nodes = [json.loads(line) for line in result.result]
    return {n["unique_id"] for n in nodes if n["resource_type"] in resource_types}


def _task_nodes(task: dict) -> set[str]:
    args = []
    if task["selector"]:
        args += ["--selector", task["selector"]]
    if task["select"]:
        args += ["--select", *task["select"]]
    if task["exclude"]:
        args += ["--exclude", *task["exclude"]]
    if task["indirect_selection"]:
        args += ["--indirect-selection", task["indirect_selection"]]
    return _ls(args, RUNS[task["command"]])


def test_the_build_dag_runs_the_nightly_selection_and_nothing_else():
    from credit_dw.orchestration.dbt_group import ensure_manifest

    ensure_manifest()
    tasks = _dbt_tasks()
    assert {t["task_id"] for t in tasks} >= {"dbt_foundation", "dbt_disclosure_views", "dbt_tests"}
    per_task = {t["task_id"]: _task_nodes(t) for t in tasks}
    nightly = _ls(["--selector", "nightly"], RUNS["build"])
    ran = set().union(*per_task.values())
    assert ran - nightly == set(), "the DAG runs nodes a night does not"
    assert nightly - ran == set(), "the DAG leaves out nodes of the night"
    twice = {n for n in ran if sum(n in nodes for nodes in per_task.values()) > 1}
    assert twice == set(), "nodes run by more than one task"

"""Every DAG file imports cleanly, cheaply and without I/O, and carries owner, tags and retries.

Import happens in a subprocess with psycopg's connect and socket creation booby-trapped, so a
DAG file (or anything it imports at parse time) that touches the database or the network fails
here. Parse time per file is printed (``pytest -s`` or the captured output on failure).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from credit_dw.airflow_env import STATIC
from credit_dw.config import PROJECT_ROOT
from credit_dw.feeds import all_specs

DAG_FILES = sorted((PROJECT_ROOT / "dags").glob("*.py"))
# one ingest DAG per feed spec, made by the factory, and the build
EXPECTED_DAGS = {f"ingest_{spec.feed}" for spec in all_specs()} | {"build_warehouse"}

_PROBE = r"""
import json, socket, sys, time
import psycopg

def _forbidden(*a, **k):
    raise RuntimeError("I/O at DAG parse time: " + repr(a)[:200])

psycopg.connect = _forbidden
_real_socket = socket.socket
class _NoNetSocket(_real_socket):
    def connect(self, *a, **k):
        _forbidden(*a)
socket.socket = _NoNetSocket

from airflow.dag_processing.dagbag import DagBag
path = sys.argv[1]
t0 = time.perf_counter()
bag = DagBag(dag_folder=path)
elapsed = time.perf_counter() - t0
print(json.dumps({
    "seconds": elapsed,
    "errors": {k: str(v) for k, v in bag.import_errors.items()},
    "dags": {d.dag_id: {
        "tags": sorted(d.tags),
        "owners": sorted({t.owner for t in d.tasks}),
        "retries": {t.task_id: t.retries for t in d.tasks},
    } for d in bag.dags.values()},
}))
"""


def _parse(path: Path) -> dict:
    env = {**os.environ, **STATIC, "PYTHONPATH": str(PROJECT_ROOT / "plugins"),
           "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql+psycopg://nobody@127.0.0.1:1/none"}
    out = subprocess.run([sys.executable, "-c", _PROBE, str(path)], capture_output=True, text=True,
                         env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def parsed() -> dict[Path, dict]:
    from credit_dw.orchestration.dbt_group import ensure_manifest

    ensure_manifest()  # as `credit-dw airflow` does before any scheduler parses the build DAG
    return {path: _parse(path) for path in DAG_FILES}


def test_all_expected_dags_exist(parsed):
    found = {dag_id for result in parsed.values() for dag_id in result["dags"]}
    assert found >= EXPECTED_DAGS


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_dag_file_imports_without_errors_or_io(parsed, path):
    result = parsed[path]
    print(f"{path.name}: parsed in {result['seconds']:.2f} s, DAGs {sorted(result['dags'])}")
    assert result["errors"] == {}
    assert result["dags"], f"{path.name} defines no DAG"


def test_every_dag_has_owner_tags_and_retries(parsed):
    for result in parsed.values():
        for dag_id, dag in result["dags"].items():
            assert dag["tags"], f"{dag_id} has no tags"
            assert all(o and o != "airflow" for o in dag["owners"]), f"{dag_id} owners {dag['owners']}"
            loaders = {t: r for t, r in dag["retries"].items() if not t.startswith("wait_for")}
            assert all(r >= 1 for r in loaders.values()), f"{dag_id} tasks without retries: {loaders}"

"""The demo's DAG runner (``credit_dw.orchestration.dag_runs``): many ``dag.test`` runs in ONE
Airflow process, each with its own log, in order, a failed run reported without stopping the rest.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from credit_dw.commands.demo import SAMPLES, run_dags, stage_samples

pytestmark = pytest.mark.slow


def test_runs_in_order_with_a_log_each_and_a_failed_run_does_not_stop_the_rest(airflow_env, tmp_path: Path):
    root = tmp_path / "landing"
    days = stage_samples(SAMPLES, root)
    env = {**airflow_env, "LANDING_ROOT": str(root)}
    never_delivered = days[-1] + timedelta(days=5)
    plan = [
        {"dag_id": "ingest_tax", "logical_date": never_delivered.isoformat(), "conf": None},
        {"dag_id": "ingest_tax", "logical_date": days[0].isoformat(), "conf": None},
        {"dag_id": "ingest_registration", "logical_date": days[0].isoformat(), "conf": None},
    ]
    for number, run in enumerate(plan):
        run["log"] = str(tmp_path / f"run{number}.log")

    results = list(run_dags(plan, env, tmp_path))

    assert [(r["dag_id"], r["logical_date"], r["ok"]) for r in results] == [
        ("ingest_tax", never_delivered.isoformat(), False),
        ("ingest_tax", days[0].isoformat(), True),
        ("ingest_registration", days[0].isoformat(), True),
    ]
    assert f"tax/{never_delivered.isoformat()}/_DONE did not appear" in Path(plan[0]["log"]).read_text()
    assert all("DagRun Finished" in Path(run["log"]).read_text() for run in plan[1:])
    with psycopg.connect(airflow_env["WAREHOUSE_DSN"]) as conn:
        loaded = dict(conn.execute(
            "select feed, sum(rows_loaded) from quality.batch_manifest where delivery_date = %s group by feed",
            (days[0],)).fetchall())
    assert set(loaded) == {"tax", "registration"} and all(n > 0 for n in loaded.values())

"""``build_warehouse``: gate the pending batches, build with dbt, gate the marts, publish, report.

dbt runs through Cosmos from a pre-built manifest, so DAG parsing never runs dbt: the seeds and
views in one ``dbt_foundation`` task, snapshots and marts node by node (``DbtTaskGroup``), then
the night's data tests in one ``dbt_tests`` task (selector ``nightly``). The gate is the GX
validation of the candidate marts: only when it passes does ``publish`` swap ``marts_candidate``
into ``marts`` in one transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import pendulum
from airflow.sdk import DAG, AssetAny, AssetOrTimeSchedule, CronTriggerTimetable, Param, task

from credit_dw.config import TIMEZONE
from credit_dw.orchestration.assets import PUBLISHED_MARTS, raw_table_asset
from credit_dw.orchestration.defaults import default_args

# The as-of date is resolved once, by `plan`, and every later task reads it from there: a run
# triggered by Assets has no logical date to template on.
AS_OF_TEMPLATE = "{{ ti.xcom_pull(task_ids='plan')['as_of'] }}"
DEADLINE_CRON = "0 5 * * *"

DOC = """
### Build the warehouse

0. **plan**: what this run is for. The as-of date is the Asia/Shanghai day of the run's
   `run_after` (or the `as_of` param, for a re-evaluation or backfill); the triggering Asset
   events (feed, delivery date, batch ids) are logged and stored with the verdict. A run
   started by an Asset event goes on only once the night's deliveries are in: every feed has
   delivered the newest night among the pending batches. Otherwise it is skipped and a later
   event, or the 05:00 deadline run, builds.
1. **validate_feeds**: GX suites on every *pending* batch, i.e. every loaded batch no build
   has gated yet (`quality.pending_batch`): schema, required nulls, identifier validity ratio,
   value sets, share of rows rejected per file and night, freshness, row-count bounds.
2. **dbt_foundation** then the **dbt** task group (Cosmos): seeds, staging and intermediate
   models in one task, then snapshots, marts and steward models into `marts_candidate`, one
   task per node, then **dbt_tests**: the night's data tests (`dbt test --selector nightly`;
   every test runs in CI and in `credit-dw build --full-refresh`).
3. **validate_marts**: GX suites on `marts_candidate` (keys, windows, no clear ID numbers,
   subjects resolved, status values).
4. **publish**: swaps `marts_candidate` into `marts` in one transaction: analysts see the old
   or the new state, never a mix. A failure anywhere above leaves `marts` untouched.
5. **report**: the nightly quality report for stewards (also when the night is blocked):
   `var/reports/latest/index.html`; dbt docs at `var/reports/dbt-docs/index.html`.

Triggered by any raw table's Asset (an ingest that loaded something), and at 05:00
Asia/Shanghai at the latest. Same steps as `credit-dw build`. Operations: `docs/operations.md`.
"""


@contextmanager
def _no_retry_on_gate_failure() -> Iterator[None]:
    """A failed gate is a verdict on the data, not a glitch: fail at once, no retries."""
    from airflow.sdk.exceptions import AirflowFailException

    from credit_dw.quality.gate import QualityGateError

    try:
        yield
    except QualityGateError as exc:
        raise AirflowFailException(f"quality gate blocked publication: {exc}") from exc


def make_build_dag(raw_tables: list[str]) -> DAG:
    from credit_dw.orchestration.dbt_group import dbt_task_group

    with DAG(
        dag_id="build_warehouse",
        description="dbt build of the marts behind a GX quality gate, then atomic publication",
        doc_md=DOC,
        schedule=AssetOrTimeSchedule(
            timetable=CronTriggerTimetable(DEADLINE_CRON, timezone=TIMEZONE),
            assets=AssetAny(*(raw_table_asset(t) for t in raw_tables)),
        ),
        start_date=pendulum.instance(datetime(2026, 1, 1), tz=TIMEZONE),
        catchup=False,
        max_active_runs=1,
        default_args=default_args(),
        params={"as_of": Param(None, type=["null", "string"], format="date",
                               description="evaluate publicity windows and statuses as of this date "
                                           "(default: the night the run is for)")},
        tags=["build", "dbt", "quality"],
    ) as dag:

        @task.short_circuit(task_id="plan")
        def plan(**context) -> dict | bool:
            """What this run is for; False (skip the run) while the night's deliveries are still coming."""
            from credit_dw import pipeline
            from credit_dw.orchestration.defaults import as_of_date

            dag_run = context["dag_run"]
            build = pipeline.BuildPlan.for_airflow_run(
                run_id=context["run_id"], as_of=as_of_date(context), run_type=str(dag_run.run_type),
                events=dag_run.consumed_asset_events or [],
            )
            build.log()
            if not pipeline.has_loaded_batches():
                return False  # a fresh deployment: nothing delivered yet, nothing to build
            if build.run_type == "asset_triggered" and not pipeline.night_complete():
                return False
            return build.as_dict()

        @task(task_id="validate_feeds")
        def validate_feeds(build: dict, **context) -> dict:
            from credit_dw import pipeline

            with _no_retry_on_gate_failure():
                return pipeline.validate_feeds_step(pipeline.BuildPlan.from_dict(build))

        @task(task_id="validate_marts")
        def validate_marts(build: dict) -> dict:
            from credit_dw import pipeline

            with _no_retry_on_gate_failure():
                return pipeline.validate_marts_step(pipeline.BuildPlan.from_dict(build))

        @task(task_id="publish", outlets=[PUBLISHED_MARTS])
        def publish(build: dict) -> dict:
            from credit_dw import pipeline

            return pipeline.publish_step(pipeline.BuildPlan.from_dict(build))

        @task(task_id="dbt_docs")
        def dbt_docs(build: dict) -> str:
            """Static dbt docs (one HTML file) of what was just published, for analysts."""
            from credit_dw import pipeline

            return str(pipeline.docs_step(pipeline.BuildPlan.from_dict(build).as_of))

        @task(task_id="report", trigger_rule="all_done", retries=1)
        def report(build: dict) -> str:
            """Runs also when the night is blocked: stewards need the report most then."""
            from credit_dw import pipeline

            return str(pipeline.report_step(pipeline.BuildPlan.from_dict(build)))

        build = plan()
        feeds_ok = validate_feeds(build)
        foundation, dbt = dbt_task_group(as_of_date=AS_OF_TEMPLATE)
        marts_ok = validate_marts(build)
        published = publish(build)
        feeds_ok >> foundation
        dbt >> marts_ok >> published >> [dbt_docs(build), report(build)]
    return dag

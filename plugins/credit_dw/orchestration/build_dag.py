"""``build_warehouse``: validate the night's feeds, build with dbt, gate, publish, report.

dbt runs through Cosmos from a pre-built manifest, so DAG parsing never runs dbt: the seeds and
views in one ``dbt_foundation`` task, snapshots and marts node by node (``DbtTaskGroup``). The
gate is the GX validation of the candidate marts: only when it passes does ``publish`` swap
``marts_candidate`` into ``marts`` in one transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import pendulum
from airflow.sdk import DAG, AssetAll, AssetOrTimeSchedule, CronTriggerTimetable, task

from credit_dw.orchestration.assets import PUBLISHED_MARTS, raw_table_asset
from credit_dw.orchestration.defaults import TIMEZONE, default_args, delivery_date

AS_OF_TEMPLATE = "{{ logical_date.in_timezone('" + TIMEZONE + "').strftime('%Y-%m-%d') }}"

DOC = """
### Build the warehouse

1. **validate_feeds**: GX suites on the raw batches of the run's delivery date
   (schema, required nulls, identifier validity ratio, value sets, freshness, row-count bounds).
2. **dbt_foundation** then the **dbt** task group (Cosmos): seeds, staging and intermediate
   views in one `dbt build`, then snapshots, marts and steward models into `marts_candidate`,
   one `dbt build` task per node (model plus its tests).
3. **validate_marts**: GX suites on `marts_candidate` (keys, windows, no clear ID numbers,
   subjects resolved, status values).
4. **publish**: swaps `marts_candidate` into `marts` in one transaction: analysts see the old
   or the new state, never a mix. A failure anywhere above leaves `marts` untouched.
5. **report**: the nightly quality report for stewards (also when the night is blocked):
   `var/reports/latest/index.html`; dbt docs at `var/reports/dbt-docs/index.html`.

Triggered when every raw table's Asset has been updated, or at 05:00 Asia/Shanghai at the
latest. Same steps as `credit-dw build`.
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
            timetable=CronTriggerTimetable("0 5 * * *", timezone=TIMEZONE),
            assets=AssetAll(*(raw_table_asset(t) for t in raw_tables)),
        ),
        start_date=pendulum.instance(datetime(2026, 11, 1), tz=TIMEZONE),
        catchup=False,
        max_active_runs=1,
        default_args=default_args(),
        tags=["build", "dbt", "quality"],
    ) as dag:

        @task(task_id="validate_feeds")
        def validate_feeds(**context) -> dict:
            from credit_dw import pipeline

            with _no_retry_on_gate_failure():
                return pipeline.validate_feeds_step(context["run_id"], delivery_date(context))

        @task(task_id="validate_marts")
        def validate_marts(**context) -> dict:
            from credit_dw import pipeline

            with _no_retry_on_gate_failure():
                return pipeline.validate_marts_step(context["run_id"])

        @task(task_id="publish", outlets=[PUBLISHED_MARTS])
        def publish(**context) -> dict:
            from credit_dw import pipeline

            return pipeline.publish_step(context["run_id"])

        @task(task_id="dbt_docs")
        def dbt_docs(**context) -> str:
            """Static dbt docs (one HTML file) of what was just published, for analysts."""
            from credit_dw import pipeline

            return str(pipeline.docs_step(delivery_date(context)))

        @task(task_id="report", trigger_rule="all_done", retries=1)
        def report(**context) -> str:
            """Runs also when the night is blocked: stewards need the report most then."""
            from credit_dw import pipeline

            return str(pipeline.report_step(delivery_date(context), context["run_id"]))

        feeds_ok = validate_feeds()
        # `ds` is the UTC date; the as-of date is the logical date's day in Asia/Shanghai.
        foundation, dbt = dbt_task_group(as_of_date=AS_OF_TEMPLATE)
        marts_ok = validate_marts()
        published = publish()
        feeds_ok >> foundation
        dbt >> marts_ok >> published >> [dbt_docs(), report()]
    return dag

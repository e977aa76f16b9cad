"""One factory turns each feed spec into its ``ingest_<feed>`` DAG: no per-feed code."""

from __future__ import annotations

from datetime import datetime, timedelta

import pendulum
from airflow.sdk import DAG, PokeReturnValue, task

from credit_dw.feeds import FeedSpec
from credit_dw.orchestration.assets import raw_table_asset
from credit_dw.orchestration.defaults import TIMEZONE, default_args, delivery_date

DOC = """
### Ingest `{feed}`

{description}

For logical date *D* this run waits (rescheduling, no worker slot held) for
`LANDING_ROOT/{feed}/D/_DONE`, then loads every data file of that folder: each file in one
transaction, bulk `COPY` into {tables}, rejected rows to `quality.rejected_rows` with reason
codes, one row per file in `quality.batch_manifest`. Files already loaded (same sha256) are
skipped, so reruns and backfills are safe. Same code as `credit-dw ingest {feed} --date D`.
"""


def make_ingest_dag(spec: FeedSpec) -> DAG:
    from airflow.sdk import CronDataIntervalTimetable

    outlets = [raw_table_asset(t) for t in spec.raw_tables]
    timeout = timedelta(hours=spec.done_timeout_hours)

    with DAG(
        dag_id=f"ingest_{spec.feed}",
        description=spec.description.splitlines()[0] if spec.description else spec.feed,
        doc_md=DOC.format(feed=spec.feed, description=spec.description,
                          tables=", ".join(f"`{t}`" for t in spec.raw_tables)),
        # Classic intervals: the run for delivery date D starts once D is over (at the cron time).
        schedule=CronDataIntervalTimetable(spec.schedule, timezone=TIMEZONE),
        start_date=pendulum.instance(datetime.fromisoformat(str(spec.start_date)), tz=TIMEZONE),
        catchup=True,
        max_active_runs=1,
        default_args=default_args(),
        tags=["ingest", spec.feed],
    ) as dag:

        @task.sensor(task_id="wait_for_delivery", poke_interval=300, timeout=timeout.total_seconds(),
                     mode="reschedule", retries=0)
        def wait_for_delivery(**context) -> PokeReturnValue:
            """Succeeds once the department wrote ``_DONE``; fails with a clear message on timeout."""
            from credit_dw.ingest import delivery_ready

            day = delivery_date(context)
            if delivery_ready(spec.feed, day):
                return PokeReturnValue(is_done=True, xcom_value=day.isoformat())
            # The deadline is anchored on the data interval, not on when this try started, so a
            # backfill of an old date without _DONE fails at once instead of waiting for hours.
            if pendulum.now("UTC") > context["data_interval_end"] + timeout:
                from airflow.sdk.exceptions import AirflowFailException

                from credit_dw.config import landing_root

                raise AirflowFailException(
                    f"No delivery for {spec.feed} on {day}: {landing_root() / spec.feed / day.isoformat()}"
                    f"/_DONE did not appear within {spec.done_timeout_hours} h. Ask the department to "
                    "complete the delivery (write _DONE last), then clear this task."
                )
            return PokeReturnValue(is_done=False)

        @task(task_id="load_files", outlets=outlets)
        def load_files(**context) -> dict:
            """Load the delivery; fails (after recording) if any file failed as a whole.

            Bad files, a refused folder or a missing key fail the task for good with their one-line
            message (retrying cannot fix the data); a database error mid-load may be retried.
            """
            from airflow.sdk.exceptions import AirflowException, AirflowFailException

            from credit_dw.config import ConfigError
            from credit_dw.ingest import DeliveryRefused, IngestError, WarehouseUnavailable, ingest_delivery
            from credit_dw.ingest.reasons import DATABASE_ERROR

            try:
                result = ingest_delivery(spec.feed, delivery_date(context))
            except IngestError as exc:
                if any((f.message or "").startswith(DATABASE_ERROR) for f in exc.result.failed):
                    raise AirflowException(str(exc)) from None
                raise AirflowFailException(str(exc)) from None
            except WarehouseUnavailable as exc:
                raise AirflowException(str(exc)) from None
            except (ConfigError, DeliveryRefused) as exc:
                raise AirflowFailException(str(exc)) from None
            return result.as_dict()

        wait_for_delivery() >> load_files()
    return dag

"""One factory turns each feed spec into its ``ingest_<feed>`` DAG: no per-feed code."""

from __future__ import annotations

from datetime import datetime, timedelta

import pendulum
from airflow.sdk import DAG, Param, PokeReturnValue, task

from credit_dw.config import TIMEZONE, start_date
from credit_dw.feeds import FeedSpec
from credit_dw.orchestration.assets import raw_table_asset
from credit_dw.orchestration.defaults import (
    default_args,
    delivery_date,
    done_timeout_hours,
    poke_interval_seconds,
)

DOC = """
### Ingest `{feed}`

{description}

A scheduled run is for the delivery date *D* of its data interval (the run starts once *D* is
over, at the cron time). It waits (rescheduling, no worker slot held) for
`LANDING_ROOT/{feed}/D/_DONE`, then loads every data file of that folder: each file in one
transaction, bulk `COPY` into {tables}, rejected rows to `quality.rejected_rows` with reason
codes, one row per file in `quality.batch_manifest`. Files already loaded (same sha256) are
skipped, so reruns and backfills are safe; a run that loads nothing new is *skipped* and
updates no Asset, so it never starts a build. A manual run needs the `delivery_date` param.
Same code as `credit-dw ingest {feed} --date D`.

The first night scheduled is `CREDIT_DW_START_DATE` (default: the day of deployment).
"""


def make_ingest_dag(spec: FeedSpec) -> DAG:
    from airflow.sdk import CronDataIntervalTimetable

    outlets = [raw_table_asset(t) for t in spec.raw_tables]
    timeout_hours = done_timeout_hours(spec.done_timeout_hours)
    timeout = timedelta(hours=timeout_hours)

    with DAG(
        dag_id=f"ingest_{spec.feed}",
        description=spec.description.splitlines()[0] if spec.description else spec.feed,
        doc_md=DOC.format(feed=spec.feed, description=spec.description,
                          tables=", ".join(f"`{t}`" for t in spec.raw_tables)),
        # Classic intervals: the run for delivery date D starts once D is over (at the cron time).
        schedule=CronDataIntervalTimetable(spec.schedule, timezone=TIMEZONE),
        start_date=pendulum.instance(datetime.combine(start_date(), datetime.min.time()), tz=TIMEZONE),
        catchup=True,
        max_active_runs=1,
        default_args=default_args(),
        params={"delivery_date": Param(None, type=["null", "string"], format="date",
                                       description="manual runs only: the delivery date to load")},
        tags=["ingest", spec.feed],
    ) as dag:

        @task.sensor(task_id="wait_for_delivery", poke_interval=poke_interval_seconds(),
                     timeout=timeout.total_seconds(), mode="reschedule", retries=2)
        def wait_for_delivery(**context) -> PokeReturnValue:
            """Succeeds once the department wrote ``_DONE``; fails with a clear message on timeout.

            Retries cover the infrastructure (a worker lost, the API unreachable); the deadline
            itself fails with ``AirflowFailException``, which is never retried, so a missing
            delivery alerts once per feed and night.
            """
            from credit_dw.ingest import delivery_ready

            day = delivery_date(context)
            if delivery_ready(spec.feed, day):
                return PokeReturnValue(is_done=True, xcom_value=day.isoformat())
            # The deadline is anchored on the end of the night (the data interval), not on when
            # this try started, so a backfill of an old date without _DONE fails at once instead
            # of waiting for hours; a manual run has no interval and waits from when it was due.
            anchor = context.get("data_interval_end") or context["dag_run"].run_after
            if pendulum.now("UTC") > pendulum.instance(anchor) + timeout:
                from airflow.sdk.exceptions import AirflowFailException

                from credit_dw.config import landing_root

                raise AirflowFailException(
                    f"No delivery for {spec.feed} on {day}: {landing_root() / spec.feed / day.isoformat()}"
                    f"/_DONE did not appear within {timeout_hours:g} h. Ask the department to "
                    "complete the delivery (write _DONE last), then clear this task."
                )
            return PokeReturnValue(is_done=False)

        @task(task_id="load_files", outlets=outlets)
        def load_files(**context) -> dict:
            """Load the delivery; raises (after recording) if any file failed as a whole.

            The Asset events carry what was loaded (feed, delivery date, batch ids), so the build
            they trigger can log and store what started it. Nothing new loaded (a rerun, a
            cleared task): skipped, so no Asset event and no build.
            """
            from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException

            from credit_dw.config import ConfigError
            from credit_dw.ingest import DeliveryRefused, IngestError, WarehouseUnavailable, ingest_delivery
            from credit_dw.ingest.reasons import DATABASE_ERROR

            day = delivery_date(context)
            # Bad files, a refused folder or a missing key fail the task for good with their
            # one-line message (retrying cannot fix the data); a database error may be retried.
            try:
                result = ingest_delivery(spec.feed, day)
            except IngestError as exc:
                if any((f.message or "").startswith(DATABASE_ERROR) for f in exc.result.failed):
                    raise AirflowException(str(exc)) from None
                raise AirflowFailException(str(exc)) from None
            except WarehouseUnavailable as exc:
                raise AirflowException(str(exc)) from None
            except (ConfigError, DeliveryRefused) as exc:
                raise AirflowFailException(str(exc)) from None
            if not result.batch_ids:
                raise AirflowSkipException(f"{spec.feed} {day}: nothing new to load (every file already loaded)")
            extra = {"feed": spec.feed, "delivery_date": day.isoformat(), "batch_ids": result.batch_ids}
            for asset in outlets:
                context["outlet_events"][asset].extra = extra
            return result.as_dict()

        wait_for_delivery() >> load_files()
    return dag

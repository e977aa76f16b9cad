"""Task defaults shared by every DAG (owner, retries, alerting) and what a run is for.

What a run is for is read from what Airflow always provides. In Airflow 3 a run triggered by
Assets (also a run of a DAG scheduled on Assets *or* time) has no logical date and no data
interval, and a manual run may have none either; ``run_after`` is always set. So:

- ingest runs (cron with classic data intervals) are for the delivery date of their data
  interval, or for an explicit ``delivery_date`` param on a manual run;
- build runs are for the night they run in, the Asia/Shanghai date of ``run_after``, or for an
  explicit ``as_of`` param (re-evaluation, backfill).
"""

from __future__ import annotations

import os
from datetime import date, timedelta
from typing import Any

from credit_dw.config import TIMEZONE


def _on_failure(context: dict[str, Any]) -> None:
    # Imported lazily: the alert module needs a database connection only when a task fails.
    from credit_dw.quality.alerts import on_failure_callback

    on_failure_callback(context)


def default_args(owner: str = "credit-data-platform") -> dict[str, Any]:
    return {
        "owner": owner,
        "retries": 3,
        "retry_delay": timedelta(minutes=2),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=30),
        "on_failure_callback": _on_failure,
    }


def _shanghai_day(moment: Any) -> date:
    import pendulum

    return pendulum.instance(moment).in_timezone(TIMEZONE).date()


def delivery_date(context: dict[str, Any]) -> date:
    """The delivery date an ingest run is for (tasks key their work on it, never on 'today').

    A scheduled or backfill run: its logical date (the start of its data interval), as a Shanghai
    calendar day. A manual run: its ``delivery_date`` param. Neither: a clear error, not a ``KeyError``.
    """
    explicit = (context.get("params") or {}).get("delivery_date")
    if explicit:
        return date.fromisoformat(str(explicit))
    # Scheduled runs of a classic-interval timetable: logical date == start of the data interval.
    start = context.get("logical_date") or context.get("data_interval_start")
    if start is None:
        raise ValueError(
            "this run has no data interval (a manual run without a logical date): trigger it with "
            'conf {"delivery_date": "YYYY-MM-DD"} or use `credit-dw ingest FEED --date D`.'
        )
    return _shanghai_day(start)


def as_of_date(context: dict[str, Any]) -> date:
    """The night a build run is for: the ``as_of`` param, else the Shanghai day of ``run_after``."""
    explicit = (context.get("params") or {}).get("as_of")
    if explicit:
        return date.fromisoformat(str(explicit))
    return _shanghai_day(context["dag_run"].run_after)


def poke_interval_seconds() -> float:
    """How often a waiting ingest run looks for ``_DONE`` (``CREDIT_DW_POKE_INTERVAL_SECONDS``, 300)."""
    return float(os.environ.get("CREDIT_DW_POKE_INTERVAL_SECONDS", "300"))


def done_timeout_hours(spec_hours: float) -> float:
    """How long past its night an ingest run waits for ``_DONE``: the spec's value, unless the
    deployment sets ``CREDIT_DW_DONE_TIMEOUT_HOURS`` for every feed (e.g. a long holiday)."""
    return float(os.environ.get("CREDIT_DW_DONE_TIMEOUT_HOURS") or spec_hours)

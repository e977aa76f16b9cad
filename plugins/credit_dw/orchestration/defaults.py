"""Task defaults shared by every DAG: owner, retries with exponential backoff, alerting."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

TIMEZONE = "Asia/Shanghai"


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


def delivery_date(context: dict[str, Any]):
    """The delivery date a run is for: its logical date, as a calendar day in Asia/Shanghai.

    Tasks key their work on this (never on 'today'), so reruns and backfills are exact.
    """
    import pendulum

    logical = context.get("logical_date") or context["data_interval_start"]
    return pendulum.instance(logical).in_timezone(TIMEZONE).date()

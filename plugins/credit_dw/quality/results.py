"""GX validation results as rows of ``quality.validation_run``: stored for every validation,
passing or not, so a steward can always answer "why was this night blocked" with SQL.

Only ``critical`` failures make a validation unsuccessful (``success`` = the gate verdict for
that suite); ``warning`` failures (e.g. a late delivery) are stored in ``failed_expectations``
with their severity. Sample values are masked (:mod:`credit_dw.quality.masking`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from credit_dw.quality.masking import mask_values

SAMPLE_SIZE = 10


@dataclass(frozen=True)
class ValidationOutcome:
    """One suite validated against one target, as stored."""

    suite: str
    target: str
    success: bool
    evaluated: int
    successful: int
    statistics: dict[str, Any]
    failed_expectations: list[dict[str, Any]]
    batch_id: int | None = None
    validation_id: int | None = field(default=None, compare=False)

    @property
    def critical_failures(self) -> list[dict[str, Any]]:
        return [f for f in self.failed_expectations if f.get("severity", "critical") == "critical"]


def _severity(config: Any) -> str:
    severity = getattr(config, "severity", "critical")
    return str(getattr(severity, "value", severity))


def _observed(result: dict[str, Any], exception: str | None) -> Any:
    if exception:
        return f"error: {exception}"
    if "observed_value" in result:
        return result["observed_value"]
    if "unexpected_count" in result:
        return {
            "unexpected_count": result.get("unexpected_count"),
            "unexpected_percent": round(result.get("unexpected_percent") or 0.0, 3),
            "element_count": result.get("element_count"),
        }
    return None


def _sample(result: dict[str, Any]) -> list[Any]:
    if result.get("partial_unexpected_list"):
        return list(result["partial_unexpected_list"])[:SAMPLE_SIZE]
    rows = (result.get("details") or {}).get("unexpected_rows")
    if rows:
        return list(rows)[:SAMPLE_SIZE]
    return []


def _exception_message(info: dict[str, Any]) -> str | None:
    """GX reports errors either flat or keyed by metric; first line of the first message."""
    if info.get("raised_exception"):
        return str(info.get("exception_message") or "").splitlines()[0]
    for value in info.values():
        if isinstance(value, dict) and (value.get("exception_message") or value.get("exception_traceback")):
            text = str(value.get("exception_message") or value.get("exception_traceback"))
            return text.strip().splitlines()[-1] if not value.get("exception_message") else text.splitlines()[0]
    return None


def failed_expectation(er: Any) -> dict[str, Any]:
    """One failed ``ExpectationValidationResult`` as JSON: what, where, observed, masked sample."""
    config = er.expectation_config
    result = dict(er.result or {})
    exception = _exception_message(er.exception_info or {})
    kwargs = {k: v for k, v in dict(config.kwargs).items() if k != "batch_id"}
    return mask_values(json.loads(json.dumps({
        "expectation": config.type,
        "column": kwargs.get("column") or kwargs.get("column_list"),
        "description": getattr(config, "description", None),
        "severity": _severity(config),
        "kwargs": kwargs,
        "observed": _observed(result, exception),
        "sample_unexpected": _sample(result),
    }, default=str)))


def with_sample(failure: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """``failure`` with ``rows`` as its sample; rows of the ID-leak check (which carry
    ``columns_with_clear_id``) also name the failure's columns. Masked like every sample."""
    found = {c for row in rows for c in str(row.get("columns_with_clear_id") or "").split(", ") if c}
    return mask_values(json.loads(json.dumps({
        **failure,
        "column": failure.get("column") or (", ".join(sorted(found)) or None),
        "sample_unexpected": rows[:SAMPLE_SIZE],
    }, default=str)))


def outcome_from_gx(suite: str, target: str, validation: Any, extra_stats: dict[str, Any],
                    batch_id: int | None = None) -> ValidationOutcome:
    """Summarise an ``ExpectationSuiteValidationResult``."""
    failed = [failed_expectation(er) for er in validation.results if not er.success]
    stats = dict(validation.statistics)
    critical = [f for f in failed if f["severity"] == "critical"]
    stats.update(extra_stats, critical_failures=len(critical), warnings=len(failed) - len(critical))
    return ValidationOutcome(
        suite=suite,
        target=target,
        success=not critical,
        evaluated=int(stats.get("evaluated_expectations") or 0),
        successful=int(stats.get("successful_expectations") or 0),
        statistics=json.loads(json.dumps(stats, default=str)),
        failed_expectations=failed,
        batch_id=batch_id,
    )


def missing_target(suite: str, target: str, reason: str) -> ValidationOutcome:
    """A target that could not be validated at all (e.g. a mart dbt did not build) fails."""
    return ValidationOutcome(
        suite=suite,
        target=target,
        success=False,
        evaluated=1,
        successful=0,
        statistics={"critical_failures": 1, "warnings": 0},
        failed_expectations=[{
            "expectation": "table_exists", "column": None, "description": reason,
            "severity": "critical", "kwargs": {}, "observed": "missing", "sample_unexpected": [],
        }],
    )


def store(conn: psycopg.Connection, run_id: str, outcome: ValidationOutcome,
          stage: str = "feeds") -> ValidationOutcome:
    """Insert one ``quality.validation_run`` row; returns the outcome with its id.

    ``batch_ids`` (every batch the validation covered, from its statistics) is what makes a
    batch *gated* once the build reaches a verdict (view ``quality.gated_batch``).
    """
    batch_ids = outcome.statistics.get("batch_ids") or ([outcome.batch_id] if outcome.batch_id else None)
    (validation_id,) = conn.execute(
        "insert into quality.validation_run (suite, target, run_id, stage, batch_id, batch_ids, success,"
        " evaluated, successful, statistics, failed_expectations)"
        " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) returning validation_id",
        (outcome.suite, outcome.target, run_id, stage, outcome.batch_id, batch_ids, outcome.success,
         outcome.evaluated, outcome.successful, Jsonb(outcome.statistics), Jsonb(outcome.failed_expectations)),
    ).fetchone()
    return ValidationOutcome(**{**outcome.__dict__, "validation_id": validation_id})

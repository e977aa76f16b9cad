"""The build steps shared by the ``build_warehouse`` DAG and ``credit-dw build``.

Each step is a plain function keyed by its run id and date, so the DAG tasks and the CLI run
the very same code: validate feeds → dbt → validate candidate marts → publish → report.
A failed gate records the blocked verdict and raises; ``marts`` stays as it was.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from credit_dw import db


def batches_for(day: date) -> list[int]:
    """The loaded batches of one delivery date: what a night's feed validation looks at."""
    with db.connect() as conn:
        rows = conn.execute(
            "select batch_id from quality.batch_manifest where status = 'loaded' and delivery_date = %s"
            " order by batch_id",
            (day,),
        ).fetchall()
    return [r[0] for r in rows]


def _gate(result, run_id: str, stage: str) -> dict:
    from credit_dw.quality import gate, publish

    try:
        gate.assert_passed(result)
    except gate.QualityGateError as exc:
        publish.record_blocked(run_id, f"{stage}: {exc}")
        raise
    return {"stage": stage, "success": True}


def validate_feeds_step(run_id: str, day: date | None = None) -> dict:
    from credit_dw.quality import gate

    batch_ids = batches_for(day) if day else None
    return _gate(gate.validate_feeds(run_id, batch_ids=batch_ids, as_of=day), run_id, "feeds")


def _as_of_vars(as_of: date) -> str:
    """dbt ``--vars`` for the as-of date every window and status is evaluated on."""
    return f"{{as_of_date: '{as_of.isoformat()}'}}"


def dbt_build_step(as_of: date) -> None:
    """The whole dbt project in one ``dbt build`` (the DAG runs the same nodes via Cosmos)."""
    from credit_dw.dbt import run_dbt

    run_dbt(["build", "--vars", _as_of_vars(as_of)])


def validate_marts_step(run_id: str) -> dict:
    from credit_dw.quality import gate

    return _gate(gate.validate_candidate_marts(run_id), run_id, "marts")


def publish_step(run_id: str) -> dict:
    from credit_dw.quality import publish

    publish.publish(run_id)
    return {"published": True}


def docs_step(as_of: date) -> Path:
    """dbt docs as one static HTML file for analysts: ``<reports>/dbt-docs/index.html``."""
    import shutil

    from credit_dw.config import reports_dir
    from credit_dw.dbt import DBT_PROJECT_DIR, run_dbt

    run_dbt(["docs", "generate", "--static", "--vars", _as_of_vars(as_of)])
    target = reports_dir() / "dbt-docs" / "index.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(DBT_PROJECT_DIR / "target" / "static_index.html", target)
    return target


def report_step(ds: str | date, run_id: str) -> Path:
    """Render the nightly report; first make sure the run has a verdict.

    A run that failed before the gate (e.g. a dbt test on a duplicated key) never reached
    ``publish``; it is recorded as blocked here so the quality history has every night.
    """
    from credit_dw.quality import publish
    from credit_dw.report import render_report

    with db.connect() as conn:
        has_verdict = conn.execute(
            "select 1 from quality.publication where run_id = %s", (run_id,)
        ).fetchone()
    if not has_verdict:
        publish.record_blocked(
            run_id, "the build did not complete (dbt or a gate failed); see the run's failed tasks"
        )
    as_of = date.fromisoformat(ds) if isinstance(ds, str) else ds
    return render_report(as_of=as_of, run_id=run_id)


def build(as_of: date, run_id: str) -> Path:
    """Everything ``build_warehouse`` does, in-process; returns the report path.

    The report is rendered even when a gate blocks publication (then the error is re-raised).
    """
    try:
        validate_feeds_step(run_id, as_of)
        dbt_build_step(as_of)
        validate_marts_step(run_id)
        publish_step(run_id)
        docs_step(as_of)
    finally:
        report = report_step(as_of, run_id)
    return report

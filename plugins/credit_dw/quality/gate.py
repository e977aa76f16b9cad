"""The quality gates: GX suites on the night's raw batches and on the candidate marts.

Every validation is stored in ``quality.validation_run`` before the verdict is returned, also
when it fails (results are data; the task still fails through :func:`assert_passed`). Callers:
the ``build_warehouse`` DAG and ``credit-dw build``::

    result = validate_feeds(run_id, batch_ids)      # before dbt
    assert_passed(result)
    result = validate_candidate_marts(run_id)       # after dbt, before publish
    assert_passed(result)                           # on QualityGateError: record_blocked(...)
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from psycopg.rows import dict_row

from credit_dw import db
from credit_dw.quality import night, results, suites
from credit_dw.quality.results import ValidationOutcome

TIMEZONE = ZoneInfo("Asia/Shanghai")
# Enough samples for a steward to recognise the problem, bounded so results stay small.
RESULT_FORMAT = {"result_format": "SUMMARY", "partial_unexpected_count": results.SAMPLE_SIZE}


class QualityGateError(Exception):
    """A gate found critical failures; the message names suite, column, expectation, observed."""

    def __init__(self, result: GateResult):
        self.result = result
        super().__init__(result.describe())


@dataclass(frozen=True)
class GateResult:
    run_id: str
    stage: str                                   # 'feeds' or 'marts'
    outcomes: tuple[ValidationOutcome, ...]

    @property
    def passed(self) -> bool:
        return all(o.success for o in self.outcomes)

    def failures(self) -> list[tuple[ValidationOutcome, dict[str, Any]]]:
        return [(o, f) for o in self.outcomes for f in o.critical_failures]

    def describe(self) -> str:
        if self.passed:
            return f"{self.stage} gate passed for run {self.run_id}: {len(self.outcomes)} validations"
        breaches = [b for o in self.outcomes if not o.success for b in o.statistics.get("breaches", [])]
        # The first line is what an alert's summary shows: make it name the problem.
        headline = ""
        if breaches:
            headline = f"; {breaches[0]}" + (f" (+{len(breaches) - 1} more)" if len(breaches) > 1 else "")
        lines = [f"{self.stage} gate failed for run {self.run_id}{headline}:"]
        lines += [f"  - {b}" for b in breaches]
        for outcome, failure in self.failures():
            column = failure.get("column")
            where = f"{outcome.target}.{column}" if column else outcome.target
            what = failure.get("description") or failure["expectation"]
            if failure.get("description"):
                what = f"{failure['expectation']} ({failure['description']})"
            lines.append(
                f"  - suite {outcome.suite}: {where} {what}, observed {failure.get('observed')}"
            )
        lines.append("See quality.validation_run (run_id above) and the nightly report / GX Data Docs.")
        return "\n".join(lines)


def assert_passed(result: GateResult) -> None:
    """Raise :class:`QualityGateError` unless every validation of ``result`` succeeded."""
    if not result.passed:
        raise QualityGateError(result)


def today() -> date:
    return datetime.now(TIMEZONE).date()


@dataclass(frozen=True)
class _Plan:
    """One validation to run: a suite (built lazily, GX is imported late) on one asset."""

    suite: Callable[[], Any]
    suite_name: str
    asset: str
    target: str
    query: str | None = None            # query asset; else a table asset on ``target``
    statistics: dict[str, Any] = field(default_factory=dict)
    batch_id: int | None = None


def validate_feeds(run_id: str, batch_ids: list[int] | None = None, *, as_of: date | None = None,
                   dsn: str | None = None) -> GateResult:
    """Validate raw batches (``None``: each feed's latest delivery) and store the results.

    The build passes the *pending* batches (:func:`credit_dw.quality.night.pending_batches`).
    Per raw table the rows of those batches (schema, required fields, identifier shape and
    validity ratio, value sets); the share of rows quarantined at ingestion per file and per
    night; per feed the deliveries (row counts against the trailing median, freshness as a
    warning). ``as_of`` is the night the build is for (default: today, Shanghai).
    """
    as_of = as_of or today()
    plans: list[_Plan] = []
    params: dict[str, Any] = {}
    with db.connect(dsn) as conn:
        for feed, feed_ids in night.night_batches(conn, batch_ids).items():
            for table, ids in night.split_by_table(conn, feed, feed_ids).items():
                id_list = ", ".join(str(int(i)) for i in ids)
                bounds = night.row_bounds(conn, feed, table, ids, night.count_bounds(feed, table))
                params[f"{table}_min_rows"] = bounds.min_rows or 0
                params[f"{table}_max_rows"] = bounds.max_rows
                params[f"{table}_max_age_days"] = night.max_delivery_age_days(feed)
                statistics = {"feed": feed, "batch_ids": ids}
                plans.append(_Plan(
                    suite=lambda table=table: suites.delivery_suite(table),
                    suite_name=f"delivery_{table}",
                    asset=f"delivery_{table}_night",
                    target=f"quality.batch_manifest[raw.{table}]",
                    query=(
                        "select delivery_date, count(*) as files, sum(rows_read) as rows_read,"
                        " sum(rows_loaded) as rows_loaded, sum(rows_rejected) as rows_rejected,"
                        f" date '{as_of.isoformat()}' - delivery_date as age_days"
                        f" from quality.batch_manifest where batch_id in ({id_list}) group by delivery_date"
                    ),
                    statistics={**statistics, "as_of": as_of.isoformat(), "trailing_median": bounds.median,
                                "trailing_deliveries": bounds.history, "min_rows": bounds.min_rows,
                                "max_rows": bounds.max_rows},
                    batch_id=ids[0] if len(ids) == 1 else None,
                ))
                rejection = night.rejection_bounds(feed)
                params[f"{table}_max_file_share"] = rejection.max_share_per_file
                params[f"{table}_max_night_share"] = rejection.max_share_per_night
                plans.append(_Plan(
                    suite=lambda table=table: suites.rejection_suite(table),
                    suite_name=f"rejects_{table}",
                    asset=f"rejects_{table}_night",
                    target=f"quality.batch_manifest[raw.{table}]",
                    query=night.rejection_query(ids, rejection),
                    statistics={**statistics, "max_share_per_file": rejection.max_share_per_file,
                                "max_share_per_night": rejection.max_share_per_night,
                                "min_rows_per_file": rejection.min_rows,
                                "breaches": night.rejection_breaches(conn, ids, rejection)},
                    batch_id=ids[0] if len(ids) == 1 else None,
                ))
                rules = suites.RAW_TABLES.get(table)
                if rules is None:
                    continue  # a table without rules is covered by dbt source tests only
                plans.append(_Plan(
                    suite=lambda rules=rules: suites.raw_table_suite(rules),
                    suite_name=f"raw_{table}",
                    asset=f"raw_{table}_night",
                    target=f"raw.{table}",
                    query=f"select * from raw.{table} where batch_id in ({id_list})",
                    statistics=statistics,
                    batch_id=ids[0] if len(ids) == 1 else None,
                ))
    outcomes = _run(run_id, "feeds", plans, params, dsn)
    return _store(run_id, "feeds", outcomes, dsn)


# Each candidate table's first unique index, as its columns: how a failure names a row of a
# mart that has no rules of its own (its dbt model's unique key).
_UNIQUE_KEYS = """
select distinct on (t.relname) t.relname, array_agg(a.attname order by k.ord)
from pg_index i
join pg_class t on t.oid = i.indrelid
join pg_namespace n on n.oid = t.relnamespace
cross join lateral unnest(i.indkey) with ordinality as k(attnum, ord)
join pg_attribute a on a.attrelid = t.oid and a.attnum = k.attnum
where n.nspname = %s and i.indisunique
group by t.relname, i.indexrelid
order by t.relname, i.indexrelid
"""


def validate_candidate_marts(run_id: str, *, as_of: date | None = None,
                             dsn: str | None = None) -> GateResult:
    """Validate every table in ``marts_candidate`` (and require the core marts) before publish.

    ``as_of``: the date publicity windows are checked on; by default the mart's own as-of
    date, ``max(disclosed_as_of)`` (the date dbt last built it for).
    """
    with db.connect(dsn) as conn:
        columns: dict[str, dict[str, bool]] = {}
        for table, column, is_text in conn.execute(
            "select c.table_name, c.column_name, c.data_type in ('text', 'character varying', 'character')"
            " from information_schema.columns c where c.table_schema = %s"
            " order by c.table_name, c.ordinal_position",
            (suites.CANDIDATE_SCHEMA,),
        ).fetchall():
            columns.setdefault(table, {})[column] = is_text
        unique_keys = dict(conn.execute(_UNIQUE_KEYS, (suites.CANDIDATE_SCHEMA,)).fetchall())
    outcomes = [
        results.missing_target(f"mart_{t}", f"{suites.CANDIDATE_SCHEMA}.{t}",
                               f"{suites.CANDIDATE_SCHEMA}.{t} does not exist: did dbt build it?")
        for t in suites.MART_TABLES
        if t not in columns
    ]
    plans = [
        _Plan(
            suite=lambda t=t, cols=cols: suites.mart_suite(suites.MART_TABLES.get(t), t, cols, as_of,
                                                          tuple(unique_keys.get(t, ()))),
            suite_name=f"mart_{t}",
            asset=f"mart_{t}",
            target=f"{suites.CANDIDATE_SCHEMA}.{t}",
            statistics={"as_of": as_of.isoformat() if as_of else suites.AS_OF_COLUMN},
        )
        for t, cols in sorted(columns.items())
    ]
    outcomes += _run(run_id, "marts", plans, {}, dsn)
    return _store(run_id, "marts", outcomes, dsn)


def _run(run_id: str, stage: str, plans: list[_Plan], params: dict[str, Any],
         dsn: str | None) -> list[ValidationOutcome]:
    """Build assets, suites and one checkpoint, run it, then update Data Docs for its results."""
    if not plans:
        return []
    from great_expectations import Checkpoint, ValidationDefinition
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

    from credit_dw.quality import context as gxc

    checkpoint_name = f"{stage}_gate"
    with gxc.open_context(dsn) as (context, datasource):
        # Delete dependants first: a checkpoint refers to validation definitions, those to assets.
        with contextlib.suppress(Exception):  # absent on the first run
            context.checkpoints.delete(checkpoint_name)
        for plan in plans:
            gxc.delete_validation_definition(context, plan.suite_name)
        definitions = []
        for plan in plans:
            if plan.query is not None:
                asset = gxc.replace_query_asset(datasource, plan.asset, plan.query)
            else:
                schema, table = plan.target.split(".", 1)
                asset = gxc.table_asset(gxc.table_datasource(context), plan.asset, schema, table)
            batch = gxc.whole_table_batch(asset)
            suite = gxc.replace_by_name(context.suites, plan.suite_name, plan.suite())
            definitions.append(context.validation_definitions.add(
                ValidationDefinition(name=plan.suite_name, data=batch, suite=suite)
            ))
        checkpoint = context.checkpoints.add(Checkpoint(
            name=checkpoint_name,
            validation_definitions=definitions,
            result_format=RESULT_FORMAT,
        ))
        run = checkpoint.run(expectation_parameters=params, run_id=RunIdentifier(run_name=run_id))
        # Data Docs once for the whole checkpoint: GX's UpdateDataDocsAction rebuilds the site
        # index after *each* validation (16 times a night, slower as the history grows).
        context.build_data_docs(resource_identifiers=[
            identifier
            for result_id, result in run.run_results.items()
            for identifier in (result_id, ExpectationSuiteIdentifier(name=result.suite_name))
        ])
    by_suite = {v.suite_name: v for v in run.run_results.values()}
    outcomes = [
        results.outcome_from_gx(p.suite_name, p.target, by_suite[p.suite_name], p.statistics, p.batch_id)
        for p in plans
    ]
    return [_locate_clear_ids(o, p, dsn) for o, p in zip(outcomes, plans, strict=True)]


def _locate_clear_ids(outcome: ValidationOutcome, plan: _Plan, dsn: str | None) -> ValidationOutcome:
    """Name the rows and columns of a failed ID-leak check (``suites.no_clear_id_expectation``).

    GX's SUMMARY result of an ``UnexpectedRowsExpectation`` holds only the count (the rows come
    with COMPLETE, which would make every column check return all its unexpected values), so
    the few rows a steward needs are fetched here with the same query: row key and column names,
    never the value.
    """
    def is_leak(failure: dict[str, Any]) -> bool:
        return str(failure.get("description") or "").startswith(suites.NO_CLEAR_ID)

    if not any(is_leak(f) for f in outcome.failed_expectations):
        return outcome
    batch = f"({plan.query})" if plan.query is not None else plan.target
    with db.connect(dsn) as conn, conn.cursor(row_factory=dict_row) as cur:
        failed = [
            results.with_sample(f, cur.execute(
                f"{f['kwargs']['unexpected_rows_query'].format(batch=batch)} limit {results.SAMPLE_SIZE}"
            ).fetchall()) if is_leak(f) else f
            for f in outcome.failed_expectations
        ]
    return replace(outcome, failed_expectations=failed)


def _store(run_id: str, stage: str, outcomes: list[ValidationOutcome], dsn: str | None) -> GateResult:
    with db.transaction(dsn) as conn:
        stored = tuple(results.store(conn, run_id, o, stage) for o in outcomes)
    return GateResult(run_id=run_id, stage=stage, outcomes=stored)

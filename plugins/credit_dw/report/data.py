"""What the nightly report shows, read from the warehouse as plain dicts.

Every query is bounded (a night, 30 nights, or a LIMIT) so the report costs the same at any
warehouse size, and every optional relation (marts not yet published, steward models not yet
built) is looked up first, so the report renders on an empty warehouse too. Values that could
carry a personal ID are masked here, before they reach the template.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import psycopg
from psycopg import sql

from credit_dw.quality.gate import TIMEZONE
from credit_dw.quality.masking import mask_values

TREND_NIGHTS = 30
SAMPLE_ROWS = 20


@dataclass
class Table:
    """A generic sample of a relation: column names, masked rows, the total count."""

    source: str | None
    columns: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    total: int = 0


def _day(as_of: date) -> tuple[datetime, datetime]:
    """The night's calendar day in Asia/Shanghai, whatever the session time zone."""
    start = datetime.combine(as_of, time(), TIMEZONE)
    return start, start + timedelta(days=1)


def _exists(conn: psycopg.Connection, relation: str) -> bool:
    return conn.execute("select to_regclass(%s) is not null", (relation,)).fetchone()[0]


def _dicts(cursor: psycopg.Cursor) -> list[dict[str, Any]]:
    names = [d.name for d in cursor.description]
    return [dict(zip(names, mask_values(list(row)), strict=True)) for row in cursor.fetchall()]


def deliveries(conn: psycopg.Connection, as_of: date) -> dict[str, list[dict[str, Any]]]:
    """Per feed, per delivery night of the trailing 30: files, received, loaded, rejected, failed."""
    cur = conn.execute(
        "select feed, delivery_date, count(*) as files,"
        " count(*) filter (where status = 'failed') as failed_files,"
        " coalesce(sum(rows_read), 0) as received, coalesce(sum(rows_loaded), 0) as loaded,"
        " coalesce(sum(rows_rejected), 0) as rejected, coalesce(sum(rows_warned), 0) as warned"
        " from quality.batch_manifest where delivery_date between %s and %s"
        " group by feed, delivery_date order by feed, delivery_date",
        (as_of - timedelta(days=TREND_NIGHTS - 1), as_of),
    )
    per_feed: dict[str, list[dict[str, Any]]] = {}
    for row in _dicts(cur):
        per_feed.setdefault(row["feed"], []).append(row)
    return per_feed


def rejection_reasons(conn: psycopg.Connection, as_of: date) -> list[dict[str, Any]]:
    """Top reasons of the night with up to three example rows each (file, row, message, record)."""
    reasons = _dicts(conn.execute(
        "select r.feed, reason, count(*) as rows from quality.rejected_rows r"
        " join quality.batch_manifest m using (batch_id), unnest(r.reason_codes) as reason"
        " where m.delivery_date = %s group by r.feed, reason order by count(*) desc, r.feed, reason limit 15",
        (as_of,),
    ))
    for reason in reasons:
        reason["examples"] = _dicts(conn.execute(
            "select r.source_file, r.source_row, r.message, left(r.raw_record, 300) as raw_record"
            " from quality.rejected_rows r join quality.batch_manifest m using (batch_id)"
            " where m.delivery_date = %s and r.feed = %s and %s = any(r.reason_codes)"
            " order by r.rejected_id limit 3",
            (as_of, reason["feed"], reason["reason"]),
        ))
        for example in reason["examples"]:
            example["message"] = _without_location(example)
    return reasons


def _without_location(example: dict[str, Any]) -> str:
    """The message without the loader's ``<file> row <n>: `` prefix: the template shows both."""
    return example["message"].removeprefix(f"{example['source_file']} row {example['source_row']}: ")


def gate(conn: psycopg.Connection, as_of: date, run_id: str | None = None) -> dict[str, Any]:
    """The night's verdict: the run's (or else the day's latest) publish decision and validations."""
    if run_id is not None:
        publication = _dicts(conn.execute(
            "select run_id, verdict, message, published_at, mart_row_counts from quality.publication"
            " where run_id = %s order by publication_id desc limit 1", (run_id,),
        ))
        run_ids = [run_id]
    else:
        publication = _dicts(conn.execute(
            "select run_id, verdict, message, published_at, mart_row_counts from quality.publication"
            " where published_at >= %s and published_at < %s order by publication_id desc limit 1",
            _day(as_of),
        ))
        run_ids = [publication[0]["run_id"]] if publication else [
            r[0] for r in conn.execute(
                "select distinct run_id from quality.validation_run"
                " where validated_at >= %s and validated_at < %s order by run_id", _day(as_of),
            ).fetchall()
        ]
    validations = _dicts(conn.execute(
        "select validation_id, suite, target, run_id, success, evaluated, successful,"
        " failed_expectations, validated_at from quality.validation_run"
        " where run_id = any(%s) order by success, suite, validation_id",
        (run_ids,),
    ))
    return {
        "publication": publication[0] if publication else None,
        "validations": validations,
        "failed": [v for v in validations if not v["success"] or v["failed_expectations"]],
        "run_ids": run_ids,
    }


def sample(conn: psycopg.Connection, candidates: list[tuple[str, sql.Composable | None]]) -> Table:
    """The first relation of ``candidates`` that exists: total count and the first rows."""
    for relation, query in candidates:
        if not _exists(conn, relation):
            continue
        schema, name = relation.split(".", 1)
        source = query or sql.SQL("select * from {}.{}").format(sql.Identifier(schema), sql.Identifier(name))
        total = conn.execute(sql.SQL("select count(*) from ({}) s").format(source)).fetchone()[0]
        cur = conn.execute(sql.SQL("select * from ({}) s limit {}").format(source, sql.Literal(SAMPLE_ROWS)))
        columns = [d.name for d in cur.description]
        rows = [mask_values([_cell(v) for v in row]) for row in cur.fetchall()]
        return Table(source=relation, columns=columns, rows=rows, total=total)
    return Table(source=None)


def _cell(value: Any) -> str | None:
    if isinstance(value, datetime):
        return value.astimezone(TIMEZONE).strftime("%Y-%m-%d %H:%M:%S") if value.tzinfo else str(value)
    return None if value is None else str(value)


def unresolved_subjects(conn: psycopg.Connection) -> Table:
    return sample(conn, [("marts.unresolved_subject_records", None)])


def register_anomalies(conn: psycopg.Connection) -> Table:
    """Steward model if published; else the flagged rows in raw (latest version per USCC)."""
    return sample(conn, [
        ("marts.register_anomalies", None),
        ("raw.registration", sql.SQL(
            "select distinct on (uscc) uscc, name, subject_type, status, updated_at, source_file, source_row"
            " from raw.registration where uscc_check_failed order by uscc, updated_at desc"
        )),
    ])


def field_drift(conn: psycopg.Connection, as_of: date) -> Table:
    """Unknown source fields per feed and field over the trailing nights (quality.field_drift)."""
    return sample(conn, [("quality.field_drift", sql.SQL(
        "select d.feed, d.field, d.file_kind, count(distinct d.batch_id) as files,"
        " min(m.delivery_date) as first_delivery, max(m.delivery_date) as last_delivery,"
        " (array_agg(d.source_file order by m.delivery_date desc, d.source_file))[1] as latest_file"
        " from quality.field_drift d join quality.batch_manifest m using (batch_id)"
        " where m.delivery_date between {} and {}"
        " group by d.feed, d.field, d.file_kind order by max(m.delivery_date) desc, d.feed, d.field"
    ).format(sql.Literal(as_of - timedelta(days=TREND_NIGHTS - 1)), sql.Literal(as_of)))])


def pending_objections(conn: psycopg.Connection) -> Table:
    return sample(conn, [("governance.objection", sql.SQL(
        "select objection_id, record_id, opened_at, opened_by, basis from governance.objection"
        " where status = 'pending' order by opened_at"
    ))])


def cases_near_deadline(conn: psycopg.Connection) -> Table:
    """Open cases due soon or overdue, from the newest build of the steward model case_deadlines
    (the candidate when tonight's build was blocked, else the published one)."""
    newest: tuple[date, str] | None = None
    for relation in ("marts.case_deadlines", "marts_candidate.case_deadlines"):
        if _exists(conn, relation):
            schema, name = relation.split(".")
            as_of = conn.execute(sql.SQL("select max(deadlines_as_of) from {}.{}").format(
                sql.Identifier(schema), sql.Identifier(name))).fetchone()[0]
            if as_of and (newest is None or as_of > newest[0]):
                newest = (as_of, relation)
    if newest is None:
        return Table(source=None)
    schema, name = newest[1].split(".")
    return sample(conn, [(newest[1], sql.SQL(
        "select case_id, case_type, record_id, stage, deadline_state, due_on, working_days_left, days_overdue,"
        " received_on, applicant from {}.{} where deadline_state <> 'on_time'"
        " order by due_on, case_id").format(sql.Identifier(schema), sql.Identifier(name)))])


def alerts(conn: psycopg.Connection, as_of: date, run_id: str | None = None) -> list[dict[str, Any]]:
    """Alerts of the run and of the night's calendar day."""
    return _dicts(conn.execute(
        "select raised_at, dag_id, task_id, run_id, severity, summary, delivered_to from quality.alert"
        " where (raised_at >= %s and raised_at < %s) or run_id = %s order by alert_id desc limit %s",
        (*_day(as_of), run_id, SAMPLE_ROWS),
    ))

"""Each providing department hears back: its rejected rows as a feedback file, and a scorecard.

Why a file per department and night: the departments that deliver are the only ones who can fix
a rejected row, and they work in spreadsheets. The file is CSV in UTF-8 with a BOM (so Excel and
WPS open it as UTF-8), Chinese column names, one line per rejected row with the reason in Chinese,
the field to fix and where the row was (file, row); personal ID numbers are masked.

Which department delivered a file is configuration (``providers.csv``: feed + file name pattern
→ department and its authority code). Delivery deadlines per record type (``deadlines.csv``)
complement the catalogue: a record is on time when its delivery date is at most that many days
after its decision date. Everything is read set-based from ``quality.*`` and the published fact;
rows stream into the file, so memory stays flat however many rows a department got wrong.
"""

from __future__ import annotations

import csv
import fnmatch
import os
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any

import psycopg

from credit_dw.config import reports_dir
from credit_dw.quality.masking import mask_text

HERE = Path(__file__).parent
SCORECARD_NIGHTS = 30
TOP_REASONS = 3

COLUMNS = ["部门", "交付日期", "文件", "行号", "批次号", "原因代码", "退回原因", "需修改字段", "处理建议",
           "详细说明", "原始记录（已脱敏）"]


class FeedbackError(Exception):
    """A department or date the user named does not exist; the message says what does."""


@dataclass(frozen=True)
class Department:
    """A providing department: a short tag (used on the command line and in file names)."""

    tag: str
    authority_code: str
    name: str
    feed: str
    file_pattern: str


def _csv(name: str) -> list[dict[str, str]]:
    with (HERE / name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@cache
def departments() -> tuple[Department, ...]:
    """Configured departments, named from the feeds' department directory where listed."""
    directory = {r["authority_code"]: r["authority_name"]
                 for r in _csv("../feeds/departments.csv")}
    fixed_names = {"judicial": "人民法院（失信被执行人信息）"}
    return tuple(
        Department(r["department"], r["authority_code"],
                   directory.get(r["authority_code"]) or fixed_names.get(r["department"], r["department"]),
                   r["feed"], r["file_pattern"])
        for r in _csv("providers.csv")
    )


@cache
def reasons_zh() -> dict[str, tuple[str, str]]:
    return {r["code"]: (r["reason"], r["action"]) for r in _csv("reasons_zh.csv")}


def department_of(feed: str, source_file: str) -> str:
    """The tag of the department that delivered a file; the feed's name when none is configured."""
    name = PurePosixPath(source_file).name
    for d in departments():
        if d.feed == feed and fnmatch.fnmatchcase(name, d.file_pattern):
            return d.tag
    return feed


def find_department(text: str) -> Department:
    """A department by tag, authority code or name (exact)."""
    for d in departments():
        if text in (d.tag, d.authority_code, d.name):
            return d
    known = ", ".join(d.tag for d in departments())
    raise FeedbackError(f"unknown department {text!r}: use a tag, authority code or name ({known})")


def _lookups(conn: psycopg.Connection, since: date, until: date) -> dict[str, Any]:
    """Query parameters: the batches delivered in [since, until] with their department, and the
    Chinese reasons; the queries unnest them (no temp tables: the report reads read-only)."""
    batches = conn.execute(
        "select batch_id, feed, source_file from quality.batch_manifest"
        " where delivery_date between %s and %s",
        (since, until),
    ).fetchall()  # one row per delivered file, not per record
    zh = reasons_zh()
    return {
        "batch_ids": [b for b, _, _ in batches],
        "departments": [department_of(feed, source_file) for _, feed, source_file in batches],
        "codes": list(zh),
        "reasons": [reason for reason, _ in zh.values()],
        "actions": [action for _, action in zh.values()],
    }


_LOOKUPS = """
_batch_department as (
    select * from unnest(%(batch_ids)s::bigint[], %(departments)s::text[]) as b (batch_id, department)
),

_reason_zh as (
    select * from unnest(%(codes)s::text[], %(reasons)s::text[], %(actions)s::text[]) as z (code, reason, action)
)
"""


_FEEDBACK_ROWS = "with " + _LOOKUPS + """
select
    m.delivery_date,
    r.source_file,
    r.source_row,
    r.batch_id,
    array_to_string(r.reason_codes, ';') as codes,
    (select string_agg(coalesce(z.reason, c.code), '；' order by c.n)
       from unnest(r.reason_codes) with ordinality as c (code, n)
       left join _reason_zh as z on z.code = c.code) as reasons,
    coalesce(nullif(array_to_string(array(
        select distinct f.name
        from regexp_matches(r.message, '(?:required field|field) ([^ =:|]+)|natural key \\(([^)]*)\\)', 'g') as x
        cross join lateral (select coalesce(x[1], x[2]) as name) as f
        order by f.name), '、'), ''), '整行') as fields,
    (select string_agg(distinct z.action, '；')
       from unnest(r.reason_codes) as c (code) join _reason_zh as z on z.code = c.code) as actions,
    r.message,
    r.raw_record
from quality.rejected_rows as r
join quality.batch_manifest as m on m.batch_id = r.batch_id
join _batch_department as b on b.batch_id = r.batch_id
where m.delivery_date = %(day)s and b.department = %(department)s
order by r.source_file, r.source_row
"""


def write_feedback(conn: psycopg.Connection, department: str, day: date,
                   out_dir: Path | None = None) -> tuple[Path, int]:
    """Write ``<out>/<day>/feedback_<tag>_<day>.csv``; returns the path and the rows written.

    A department without rejections that night gets a file with the header only: "nothing to
    fix" is an answer too.
    """
    dept = find_department(department)
    root = Path(out_dir) if out_dir else reports_dir() / "feedback"
    target = root / day.isoformat() / f"feedback_{dept.tag}_{day.isoformat()}.csv"
    target.parent.mkdir(parents=True, exist_ok=True)
    params = {**_lookups(conn, day, day), "day": day, "department": dept.tag}
    written = 0
    tmp = target.with_suffix(".csv.tmp")
    with tmp.open("w", encoding="utf-8-sig", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(COLUMNS)
        with conn.cursor(name="feedback_rows") as cur:  # server-side: streamed, not fetched whole
            cur.execute(_FEEDBACK_ROWS, params)
            for delivered, source_file, row, batch, codes, reasons, fields, actions, message, raw in cur:
                out.writerow([dept.name, delivered.isoformat(), PurePosixPath(source_file).name, row, batch,
                              codes, reasons, fields, actions, mask_text(message), mask_text(raw)])
                written += 1
    tmp.replace(target)  # a reader never sees half a file
    return target, written


def write_night(conn: psycopg.Connection, day: date,
                out_dir: Path | None = None) -> list[tuple[Department, Path, int]]:
    """A feedback file for every department that delivered on ``day`` (the nightly report's links)."""
    delivered = set(_lookups(conn, day, day)["departments"])
    return [(d, *write_feedback(conn, d.tag, day, out_dir)) for d in departments() if d.tag in delivered]


_SCORECARD = "with " + _LOOKUPS + """,

batches as (
    select b.department, m.batch_id, m.delivery_date, m.rows_read, m.rows_rejected, m.status
    from _batch_department as b join quality.batch_manifest as m on m.batch_id = b.batch_id
),

volumes as (
    select department,
           count(distinct delivery_date) as nights_delivered,
           count(*) filter (where status = 'failed') as files_failed,
           coalesce(sum(rows_read), 0) as rows_received,
           coalesce(sum(rows_rejected), 0) as rows_rejected
    from batches group by department
),

reasons as (
    select department, code, count(*) as rows
    from (
        select b.department, unnest(r.reason_codes) as code
        from quality.rejected_rows as r join batches as b on b.batch_id = r.batch_id
    ) as x
    group by department, code
),

top_reasons as (
    select department,
           array_agg(coalesce(z.reason, code) || ' ' || rows order by rows desc, code) as top
    from (
        select *, row_number() over (partition by department order by rows desc, code) as rank from reasons
    ) as ranked
    left join _reason_zh as z using (code)
    where rank <= %(top)s
    group by department
)

select v.*, t.top
from volumes as v left join top_reasons as t using (department)
"""

_TIMELINESS = "with " + _LOOKUPS + """,

_deadline as (
    select * from unnest(%(record_types)s::text[], %(deadline_days)s::int[]) as d (record_type, deadline_days)
)

select b.department,
       count(*) as records,
       count(*) filter (where m.delivery_date - f.decision_date <= d.deadline_days) as on_time,
       count(*) filter (where f.status = 'disputed') as pending_correction
from marts.fct_credit_record as f
join _batch_department as b on b.batch_id = f.batch_id
join quality.batch_manifest as m on m.batch_id = f.batch_id
join _deadline as d on d.record_type = f.record_type
group by b.department
"""


def scorecard(conn: psycopg.Connection, as_of: date) -> list[dict[str, Any]]:
    """Per department, the 30 nights up to ``as_of``: deliveries, timeliness, rejections, top reasons.

    On time: records delivered within their record type's deadline (``deadlines.csv``) of their
    decision date. Pending correction: published records of the department under objection
    (disputed), which the department has to confirm or correct.
    """
    since = as_of - timedelta(days=SCORECARD_NIGHTS - 1)
    params = {**_lookups(conn, since, as_of), "top": TOP_REASONS}
    rows = {r[0]: r for r in conn.execute(_SCORECARD, params).fetchall()}
    timely: dict[str, tuple[int, int, int]] = {}
    if conn.execute("select to_regclass('marts.fct_credit_record') is not null").fetchone()[0]:
        deadlines = _csv("deadlines.csv")
        params |= {"record_types": [r["record_type"] for r in deadlines],
                   "deadline_days": [int(r["deadline_days"]) for r in deadlines]}
        for dept, records, on_time, pending in conn.execute(
            _TIMELINESS, params
        ).fetchall():
            timely[dept] = (records, on_time, pending)
    names = {d.tag: d.name for d in departments()}
    cards = []
    for tag, nights, failed, received, rejected, top in sorted(rows.values()):
        records, on_time, pending = timely.get(tag, (0, 0, 0))
        cards.append({
            "department": tag,
            "name": names.get(tag, tag),
            "nights_delivered": nights,
            "files_failed": failed,
            "rows_received": received,
            "rows_rejected": rejected,
            "rejection_rate": (rejected / received) if received else 0.0,
            "records": records,
            "on_time": on_time,
            "on_time_rate": (on_time / records) if records else None,
            "pending_correction": pending,
            "top_reasons": top or [],
        })
    return cards


def nightly(conn: psycopg.Connection, as_of: date, out_dir: Path, report_dir: Path) -> list[dict[str, Any]]:
    """The report's scorecard, with a link (relative to ``report_dir``) to each feedback file of the night."""
    written = {d.tag: (path, rows) for d, path, rows in write_night(conn, as_of, out_dir)}
    cards = scorecard(conn, as_of)
    for card in cards:
        if card["department"] in written:
            path, rows = written[card["department"]]
            card["feedback"] = {"href": os.path.relpath(path, report_dir), "rows": rows}
    return cards

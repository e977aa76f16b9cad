"""What subjects were shown, night by night: bitemporal mart row versions and the change feed.

Why at publish time: the marts hold only tonight, and tonight's candidate is about to replace
last night's. :func:`record_publication` runs inside the publish transaction, before the swap,
so the history, the change events and the swap commit together or not at all; a blocked night
records nothing. It is set-based SQL over the candidate marts (one pass per mart, flat memory).

Versions (``history.mart_row_version``) carry two time axes:

- valid time ``[valid_from, valid_to)``: the as-of dates on which the marts showed the row;
- transaction time ``[recorded_at, superseded_at)``: when we learned it and when later
  knowledge replaced it. Rebuilding an earlier as-of date D (a replay, a correction) supersedes
  what we believed about D onwards and keeps the truncated belief about the days before D, so
  "as of D, as known at T" stays reproducible.

Change events (``history.subject_change_event``, published as ``marts.subject_change_event``)
compare the rows shown on the day before the night's as-of date with the candidate: rerunning a
night yields the same events (the night's set is replaced, identical rows kept).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)

CANDIDATE = "marts_candidate"


@dataclass(frozen=True)
class VersionedMart:
    """A mart whose rows are versioned; ``key`` columns identify a row across nights."""

    name: str
    key: tuple[str, ...]


# Marts missing from a candidate are skipped (joint_incentive_list arrives with the rules work).
VERSIONED_MARTS = (
    VersionedMart("fct_credit_record", ("record_id",)),
    VersionedMart("dim_credit_subject", ("subject_key",)),
    VersionedMart("subject_credit_profile", ("subject_key",)),
    VersionedMart("subject_grade_evidence", ("subject_key", "rule_code", "record_id")),
    VersionedMart("joint_discipline_list", ("subject_key", "record_id")),
    VersionedMart("joint_incentive_list", ("subject_key", "record_id")),
)

# Columns that change with every build without changing what a subject shows.
_VOLATILE_SUFFIXES = ("_as_of", "_fingerprint")
_VOLATILE = {"built_at", "previous_subject_key"}

# Statuses under which a record is shown against its subject (same as the profile's "in force").
SHOWN_STATUSES = ("active", "disputed", "corrected")

# (list mart, event suffix): subject-level membership events.
LIST_MARTS = (("joint_discipline_list", "joint_discipline"), ("joint_incentive_list", "joint_incentive"))


def record_publication(conn: psycopg.Connection, run_id: str) -> date | None:
    """Version tonight's candidate marts and write the night's change events.

    Called by the publish step inside its transaction, before the swap. Returns the night's
    as-of date, or None when the candidate has no dated fact (nothing is recorded then).
    """
    columns = _candidate_columns(conn)
    fact = columns.get("fct_credit_record", [])
    if "status_as_of" not in fact or "record_id" not in fact:
        log.warning("history: %s.fct_credit_record has no status_as_of; nothing recorded", CANDIDATE)
        return None
    (night,) = conn.execute(
        sql.SQL("select max(status_as_of) from {}.fct_credit_record").format(sql.Identifier(CANDIDATE))
    ).fetchone()
    if night is None:
        return None
    marts = [m for m in VERSIONED_MARTS if set(m.key) | {"subject_key"} <= set(columns.get(m.name, []))]
    _stage_candidate(conn, marts, columns)
    _stage_previous(conn, night, [m.name for m in marts])
    _write_events(conn, night, run_id, {m.name for m in marts})
    _write_versions(conn, night, run_id, [m.name for m in marts])
    return night


def _candidate_columns(conn: psycopg.Connection) -> dict[str, list[str]]:
    rows = conn.execute(
        "select table_name, column_name from information_schema.columns"
        " where table_schema = %s order by table_name, ordinal_position",
        (CANDIDATE,),
    ).fetchall()
    columns: dict[str, list[str]] = {}
    for table, column in rows:
        columns.setdefault(table, []).append(column)
    return columns


def _stage_candidate(conn: psycopg.Connection, marts: list[VersionedMart],
                     columns: dict[str, list[str]]) -> None:
    conn.execute(
        "create temp table history_candidate (mart text, row_key text, subject_key text,"
        " content jsonb, content_hash text) on commit drop"
    )
    for mart in marts:
        volatile = [c for c in columns[mart.name] if c in _VOLATILE or c.endswith(_VOLATILE_SUFFIXES)]
        key = sql.SQL(" || '|' || ").join(
            sql.SQL("coalesce(t.{}::text, '')").format(sql.Identifier(c)) for c in mart.key
        )
        conn.execute(
            sql.SQL(
                "insert into history_candidate"
                " select {name}, {key}, t.subject_key::text, c.content, md5(c.content::text)"
                " from {schema}.{table} as t"
                " cross join lateral (select to_jsonb(t) - {volatile}::text[] as content) as c"
            ).format(
                name=sql.Literal(mart.name), key=key, schema=sql.Identifier(CANDIDATE),
                table=sql.Identifier(mart.name), volatile=sql.Literal(volatile),
            )
        )
    conn.execute("create index on history_candidate (mart, row_key)")
    conn.execute("analyze history_candidate")


def _stage_previous(conn: psycopg.Connection, night: date, marts: list[str]) -> None:
    """The rows shown the day before the night (current knowledge): what the night changed."""
    conn.execute(
        "create temp table history_previous on commit drop as"
        " select mart, row_key, subject_key, content from history.mart_row_version"
        " where superseded_at is null and mart = any(%(marts)s)"
        "   and valid_from <= %(night)s::date - 1 and (valid_to is null or valid_to > %(night)s::date - 1)",
        {"marts": marts, "night": night},
    )
    conn.execute("create index on history_previous (mart, row_key)")
    conn.execute("analyze history_previous")


_RECORD_EVENTS = """
with

previous as (
    select row_key, subject_key, content from history_previous where mart = 'fct_credit_record'
),

candidate as (
    select row_key, subject_key, content from history_candidate where mart = 'fct_credit_record'
),

compared as (
    select
        coalesce(c.row_key, p.row_key) as record_id,
        coalesce(c.subject_key, p.subject_key) as subject_key,
        coalesce(c.content ->> 'feed', p.content ->> 'feed') as feed,
        p.content ->> 'status' as old_status,
        c.content ->> 'status' as new_status,
        coalesce(p.content ->> 'status' = any(%(shown)s)
            and coalesce(p.content ->> 'publicity_start', p.content ->> 'decision_date')::date
                < %(night)s::date, false) as old_shown,
        coalesce(c.content ->> 'status' = any(%(shown)s)
            and coalesce(c.content ->> 'publicity_start', c.content ->> 'decision_date')::date
                <= %(night)s::date, false) as new_shown,
        coalesce((p.content ->> 'is_disputed')::boolean, false) as old_disputed,
        coalesce((c.content ->> 'is_disputed')::boolean, false) as new_disputed
    from candidate as c
    full join previous as p on p.row_key = c.row_key
)

select
    subject_key,
    case
        when new_shown and not old_shown then 'listed'
        when old_shown and not new_shown and new_status = 'repaired' then 'repaired'
        when old_shown and not new_shown then 'removed'
        when new_disputed and not old_disputed then 'disputed'
        when new_status = 'repaired' and old_status is distinct from 'repaired' then 'repaired'
        when new_status is distinct from old_status and old_status is not null and new_status is not null
            then 'status_changed'
    end as event_type,
    record_id,
    old_status as from_value,
    new_status as to_value
from compared
where subject_key is not null
  and feed is distinct from 'registration'   -- the register is the subject's identity, not a listing
"""

_GRADE_EVENTS = """
select
    c.subject_key,
    'grade_changed' as event_type,
    null::text as record_id,
    p.content ->> 'credit_grade' as from_value,
    c.content ->> 'credit_grade' as to_value
from history_candidate as c
left join history_previous as p on p.mart = c.mart and p.row_key = c.row_key
where c.mart = 'subject_credit_profile'
  and (c.content ->> 'credit_grade') is distinct from (p.content ->> 'credit_grade')
"""

_LIST_EVENTS = """
with

previous as (
    select subject_key, min(content ->> 'record_id') as record_id
    from history_previous where mart = %(mart)s group by subject_key
),

candidate as (
    select subject_key, min(content ->> 'record_id') as record_id
    from history_candidate where mart = %(mart)s group by subject_key
)

select coalesce(c.subject_key, p.subject_key),
       case when p.subject_key is null then 'entered_' else 'left_' end || %(list)s,
       coalesce(c.record_id, p.record_id), null::text, null::text
from candidate as c
full join previous as p on p.subject_key = c.subject_key
where c.subject_key is null or p.subject_key is null
"""


def _write_events(conn: psycopg.Connection, night: date, run_id: str, marts: set[str]) -> None:
    """Replace the night's change events with tonight's comparison (identical rows are kept)."""
    conn.execute(
        "create temp table history_events (subject_key text, event_type text, record_id text,"
        " from_value text, to_value text) on commit drop"
    )
    params = {"night": night, "shown": list(SHOWN_STATUSES)}
    if "fct_credit_record" in marts:
        conn.execute(f"insert into history_events select * from ({_RECORD_EVENTS}) as e"
                     " where event_type is not null", params)
    if "subject_credit_profile" in marts:
        conn.execute(f"insert into history_events {_GRADE_EVENTS}")
    for mart, suffix in LIST_MARTS:
        if mart in marts:
            conn.execute(f"insert into history_events {_LIST_EVENTS}", {"mart": mart, "list": suffix})
    conn.execute(
        "delete from history.subject_change_event as e where e.night = %s and not exists ("
        " select 1 from history_events as n where n.subject_key = e.subject_key"
        " and n.event_type = e.event_type and n.record_id is not distinct from e.record_id"
        " and n.from_value is not distinct from e.from_value and n.to_value is not distinct from e.to_value)",
        (night,),
    )
    conn.execute(
        "insert into history.subject_change_event"
        " (night, run_id, subject_key, event_type, record_id, from_value, to_value)"
        " select %s, %s, subject_key, event_type, record_id, from_value, to_value from history_events"
        " on conflict do nothing",
        (night, run_id),
    )


def _write_versions(conn: psycopg.Connection, night: date, run_id: str, marts: list[str]) -> None:
    """Supersede what we believed about the night onwards where tonight differs; add tonight.

    A current version still shown unchanged (open-ended, started on or before the night, same
    content) is kept; every other current version reaching into the night is superseded, and
    its part before the night is re-recorded. One statement, one snapshot.
    """
    conn.execute(
        """
        with

        kept as (
            select v.version_id
            from history.mart_row_version as v
            join history_candidate as c
              on c.mart = v.mart and c.row_key = v.row_key and c.content_hash = v.content_hash
            where v.superseded_at is null and v.valid_to is null and v.valid_from <= %(night)s
        ),

        superseded as (
            update history.mart_row_version as v set superseded_at = now()
            where v.superseded_at is null and v.mart = any(%(marts)s)
              and (v.valid_to is null or v.valid_to > %(night)s)
              and v.version_id not in (select version_id from kept)
            returning v.*
        ),

        truncated as (
            insert into history.mart_row_version
                (mart, row_key, subject_key, valid_from, valid_to, run_id, content, content_hash)
            select mart, row_key, subject_key, valid_from, %(night)s, run_id, content, content_hash
            from superseded where valid_from < %(night)s
        )

        insert into history.mart_row_version
            (mart, row_key, subject_key, valid_from, valid_to, run_id, content, content_hash)
        select c.mart, c.row_key, c.subject_key, %(night)s, null, %(run_id)s, c.content, c.content_hash
        from history_candidate as c
        where not exists (
            select 1 from history.mart_row_version as v
            where v.version_id in (select version_id from kept)
              and v.mart = c.mart and v.row_key = c.row_key
        )
        """,
        {"night": night, "marts": marts, "run_id": run_id},
    )

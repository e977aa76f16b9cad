"""Objections, credit repair and retention purges (Art. 7(7), Art. 10): stewards' decisions as data.

Why here and not in dbt: these are decisions people take one record at a time, with a name and a
basis, and they must be refused on the spot when the rules do not allow them (a repair before the
minimum publicity period, a second pending objection). Each objection or repair application is a
case (``governance.case_intake``) and each step of it a new ``governance.case_event`` row, written
under role ``steward``, which may insert but never update or delete (docs/security.md); the next
dbt build turns the decisions into statuses (disputed, corrected, withdrawn, repaired). Records
are looked up in the published ``marts.fct_credit_record``, or in ``marts_candidate`` before the
first publication.

The purge is the one place data leaves the warehouse: raw rows (and quarantined rows) past the
catalogue's retention period are deleted, each table's count recorded in ``governance.purge_audit``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from credit_dw import db
from credit_dw.feeds import schema as feed_schema

TIMEZONE = ZoneInfo("Asia/Shanghai")
IN_FORCE = ("active", "disputed", "corrected")
LIFECYCLE_VIEW = "intermediate.int_credit_record__lifecycle"



def raw_record_keys() -> dict[str, list[str]]:
    """Record key of each raw table (spec ``record_key``, default ``natural_key``) as text parts,
    in the order the dbt record models build ``natural_key``; the purge matches raw rows on it.
    ``tests/integration/test_feed_schema.py`` checks every built record against it."""
    return {table: feed_schema.record_key_sql(kind) for table, (_, kind) in feed_schema.file_kinds().items()}


_RECORD_COLUMNS = (
    "record_id, feed, record_type, catalogue_item, item_name, status, status_since, is_publishable,"
    " rule_version, publicity_start, publicity_end, earliest_repair_on, repairable, early_repair_allowed,"
    " party_name, authority_name, source_status"
)

# Records whose repair needs the obligation met first, by what the source reports: a social
# insurance penalty decision or serious-dishonesty finding stays in force after the arrears are
# paid (已补缴, source_status 'paid') and becomes *eligible* for repair; unpaid, it is not.
REPAIR_NEEDS_SOURCE_STATUS = {
    "social_insurance.penalty": ("paid", "the arrears are paid (the department reports 已补缴)"),
    "social_insurance.serious": ("paid", "the arrears are paid (the department reports 已补缴)"),
}


class GovernanceError(Exception):
    """A decision the rules do not allow, or a record / objection that does not exist."""


def today() -> date:
    return datetime.now(TIMEZONE).date()


def find_record(conn: psycopg.Connection, record_id: str) -> dict | None:
    """The record as last published (``marts``), else as last built (``marts_candidate``)."""
    for schema in ("marts", "marts_candidate"):
        exists = conn.execute("select to_regclass(%s)", (f"{schema}.fct_credit_record",)).fetchone()[0]
        if exists is None:
            continue
        with conn.cursor(row_factory=dict_row) as cur:
            row = cur.execute(
                sql.SQL("select {} from {}.fct_credit_record where record_id = %s").format(
                    sql.SQL(_RECORD_COLUMNS), sql.Identifier(schema)
                ),
                (record_id,),
            ).fetchone()
        if row:
            return row | {"found_in": schema}
        if conn.execute(sql.SQL("select exists (select from {}.fct_credit_record)").format(
                sql.Identifier(schema))).fetchone()[0]:
            return None  # the published fact is authoritative once it has rows
    return None


def _require_record(conn: psycopg.Connection, record_id: str) -> dict:
    record = find_record(conn, record_id)
    if record is None:
        raise GovernanceError(
            f"record {record_id} is not in marts.fct_credit_record (nor marts_candidate before the first "
            "publication). Copy the record_id from the marts; records past retention are no longer held."
        )
    return record


def _set_steward(conn: psycopg.Connection) -> None:
    conn.execute("set local role steward")


def _lock_record(conn: psycopg.Connection, record_id: str) -> None:
    """Serialise decisions on one record (the steward may insert, not lock rows for update)."""
    conn.execute("select pg_advisory_xact_lock(hashtext('governance|' || %s))", (record_id,))


def _case(conn: psycopg.Connection, case_id: int, case_type: str | None = None) -> dict:
    with conn.cursor(row_factory=dict_row) as cur:
        case = cur.execute("select * from governance.case_state where case_id = %s", (case_id,)).fetchone()
    noun = case_type or "case"
    if case is None or (case_type and case["case_type"] != case_type):
        raise GovernanceError(f"{noun} {case_id} does not exist (see credit-dw case list)")
    _lock_record(conn, case["record_id"])
    return case


def _event(conn: psycopg.Connection, case_id: int, event: str, by: str, on: date | None, **fields) -> None:
    columns = ["case_id", "event", "occurred_on", "recorded_by", *fields]
    values = [case_id, event, on or today(), by, *(Jsonb(v) if isinstance(v, dict) else v for v in fields.values())]
    conn.execute(
        sql.SQL("insert into governance.case_event ({}) values ({})").format(
            sql.SQL(", ").join(map(sql.Identifier, columns)), sql.SQL(", ").join(sql.Placeholder() * len(columns))
        ),
        values,
    )


def _open_case(conn: psycopg.Connection, case_type: str, record: dict, by: str, basis: str,
               applicant: str | None, materials_ref: str | None, received_on: date | None) -> int:
    return conn.execute(
        "insert into governance.case_intake (case_type, record_id, received_on, applicant, materials_ref, basis,"
        " providing_department, opened_by) values (%s, %s, %s, %s, %s, %s, %s, %s) returning case_id",
        (case_type, record["record_id"], received_on or today(), applicant or by, materials_ref, basis,
         record.get("authority_name"), by),
    ).fetchone()[0]


def open_objection(record_id: str, by: str, basis: str, dsn: str | None = None, *, applicant: str | None = None,
                   materials_ref: str | None = None, received_on: date | None = None) -> int:
    """Record an objection case; until it is decided the record is published flagged as disputed."""
    with db.transaction(dsn) as conn:
        record = _require_record(conn, record_id)
        _set_steward(conn)
        _lock_record(conn, record_id)
        pending = conn.execute(
            "select objection_id from governance.objection where record_id = %s and status = 'pending'",
            (record_id,),
        ).fetchone()
        if pending:
            raise GovernanceError(
                f"objection {pending[0]} on record {record_id} is still pending: resolve it first "
                f"(credit-dw objection resolve --objection-id {pending[0]} ...)."
            )
        return _open_case(conn, "objection", record, by, basis, applicant, materials_ref, received_on)


def accept_case(case_id: int, by: str, on: date | None = None, note: str | None = None,
                dsn: str | None = None) -> None:
    """The platform accepts the application and forwards it to the providing authority."""
    with db.transaction(dsn) as conn:
        _set_steward(conn)
        case = _case(conn, case_id)
        if case["state"] != "received":
            raise GovernanceError(f"case {case_id} is {case['state']}: only a received case can be accepted")
        _event(conn, case_id, "accepted", by, on, reasons=note)


def refuse_case(case_id: int, by: str, reasons: str, on: date | None = None, dsn: str | None = None) -> None:
    """The platform does not accept the application (out of scope, materials incomplete): closed."""
    with db.transaction(dsn) as conn:
        _set_steward(conn)
        case = _case(conn, case_id)
        if case["state"] not in ("received", "under_review") or case["decision"]:
            raise GovernanceError(f"case {case_id} is {case['state']}: it can no longer be refused")
        _event(conn, case_id, "refused", by, on, reasons=reasons)


def resolve_objection(
    objection_id: int, decision: str, by: str, note: str, outcome: str | None = None, dsn: str | None = None,
    *, corrected_content: dict | None = None, on: date | None = None,
) -> None:
    """Uphold (the record is corrected or withdrawn) or reject (it stands) a pending objection."""
    if decision not in ("upheld", "rejected"):
        raise GovernanceError(f"decision must be upheld or rejected, not {decision!r}")
    if decision == "upheld" and outcome not in ("corrected", "withdrawn"):
        raise GovernanceError("an upheld objection needs --outcome corrected or --outcome withdrawn")
    if decision == "rejected" and outcome is not None:
        raise GovernanceError("a rejected objection has no outcome: leave out --outcome")
    if outcome == "corrected" and not corrected_content:
        raise GovernanceError("an objection upheld with outcome corrected needs the corrected content"
                              " (--corrected FIELD=VALUE, once per field)")
    if outcome != "corrected" and corrected_content:
        raise GovernanceError("corrected content belongs only to an objection upheld with outcome corrected")
    if not note.strip():
        raise GovernanceError("a decision needs its reasons (--note)")
    with db.transaction(dsn) as conn:
        _set_steward(conn)
        case = _case(conn, objection_id, "objection")
        if case["decision"]:
            status = "rejected" if case["decision"] == "not_accepted" else case["decision"]
            raise GovernanceError(f"objection {objection_id} was already {status}; decisions are not changed")
        _event(conn, objection_id, "decided", by, on, decision=decision, outcome=outcome, reasons=note,
               corrected_content=corrected_content)


def apply_repair(record_id: str, by: str, basis: str, dsn: str | None = None, *, applicant: str | None = None,
                 materials_ref: str | None = None, received_on: date | None = None) -> int:
    """Record a credit repair application; refused at intake when the record's rule allows no repair."""
    with db.transaction(dsn) as conn:
        record = _require_record(conn, record_id)
        _check_repair_allowed(record, None)
        _set_steward(conn)
        _lock_record(conn, record_id)
        _refuse_second_repair(conn, record_id)
        return _open_case(conn, "repair", record, by, basis, applicant, materials_ref, received_on)


def _refuse_second_repair(conn: psycopg.Connection, record_id: str) -> None:
    existing = conn.execute(
        "select repair_id, effective_on from governance.credit_repair where record_id = %s", (record_id,)
    ).fetchone()
    if existing:
        raise GovernanceError(
            f"record {record_id} was already repaired (repair {existing[0]}, effective {existing[1]})."
        )


def approve_repair(
    record_id: str, by: str, basis: str, effective_on: date | None = None, dsn: str | None = None,
    *, case_id: int | None = None,
) -> int:
    """Approve credit repair: publication ends on ``effective_on`` (default today); the record stays.

    Decides the record's open repair case (``case_id``, or the one open for ``record_id``); with
    none open, the intake and the decision are recorded together. Refused when the record is not
    published or no longer in force, when its rule allows no repair (court lists end only by the
    court's removal), when its obligation is not met yet (``REPAIR_NEEDS_SOURCE_STATUS``), or
    before the end of the minimum publicity period unless the rule allows early repair.
    """
    effective_on = effective_on or today()
    with db.transaction(dsn) as conn:
        if case_id is not None:
            _set_steward(conn)
            case = _case(conn, case_id, "repair")
            record_id = case["record_id"]
            conn.execute("reset role")
        record = _require_record(conn, record_id)
        _check_repair_allowed(record, effective_on)
        _set_steward(conn)
        _lock_record(conn, record_id)
        _refuse_second_repair(conn, record_id)
        if case_id is None:
            open_case = conn.execute(
                "select case_id from governance.case_state where case_type = 'repair' and record_id = %s"
                " and decision is null order by case_id limit 1", (record_id,),
            ).fetchone()
            case_id = open_case[0] if open_case else _open_case(conn, "repair", record, by, basis, None, None, None)
        elif _case(conn, case_id, "repair")["decision"]:
            raise GovernanceError(f"repair case {case_id} is already decided; decisions are not changed")
        _event(conn, case_id, "decided", by, None, decision="approved", reasons=basis, effective_on=effective_on)
    return case_id


def refuse_repair(case_id: int, by: str, reasons: str, on: date | None = None, dsn: str | None = None) -> None:
    """The authority refuses a repair application (the record stays published)."""
    with db.transaction(dsn) as conn:
        _set_steward(conn)
        case = _case(conn, case_id, "repair")
        if case["decision"]:
            raise GovernanceError(f"repair case {case_id} is already decided; decisions are not changed")
        _event(conn, case_id, "decided", by, on, decision="refused", reasons=reasons)


def send_feedback(case_id: int, by: str, to: str | None, ref: str, on: date | None = None,
                  dsn: str | None = None) -> None:
    """Record the feedback sent to the providing department after the decision: the case closes."""
    with db.transaction(dsn) as conn:
        _set_steward(conn)
        case = _case(conn, case_id)
        if case["state"] != "decided":
            raise GovernanceError(f"case {case_id} is {case['state']}: feedback follows the decision")
        department = to or case["providing_department"]
        if not department:
            raise GovernanceError(f"case {case_id}: name the providing department (--to)")
        _event(conn, case_id, "feedback_sent", by, on, feedback_to=department, feedback_ref=ref)


def _check_repair_allowed(record: dict, effective_on: date | None) -> None:
    rid, item, rule = record["record_id"], record["catalogue_item"], record["rule_version"] or "none"
    if record["status"] not in IN_FORCE:
        raise GovernanceError(
            f"record {rid} is {record['status']} since {record['status_since']}: it is no longer published, "
            "there is nothing to repair."
        )
    if not record["is_publishable"]:
        raise GovernanceError(
            f"record {rid} ({item}) is not published under rule {rule}; credit repair ends publication and "
            "does not apply."
        )
    if not record["repairable"]:
        raise GovernanceError(
            f"rule {rule} allows no credit repair for {item} ({record['item_name']}): such listings end only "
            "when the source removes them (e.g. the court's removal from its list)."
        )
    needed = REPAIR_NEEDS_SOURCE_STATUS.get(record.get("record_type") or "")
    if needed and record.get("source_status") != needed[0]:
        raise GovernanceError(
            f"repair refused: record {rid} ({item}) can be repaired only once {needed[1]}; the source still "
            f"says {record.get('source_status') or 'nothing'}. Repair after the department's update arrives."
        )
    earliest = record["earliest_repair_on"]
    if effective_on and earliest and effective_on < earliest and not record["early_repair_allowed"]:
        raise GovernanceError(
            f"repair refused: under {rule} the minimum publicity period of record {rid} runs from "
            f"{record['publicity_start']} to {earliest}; repair can take effect on {earliest} at the earliest "
            f"(requested {effective_on})."
        )


def list_repairs(dsn: str | None = None) -> list[dict]:
    """Every approved repair, newest first."""
    with db.transaction(dsn) as conn, conn.cursor(row_factory=dict_row) as cur:
        _set_steward(conn)
        return cur.execute(
            "select repair_id, record_id, effective_on, approved_by, approved_at, basis"
            " from governance.credit_repair order by approved_at desc, repair_id desc"
        ).fetchall()


def list_objections(status: str | None = None, dsn: str | None = None) -> list[dict]:
    """Objections (optionally only one status), newest first."""
    with db.transaction(dsn) as conn, conn.cursor(row_factory=dict_row) as cur:
        _set_steward(conn)
        return cur.execute(
            "select objection_id, record_id, status, outcome, opened_by, opened_at, basis, resolved_by,"
            " resolved_at, decision_note from governance.objection"
            " where %(status)s::text is null or status = %(status)s"
            " order by opened_at desc, objection_id desc",
            {"status": status},
        ).fetchall()


def list_cases(open_only: bool = False, dsn: str | None = None) -> list[dict]:
    """Cases with their current state, oldest intake first."""
    with db.transaction(dsn) as conn, conn.cursor(row_factory=dict_row) as cur:
        _set_steward(conn)
        return cur.execute(
            "select * from governance.case_state where not %s or state <> 'closed'"
            " order by received_on, case_id", (open_only,),
        ).fetchall()


def case_history(case_id: int, dsn: str | None = None) -> tuple[dict, list[dict]]:
    """A case and its events in order: the whole file, as recorded."""
    with db.transaction(dsn) as conn, conn.cursor(row_factory=dict_row) as cur:
        _set_steward(conn)
        case = _case(conn, case_id)
        events = cur.execute(
            "select * from governance.case_event where case_id = %s order by recorded_at, event_id", (case_id,)
        ).fetchall()
    return case, events


@dataclass(frozen=True)
class PurgeCount:
    table_name: str
    rows_purged: int
    rule: str


def purge_expired(as_of: date | None = None, dsn: str | None = None, dry_run: bool = False) -> list[PurgeCount]:
    """Delete raw and quarantined rows past retention on ``as_of``; one audit row per table.

    Raw rows: every version of each record whose ``retention_end`` (catalogue retention years,
    computed by dbt in ``intermediate.int_credit_record__lifecycle``) is before ``as_of``; with them
    the registration history in the snapshot and personal IDs no remaining raw row refers to.
    Quarantine: rows of batches delivered longer ago than the longest retention of their feed.
    Runs as the connecting (administrative) user: it deletes in raw, quality and restricted.
    With ``dry_run`` everything is counted in a transaction that is rolled back.
    """
    as_of = as_of or today()
    counts: list[PurgeCount] = []
    conn = db.connect(dsn)
    try:
        with conn.transaction() as tx:
            if conn.execute("select to_regclass(%s)", (LIFECYCLE_VIEW,)).fetchone()[0] is None:
                raise GovernanceError(
                    f"{LIFECYCLE_VIEW} does not exist: build the warehouse once (credit-dw build) so retention "
                    "ends are known, then purge."
                )
            conn.execute(
                f"create temporary table purge_expired on commit drop as"
                f" select record_id, source_table, natural_key, retention_end from {LIFECYCLE_VIEW}"
                f" where retention_end < %s",
                (as_of,),
            )
            rule = f"retention_end < {as_of} (catalogue retention_years, {LIFECYCLE_VIEW})"
            purged_hashes = _purge_raw(conn, counts, rule)
            _purge_snapshot(conn, counts, rule)
            _purge_derived(conn, counts, rule)
            _purge_person_identities(conn, counts, purged_hashes)
            _purge_quarantine(conn, counts, as_of)
            _audit(conn, counts, as_of, dry_run)
            if dry_run:
                raise psycopg.Rollback(tx)
    finally:
        conn.close()
    return counts


def _purge_raw(conn: psycopg.Connection, counts: list[PurgeCount], rule: str) -> set[str]:
    hashes: set[str] = set()
    for table, (_, kind) in feed_schema.file_kinds().items():
        schema, name = table.split(".")
        hash_columns = feed_schema.hash_columns(kind)
        returning = (
            sql.SQL(" returning ") + sql.SQL(", ").join(map(sql.Identifier, hash_columns))
            if hash_columns else sql.SQL("")
        )
        cur = conn.execute(
            sql.SQL(
                "delete from {table} as r using purge_expired as e"
                " where e.source_table = %s and e.natural_key = array[{key}]{returning}"
            ).format(
                table=sql.Identifier(schema, name),
                key=sql.SQL(", ").join(sql.SQL("r.") + sql.SQL(part) for part in feed_schema.record_key_sql(kind)),
                returning=returning,
            ),
            (table,),
        )
        if hash_columns:
            hashes.update(h for row in cur.fetchall() for h in row if h)
        if cur.rowcount:
            counts.append(PurgeCount(table, cur.rowcount, rule))
    return hashes


def _purge_snapshot(conn: psycopg.Connection, counts: list[PurgeCount], rule: str) -> None:
    table = "snapshots.subject_registration_snapshot"
    if conn.execute("select to_regclass(%s)", (table,)).fetchone()[0] is None:
        return
    cur = conn.execute(
        "delete from snapshots.subject_registration_snapshot as s using purge_expired as e"
        " where e.source_table = 'raw.registration' and e.natural_key = array[s.uscc]"
    )
    if cur.rowcount:
        counts.append(PurgeCount(table, cur.rowcount, rule))
    # the history mart is incremental: it keeps versions until told, in both publication schemas
    for schema in ("marts_candidate", "marts"):
        history = f"{schema}.dim_credit_subject_history"
        if conn.execute("select to_regclass(%s)", (history,)).fetchone()[0] is None:
            continue
        cur = conn.execute(
            sql.SQL("delete from {} as h using purge_expired as e where e.source_table = 'raw.registration'"
                    " and e.natural_key = array[h.subject_key]").format(
                sql.Identifier(schema, "dim_credit_subject_history"))
        )
        if cur.rowcount:
            counts.append(PurgeCount(history, cur.rowcount, rule))


def _purge_derived(conn: psycopg.Connection, counts: list[PurgeCount], rule: str) -> None:
    """The incremental dbt tables: they only recompute what a delivery touched, so a purged
    record would otherwise live on in them (and in the lifecycle this purge reads) for good."""
    tables = conn.execute(
        "select c.table_name from information_schema.columns c join information_schema.tables t"
        " using (table_schema, table_name) where c.table_schema = 'intermediate'"
        " and c.column_name = 'record_id' and t.table_type = 'BASE TABLE' order by 1"
    ).fetchall()
    for (name,) in tables:
        cur = conn.execute(
            sql.SQL("delete from {} as d using purge_expired as e where d.record_id = e.record_id").format(
                sql.Identifier("intermediate", name)
            )
        )
        if cur.rowcount:
            counts.append(PurgeCount(f"intermediate.{name}", cur.rowcount, rule))
    if conn.execute("select to_regclass('intermediate.int_registration__latest')").fetchone()[0] is not None:
        cur = conn.execute(
            "delete from intermediate.int_registration__latest as l using purge_expired as e"
            " where e.source_table = 'raw.registration' and e.natural_key = array[l.uscc]"
        )
        if cur.rowcount:
            counts.append(PurgeCount("intermediate.int_registration__latest", cur.rowcount, rule))


def _purge_person_identities(conn: psycopg.Connection, counts: list[PurgeCount], hashes: set[str]) -> None:
    """Clear IDs of purged parties that no remaining raw row refers to (any feed's hash columns)."""
    if not hashes:
        return
    still_used = [
        sql.SQL("exists (select from {t} r where p.id_hash in ({cols}))").format(
            t=sql.Identifier(*table.split(".")), cols=sql.SQL(", ").join(map(sql.Identifier, cols)))
        for table, (_, kind) in feed_schema.file_kinds().items()
        if (cols := feed_schema.hash_columns(kind))
    ]
    cur = conn.execute(
        sql.SQL("delete from restricted.person_identity as p where p.id_hash = any(%s) and not ({})").format(
            sql.SQL(" or ").join(still_used) if still_used else sql.SQL("false")),
        (list(hashes),),
    )
    if cur.rowcount:
        counts.append(PurgeCount("restricted.person_identity", cur.rowcount, "no raw row refers to the ID any more"))


def _purge_quarantine(conn: psycopg.Connection, counts: list[PurgeCount], as_of: date) -> None:
    if conn.execute("select to_regclass('staging.credit_catalogue')").fetchone()[0] is None:
        return
    cur = conn.execute(
        "delete from quality.rejected_rows as q using quality.batch_manifest as b,"
        " (select feed, max(retention_years) as years from staging.credit_catalogue group by feed) as c"
        " where q.batch_id = b.batch_id and c.feed = b.feed"
        " and b.delivery_date + make_interval(years => c.years) < %s",
        (as_of,),
    )
    if cur.rowcount:
        counts.append(PurgeCount(
            "quality.rejected_rows", cur.rowcount,
            f"delivered before {as_of} minus the longest retention_years of the feed's catalogue items",
        ))


def _audit(conn: psycopg.Connection, counts: list[PurgeCount], as_of: date, dry_run: bool) -> None:
    record_ids = [r[0] for r in conn.execute("select record_id from purge_expired order by 1 limit 1000")]
    records = conn.execute("select count(*) from purge_expired").fetchone()[0]
    detail = {"as_of": as_of.isoformat(), "records": records, "record_ids": record_ids, "dry_run": dry_run}
    rows = counts or [PurgeCount("*", 0, "nothing past retention")]
    for count in rows:
        conn.execute(
            "insert into governance.purge_audit (table_name, rule, rows_purged, detail) values (%s, %s, %s, %s)",
            (count.table_name, count.rule, count.rows_purged, json.dumps(detail)),
        )

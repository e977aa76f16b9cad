"""Objections, credit repair and retention purge against a built warehouse.

The sample of test_dbt_build is loaded and built once (as of 2026-11-20); the stewards'
decisions are then checked against the rules (refusals name the reason), the next dbt run turns
them into statuses, and the purge removes exactly what is past retention, with an audit row.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import psycopg
import pytest
from test_dbt_build import (
    AUTHORITY,
    NIGHT_2,
    ORG_A,
    PERSON_HASH,
    PERSON_ID,
    build,
    load_night_1,
    load_night_2,
    private_warehouse,
    record_id,
    rows,
)

from credit_dw import cli, governance
from credit_dw.dbt import run_dbt
from credit_dw.governance import GovernanceError
from credit_dw.report import render_report

pytestmark = pytest.mark.slow

PERSON_PENALTY = record_id("penalty", AUTHORITY, "宁市监罚〔2026〕6号")  # Order 36 ordinary, min until 2026-11-01
SERIOUS_PENALTY = record_id("penalty", AUTHORITY, "宁市监罚〔2025〕1号")
WARNING_ONLY = record_id("penalty", AUTHORITY, "宁市监罚〔2026〕4号")
EXPIRED = record_id("penalty", AUTHORITY, "宁市监罚〔2022〕9号")
OLD = record_id("penalty", AUTHORITY, "宁市监罚〔2015〕1号")
RETAINED_UNTIL_NOV_10 = record_id("penalty", AUTHORITY, "宁市监罚〔2020〕5号")
DISHONEST = record_id("judicial", "（2025）苏0102执1234号", ORG_A, "dishonest")
SI_SERIOUS_UNPAID = record_id("social_insurance", "11320200MB2222222X", "锡人社认〔2026〕1号", "失业保险")


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[str]]]:
    base = tmp_path_factory.mktemp("dbt_gov")
    flags = ["--target-path", str(base / "target"), "--log-path", str(base / "logs")]
    with private_warehouse("credit_dw_test_gov") as dsn:
        with psycopg.connect(dsn) as conn:
            load_night_1(conn)
            load_night_2(conn)
            first_penalty_batch = "select min(batch_id) from quality.batch_manifest where feed = 'penalty'"
            batch = conn.execute(first_penalty_batch).fetchone()[0]
            conn.execute(
                "insert into restricted.person_identity (id_hash, id_number, id_type, id_masked, first_batch_id)"
                " values (%s, %s, '01', '3201**********1230', %s)",
                (PERSON_HASH, PERSON_ID, batch),
            )
            conn.execute(
                "insert into quality.rejected_rows (batch_id, feed, source_file, source_row, reason_codes, message,"
                " raw_record) values (%s, 'penalty', 'penalty.file', 99, '{bad_date}', 'CF_JDRQ: bad date', 'x')",
                (batch,),
            )
        build(dsn, flags, NIGHT_2)
        yield dsn, flags


def test_objection_lifecycle(warehouse: tuple[str, list[str]]) -> None:
    dsn, _ = warehouse
    with pytest.raises(GovernanceError, match=r"not in marts\.fct_credit_record"):
        governance.open_objection("no-such-record", "steward1", "basis", dsn=dsn)
    objection_id = governance.open_objection(PERSON_PENALTY, "steward1", "当事人称身份有误", dsn=dsn)
    with pytest.raises(GovernanceError, match="still pending"):
        governance.open_objection(PERSON_PENALTY, "steward1", "again", dsn=dsn)
    with pytest.raises(GovernanceError, match="needs --outcome"):
        governance.resolve_objection(objection_id, "upheld", "steward2", "ok", dsn=dsn)
    with pytest.raises(GovernanceError, match="no outcome"):
        governance.resolve_objection(objection_id, "rejected", "steward2", "no", outcome="withdrawn", dsn=dsn)
    with pytest.raises(GovernanceError, match="needs the corrected content"):
        governance.resolve_objection(objection_id, "upheld", "steward2", "身份核实有误", outcome="corrected", dsn=dsn)
    governance.resolve_objection(objection_id, "upheld", "steward2", "身份核实有误", outcome="corrected",
                                 corrected_content={"party_name": "张某某"}, dsn=dsn)
    with pytest.raises(GovernanceError, match="already upheld"):
        governance.resolve_objection(objection_id, "rejected", "steward2", "no", dsn=dsn)
    listed = governance.list_objections("upheld", dsn=dsn)
    assert [(o["objection_id"], o["outcome"], o["resolved_by"]) for o in listed] == [
        (objection_id, "corrected", "steward2")
    ]


def test_repair_is_refused_unless_the_rules_allow_it(warehouse: tuple[str, list[str]]) -> None:
    dsn, _ = warehouse
    with pytest.raises(GovernanceError, match="allows no credit repair"):
        governance.approve_repair(DISHONEST, "steward1", "履行完毕", date(2026, 11, 20), dsn=dsn)
    with pytest.raises(GovernanceError, match="only once the arrears are paid"):
        governance.approve_repair(SI_SERIOUS_UNPAID, "steward1", "整改", date(2027, 2, 1), dsn=dsn)
    with pytest.raises(GovernanceError, match="not published"):
        governance.approve_repair(WARNING_ONLY, "steward1", "整改", date(2026, 11, 20), dsn=dsn)
    with pytest.raises(GovernanceError, match="expired"):
        governance.approve_repair(EXPIRED, "steward1", "整改", date(2026, 11, 20), dsn=dsn)
    with pytest.raises(GovernanceError, match="2026-11-01 at the earliest"):
        governance.approve_repair(PERSON_PENALTY, "steward1", "整改", date(2026, 10, 15), dsn=dsn)
    repair_id = governance.approve_repair(PERSON_PENALTY, "steward1", "已缴纳罚款", date(2026, 11, 20), dsn=dsn)
    with pytest.raises(GovernanceError, match=f"already repaired \\(repair {repair_id}"):
        governance.approve_repair(PERSON_PENALTY, "steward1", "again", date(2026, 11, 20), dsn=dsn)
    assert [r["record_id"] for r in governance.list_repairs(dsn=dsn)] == [PERSON_PENALTY]


def test_next_build_applies_the_decisions(warehouse: tuple[str, list[str]]) -> None:
    dsn, flags = warehouse
    governance.open_objection(SERIOUS_PENALTY, "steward1", "异议", dsn=dsn)
    # the nightly build finds the decision in tonight's change set, then the lifecycle and the fact
    run_dbt(["run", *flags, "--select", "int_night__changed_records", "int_credit_record__lifecycle",
             "int_night__status_calendar", "fct_credit_record",
             "--vars", f"{{as_of_date: '{NIGHT_2}'}}"], dsn=dsn)
    status = dict(rows(dsn, "select record_id, status from marts_candidate.fct_credit_record"
                            " where record_id in (%s, %s)", PERSON_PENALTY, SERIOUS_PENALTY))
    # the repair (effective today) ends publication even though an objection corrected the record
    assert status == {PERSON_PENALTY: "repaired", SERIOUS_PENALTY: "disputed"}


def test_cli_reports_refusals_without_traceback(
    warehouse: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    dsn, _ = warehouse
    monkeypatch.setenv("WAREHOUSE_DSN", dsn)
    code = cli.main(["repair", "approve", "--record-id", DISHONEST, "--by", "s", "--basis", "b",
                     "--effective-on", "2026-11-20"])
    assert code == 2
    assert "allows no credit repair" in capsys.readouterr().err
    assert cli.main(["repair", "list"]) == 0
    assert "repair(s)" in capsys.readouterr().out


def test_purge_removes_only_what_is_past_retention(
    warehouse: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    dsn, _ = warehouse
    count = "select count(*) from raw.penalty where decision_number = %s"
    dry = governance.purge_expired(NIGHT_2, dsn=dsn, dry_run=True)
    derived = [("intermediate.int_credit_record__lifecycle", 2), ("intermediate.int_night__changed_records", 2),
               ("intermediate.int_night__status_calendar", 2), ("intermediate.int_penalty__records", 2)]
    assert [(c.table_name, c.rows_purged) for c in dry] == [("raw.penalty", 2), *derived]
    assert rows(dsn, count, "宁市监罚〔2015〕1号") == [(1,)]  # dry run deleted nothing
    assert rows(dsn, "select count(*) from governance.purge_audit") == [(0,)]

    purged = governance.purge_expired(NIGHT_2, dsn=dsn)
    assert [(c.table_name, c.rows_purged) for c in purged] == [("raw.penalty", 2), *derived]
    assert rows(dsn, count, "宁市监罚〔2015〕1号") == [(0,)]
    assert rows(dsn, count, "宁市监罚〔2020〕5号") == [(0,)]
    assert rows(dsn, "select count(*) from intermediate.int_penalty__records where record_id = %s", OLD) == [(0,)]
    audit = rows(dsn, "select table_name, rows_purged, detail->'record_ids' from governance.purge_audit"
                      " order by purge_id")
    purged_ids = sorted([OLD, RETAINED_UNTIL_NOV_10])
    assert audit == [("raw.penalty", 2, purged_ids), *[(t, n, purged_ids) for t, n in derived]]

    # far in the future everything that has ended goes, with the person's clear ID and the quarantine
    monkeypatch.setenv("WAREHOUSE_DSN", dsn)
    assert cli.main(["purge", "--as-of", "2040-01-01"]) == 0
    tables = dict(rows(dsn, "select table_name, rows_purged from governance.purge_audit where purge_id > 1"))
    assert tables["restricted.person_identity"] == 1
    assert tables["quality.rejected_rows"] == 1
    assert tables["raw.judicial_listing"] == 1  # the removed listing; the open one is kept
    assert rows(dsn, "select count(*) from restricted.person_identity") == [(0,)]
    assert rows(dsn, "select count(*) from raw.judicial_listing where removed_on is null") == [(1,)]
    assert rows(dsn, "select count(*) from raw.registration") == [(5,)]  # nobody deregistered


def test_a_case_runs_from_intake_to_feedback_and_keeps_every_step(warehouse: tuple[str, list[str]]) -> None:
    dsn, _ = warehouse
    case_id = governance.open_objection(DISHONEST, "steward1", "已全部履行", applicant="南京甲科技有限公司",
                                        materials_ref="OBJ-2026-0042", received_on=date(2026, 11, 2), dsn=dsn)
    with pytest.raises(GovernanceError, match="feedback follows the decision"):
        governance.send_feedback(case_id, "steward1", None, "函〔2026〕1号", dsn=dsn)
    governance.accept_case(case_id, "steward1", date(2026, 11, 9), dsn=dsn)
    with pytest.raises(GovernanceError, match="only a received case can be accepted"):
        governance.accept_case(case_id, "steward1", date(2026, 11, 9), dsn=dsn)
    governance.resolve_objection(case_id, "rejected", "authority1", "仍未履行", on=date(2026, 11, 12), dsn=dsn)
    governance.send_feedback(case_id, "steward1", "南京市玄武区人民法院", "函〔2026〕1号", date(2026, 11, 13), dsn=dsn)
    case, events = governance.case_history(case_id, dsn=dsn)
    assert (case["state"], case["decision"], case["applicant"], case["materials_ref"]) == (
        "closed", "rejected", "南京甲科技有限公司", "OBJ-2026-0042")
    assert [(e["event"], e["occurred_on"]) for e in events] == [
        ("accepted", date(2026, 11, 9)), ("decided", date(2026, 11, 12)), ("feedback_sent", date(2026, 11, 13))]


def test_a_repair_case_refused_at_intake_or_by_the_authority(warehouse: tuple[str, list[str]]) -> None:
    dsn, _ = warehouse
    with pytest.raises(GovernanceError, match="allows no credit repair"):
        governance.apply_repair(DISHONEST, "steward1", "履行完毕", dsn=dsn)
    case_id = governance.apply_repair(SERIOUS_PENALTY, "steward1", "已整改", applicant="南京甲科技有限公司", dsn=dsn)
    governance.refuse_case(case_id, "steward1", "材料不全", dsn=dsn)
    with pytest.raises(GovernanceError, match="already decided"):
        governance.refuse_repair(case_id, "authority1", "x", dsn=dsn)
    assert governance.case_history(case_id, dsn=dsn)[0]["decision"] == "not_accepted"


def test_the_audit_trail_cannot_be_rewritten(warehouse: tuple[str, list[str]]) -> None:
    """Decisions are new rows: grants refuse update/delete to the steward, triggers to everyone."""
    dsn, _ = warehouse
    tables = ["governance.case_intake", "governance.case_event", "governance.purge_audit",
              "governance.schema_migration", "governance.person_lookup", "quality.publication"]
    with psycopg.connect(dsn, autocommit=True) as conn:
        for table in tables:
            for statement in (f"update {table} set {_plain_column(conn, table)} = {_plain_column(conn, table)}",
                              f"delete from {table}", f"truncate {table} cascade"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                    conn.execute(statement)  # as the administrator: the trigger refuses
        conn.execute("set role steward")
        for statement in ("update governance.case_event set reasons = 'x'", "delete from governance.case_intake"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
                conn.execute(statement)


def _plain_column(conn: psycopg.Connection, table: str) -> str:
    schema, name = table.split(".")
    return conn.execute("select column_name from information_schema.columns where table_schema = %s"
                        " and table_name = %s and is_identity = 'NO' order by ordinal_position limit 1",
                        (schema, name)).fetchone()[0]


def test_the_report_lists_cases_near_or_past_their_deadline(
    warehouse: tuple[str, list[str]], tmp_path: Path
) -> None:
    dsn, flags = warehouse
    late = governance.apply_repair(SERIOUS_PENALTY, "steward1", "已整改", received_on=date(2026, 10, 30), dsn=dsn)
    soon = governance.open_objection(EXPIRED, "steward1", "身份有误", received_on=date(2026, 11, 9), dsn=dsn)
    later = governance.open_objection(WARNING_ONLY, "steward1", "异议", received_on=date(2026, 11, 20), dsn=dsn)
    run_dbt(["build", *flags, "--select", "stg_governance__cases", "case_deadlines",
             "--vars", f"{{as_of_date: '{NIGHT_2}'}}"], dsn=dsn)
    listed = rows(dsn, "select case_id, deadline_state, due_on from marts_candidate.case_deadlines"
                       " where case_id in (%s, %s, %s)", late, soon, later)
    # 10 working days: from Fri 30 Oct to Fri 13 Nov; from Mon 9 Nov to Mon 23 Nov; from Fri 20 Nov
    assert sorted(listed) == [(late, "overdue", date(2026, 11, 13)), (soon, "due_soon", date(2026, 11, 23)),
                              (later, "on_time", date(2026, 12, 4))]
    html = render_report(tmp_path, NIGHT_2, dsn=dsn).read_text(encoding="utf-8")
    section = html[html.index('id="deadlines"'):html.index('id="alerts"')]
    assert f"<td>{late}</td>" in section and f"<td>{soon}</td>" in section
    assert f"<td>{later}</td>" not in section
